//! Transfer functions: declarative glue applied on a link when its data is delivered to the consumer.
//!
//! In an experiment file a link may carry `transfer = { kind = "...", ... }`:
//!
//! ```toml
//! transfer = { kind = "spike_rate", filter = "window", window_ms = 50, per = "population" }
//! transfer = { kind = "spike_rate", filter = "exponential", tau_ms = 20 }
//! transfer = { kind = "poisson", scale_hz = 100, neurons_per_channel = 20, resolution_ms = 0.1 }
//! transfer = { kind = "linear", gain = [2, -1, 0.5], offset = 0, min = 0, max = 1 }
//! transfer = { kind = "population_vector", filter = "window", window_ms = 100 }
//! transfer = { kind = "threshold", threshold = 0.5, channel = 2, direction = "both" }
//! ```
//!
//! The kinds, their equations and parameters are documented on [`TransferSpec`] (and in
//! `docs/transfer_functions.md`); [`TransferSpec::output_kind`] checks a spec against the producer's port
//! and tells what the consumer receives; [`Transfer`] is the running, stateful form.
//!
//! Timing: the coordinator calls [`Transfer::apply`] once per consumer step `[t_start, t_end)` (ms).
//! Spike inputs arrive as the batch of everything produced since the previous delivery (spike times
//! `< t_start`); analog and scalar inputs as the latest value. Rate estimates are evaluated at `t_start`;
//! generated spikes lie inside `[t_start, t_end)`.
//!
//! ```
//! use neuroloop_core::payload::{Payload, SpikeBatch};
//! use neuroloop_core::port::PortKind;
//! use neuroloop_core::transfer::{Transfer, TransferSpec};
//!
//! let spec: TransferSpec =
//!     toml::from_str(r#"kind = "spike_rate"
//!                       filter = "window"
//!                       window_ms = 50
//!                       per = "population""#).unwrap();
//! let input = PortKind::Spikes { size: 2 };
//! let mut tf = Transfer::new(&spec, &input, 0).unwrap();
//! assert_eq!(tf.output_kind(), &PortKind::analog(&[("rate", "Hz")]));
//!
//! let mut out = Payload::empty_for(tf.output_kind());
//! let batch = SpikeBatch { neuron: vec![0, 1, 0], time_ms: vec![10.0, 20.0, 30.0] };
//! tf.apply(&Payload::Spikes(batch), 50.0, 60.0, &mut out);
//! // 3 spikes of 2 neurons in 50 ms: (2 + 1) / 2 / 0.05 s = 30 Hz.
//! assert_eq!(out, Payload::Analog(vec![30.0]));
//! ```

mod poisson;
mod rate;
mod raw;
#[cfg(test)]
mod tests;

use serde::Deserialize;

use crate::payload::Payload;
use crate::port::{Channel, PortKind, PortType};
use poisson::PoissonGen;
use rate::RateEstimator;

/// Whether a spike-rate estimate is per neuron or for the whole population.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RatePer {
    /// One rate per neuron (analog vector of the population's size, channels `n0`..`n{N-1}`).
    #[default]
    Neuron,
    /// One rate for the population: mean over its neurons (analog vector of length 1, channel `rate`).
    Population,
}

/// How spikes become a rate. Rates are in Hz, evaluated at the start `t` of the consumer's step from
/// the spikes with times `t_k < t`.
///
/// In a file the filter is given by the `filter` key next to its parameter:
/// `filter = "window", window_ms = 50` or `filter = "exponential", tau_ms = 20`.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(tag = "filter", rename_all = "lowercase", deny_unknown_fields)]
pub enum RateFilter {
    /// Spikes in the last `window_ms` divided by the window:
    /// r(t) = #{k : t - w <= t_k < t} / w * 1000 Hz (w in ms).
    Window {
        /// Window length in ms (> 0).
        window_ms: f64,
    },
    /// Exponential filter: each spike adds 1/tau, the trace decays with tau:
    /// r(t) = sum_{k : t_k < t} exp(-(t - t_k)/tau) / tau * 1000 Hz (tau in ms). Exact: each spike decays
    /// from its own time, not from the time of the batch it came in.
    Exponential {
        /// Time constant in ms (> 0).
        tau_ms: f64,
    },
}

/// A scalar or one value per channel.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PerChannel {
    /// The same value for every channel.
    All(f64),
    /// One value per channel (length must match).
    Each(Vec<f64>),
}

impl PerChannel {
    /// The values for `n` channels, or an error naming `what` if the length does not fit or a value is
    /// not finite.
    fn expand(&self, n: usize, what: &str, kind: &str) -> Result<Vec<f64>, String> {
        let v = match self {
            PerChannel::All(x) => vec![*x; n],
            PerChannel::Each(v) if v.len() == n => v.clone(),
            PerChannel::Each(v) => {
                return Err(format!(
                    "{kind}: `{what}` has {} values, the input has {n} channels",
                    v.len()
                ))
            }
        };
        if v.iter().any(|x| !x.is_finite()) {
            return Err(format!("{kind}: `{what}` must be finite"));
        }
        Ok(v)
    }
}

/// The transfer functions an experiment file can put on a link.
///
/// Unknown keys are refused (the error names the key). Each kind accepts only some input port types;
/// [`TransferSpec::output_kind`] checks the input and gives the port kind the consumer receives.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "raw::RawSpec")]
pub enum TransferSpec {
    /// spikes(N) -> analog rate in Hz, per neuron (channels `n0`..`n{N-1}`) or per population (one
    /// channel `rate`, the mean of the N per-neuron rates), all in unit `Hz`. See [`RateFilter`] for the
    /// equations.
    SpikeRate {
        /// The filter (`filter = "window"` with `window_ms`, or `"exponential"` with `tau_ms`).
        filter: RateFilter,
        /// `"neuron"` (default) or `"population"`.
        per: RatePer,
    },
    /// analog[C] or scalar (C = 1) -> spikes(C * `neurons_per_channel`), seeded: output neuron j is
    /// driven by channel c = j / `neurons_per_channel` and fires with rate λ_j = max(0, x_c * scale_hz)
    /// Hz. In a step [t_start, t_end) of length T ms each neuron fires n_j ~ Poisson(λ_j * T / 1000)
    /// spikes, each on a uniformly drawn point of the grid k * `resolution_ms` inside the step; the batch
    /// is sorted by (time, neuron).
    Poisson {
        /// Rate in Hz per unit of input (default 1: the input already is a rate in Hz).
        scale_hz: f64,
        /// Neurons driven by each input channel (default 1, at least 1).
        neurons_per_channel: u32,
        /// Grid of spike times in ms (default 0.1, NEST's default resolution).
        resolution_ms: f64,
    },
    /// analog -> analog, scalar -> scalar: y_i = clip(gain_i * x_i + offset_i, min, max), per element.
    /// Channel names are kept; the unit is `unit` or else the input's.
    Linear {
        /// Gain (scalar or per channel; default 1).
        gain: PerChannel,
        /// Offset (scalar or per channel; default 0).
        offset: PerChannel,
        /// Lower clip (default none).
        min: Option<f64>,
        /// Upper clip (default none).
        max: Option<f64>,
        /// Unit of the output channels (default: the input's units).
        unit: Option<String>,
    },
    /// spikes(N) -> analog[D] population vector (Georgopoulos 1986): v = sum_i r_i d_i / sum_i r_i, zero
    /// when no neuron fires, with r_i the neuron's rate from `filter` and d_i its preferred direction.
    /// Channels `x`, `y`, then `d2`, `d3`, ... in unit `1`.
    PopulationVector {
        /// The rate filter.
        filter: RateFilter,
        /// Preferred direction of each neuron (one row per neuron, all rows the same length D >= 1). When
        /// left out, neuron i of N prefers the 2-D unit vector at angle 2*pi*i/N.
        preferred: Option<Vec<Vec<f64>>>,
    },
    /// analog or scalar -> scalar event (unit `1`): 1.0 in the step where channel `channel` crossed
    /// `threshold` in the given direction since the previous step, 0.0 otherwise. Rising: prev <
    /// threshold <= now; falling: prev >= threshold > now. The first step has no previous value and
    /// never gives an event.
    Threshold {
        /// The threshold (finite).
        threshold: f64,
        /// Which element of an analog input (default 0; ignored for scalars).
        channel: usize,
        /// `"rising"` (default), `"falling"` or `"both"`.
        direction: Crossing,
    },
}

/// Which threshold crossings count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Crossing {
    /// From below to at-or-above.
    #[default]
    Rising,
    /// From at-or-above to below.
    Falling,
    /// Either.
    Both,
}

impl Crossing {
    /// Whether going from `prev` to `now` crosses `threshold` in this direction.
    pub fn crossed(self, prev: f64, now: f64, threshold: f64) -> bool {
        let rising = prev < threshold && threshold <= now;
        let falling = prev >= threshold && threshold > now;
        match self {
            Crossing::Rising => rising,
            Crossing::Falling => falling,
            Crossing::Both => rising || falling,
        }
    }
}

fn one() -> f64 {
    1.0
}
fn one_u32() -> u32 {
    1
}
fn point_one() -> f64 {
    0.1
}
fn one_all() -> PerChannel {
    PerChannel::All(1.0)
}
fn zero_all() -> PerChannel {
    PerChannel::All(0.0)
}

/// Checks that a filter's parameter is finite and positive.
fn check_filter(kind: &str, filter: &RateFilter) -> Result<(), String> {
    let (name, value) = match *filter {
        RateFilter::Window { window_ms } => ("window_ms", window_ms),
        RateFilter::Exponential { tau_ms } => ("tau_ms", tau_ms),
    };
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(format!(
            "{kind}: `{name}` must be positive and finite, got {value}"
        ))
    }
}

/// The population size of a spikes input, or the error for another input.
fn spikes_input(kind: &str, input: &PortKind) -> Result<usize, String> {
    match input {
        PortKind::Spikes { size: 0 } => {
            Err(format!("{kind} needs a population of at least one neuron"))
        }
        PortKind::Spikes { size } => Ok(*size as usize),
        other => Err(format!(
            "{kind} needs a spikes input, got {}",
            other.describe()
        )),
    }
}

/// The channel count of an analog or scalar input (scalar = 1 channel), or the error for another input.
fn value_input(kind: &str, input: &PortKind) -> Result<usize, String> {
    match input {
        PortKind::Analog { channels } => Ok(channels.len()),
        PortKind::Scalar { .. } => Ok(1),
        other => Err(format!(
            "{kind} needs an analog or scalar input, got {}",
            other.describe()
        )),
    }
}

/// The preferred directions of a population-vector transfer, flattened row by row, and their dimension.
fn preferred_directions(
    preferred: Option<&[Vec<f64>]>,
    n: usize,
) -> Result<(Vec<f64>, usize), String> {
    let Some(rows) = preferred else {
        let dirs = (0..n)
            .flat_map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                [a.cos(), a.sin()]
            })
            .collect();
        return Ok((dirs, 2));
    };
    if rows.len() != n {
        return Err(format!(
            "population_vector: `preferred` has {} rows, the population has {n} neurons",
            rows.len()
        ));
    }
    let dim = rows.first().map_or(0, Vec::len);
    if dim == 0 {
        return Err(
            "population_vector: preferred directions must have at least one component".into(),
        );
    }
    if let Some(i) = rows.iter().position(|r| r.len() != dim) {
        return Err(format!(
            "population_vector: preferred direction {i} has {} components, row 0 has {dim}",
            rows[i].len()
        ));
    }
    if rows.iter().flatten().any(|x| !x.is_finite()) {
        return Err("population_vector: preferred directions must be finite".into());
    }
    Ok((rows.concat(), dim))
}

/// Name of component `i` of a population vector: `x`, `y`, then `d2`, `d3`, ...
fn component_name(i: usize) -> String {
    match i {
        0 => "x".into(),
        1 => "y".into(),
        _ => format!("d{i}"),
    }
}

impl TransferSpec {
    /// The `kind` of the spec as written in files (`"spike_rate"`, `"poisson"`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            TransferSpec::SpikeRate { .. } => "spike_rate",
            TransferSpec::Poisson { .. } => "poisson",
            TransferSpec::Linear { .. } => "linear",
            TransferSpec::PopulationVector { .. } => "population_vector",
            TransferSpec::Threshold { .. } => "threshold",
        }
    }

    /// The port kind this transfer delivers for an input of kind `input`, or an error text if the input
    /// type or shape, or a parameter, does not fit (e.g. `"spike_rate needs a spikes input, got
    /// analog[3]"`).
    ///
    /// | kind | input | output |
    /// |---|---|---|
    /// | `spike_rate` | spikes(N) | analog `n0`..`n{N-1}` (or `rate`), unit `Hz` |
    /// | `poisson` | analog[C] or scalar (C = 1) | spikes(C * neurons_per_channel) |
    /// | `linear` | analog[C] / scalar | same channel names, unit `unit` or the input's / scalar |
    /// | `population_vector` | spikes(N) | analog `x`, `y`, (`d2`, ...), unit `1` |
    /// | `threshold` | analog[C] or scalar | scalar, unit `1` |
    pub fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        let kind = self.kind_name();
        match self {
            TransferSpec::SpikeRate { filter, per } => {
                let n = spikes_input(kind, input)?;
                check_filter(kind, filter)?;
                let hz = |name: String| Channel {
                    name,
                    unit: "Hz".into(),
                };
                let channels = match per {
                    RatePer::Neuron => (0..n).map(|i| hz(format!("n{i}"))).collect(),
                    RatePer::Population => vec![hz("rate".into())],
                };
                Ok(PortKind::Analog { channels })
            }
            TransferSpec::Poisson {
                scale_hz,
                neurons_per_channel,
                resolution_ms,
            } => {
                let c = value_input(kind, input)?;
                if c == 0 {
                    return Err("poisson needs at least one input channel".into());
                }
                if !scale_hz.is_finite() {
                    return Err(format!(
                        "poisson: `scale_hz` must be finite, got {scale_hz}"
                    ));
                }
                if *neurons_per_channel == 0 {
                    return Err("poisson: `neurons_per_channel` must be at least 1".into());
                }
                if !(resolution_ms.is_finite() && *resolution_ms > 0.0) {
                    return Err(format!(
                        "poisson: `resolution_ms` must be positive and finite, got {resolution_ms}"
                    ));
                }
                let size = u32::try_from(c)
                    .ok()
                    .and_then(|c| c.checked_mul(*neurons_per_channel))
                    .ok_or_else(|| {
                        format!("poisson: {c} channels x {neurons_per_channel} neurons does not fit in a population")
                    })?;
                Ok(PortKind::Spikes { size })
            }
            TransferSpec::Linear {
                gain,
                offset,
                min,
                max,
                unit,
            } => {
                let c = value_input(kind, input)?;
                gain.expand(c, "gain", kind)?;
                offset.expand(c, "offset", kind)?;
                if min.is_some_and(f64::is_nan) || max.is_some_and(f64::is_nan) {
                    return Err("linear: `min` and `max` must be numbers".into());
                }
                if let (Some(lo), Some(hi)) = (min, max) {
                    if lo > hi {
                        return Err(format!("linear: `min` ({lo}) is above `max` ({hi})"));
                    }
                }
                Ok(match input {
                    PortKind::Scalar { unit: u } => PortKind::Scalar {
                        unit: unit.clone().unwrap_or_else(|| u.clone()),
                    },
                    PortKind::Analog { channels } => PortKind::Analog {
                        channels: channels
                            .iter()
                            .map(|ch| Channel {
                                name: ch.name.clone(),
                                unit: unit.clone().unwrap_or_else(|| ch.unit.clone()),
                            })
                            .collect(),
                    },
                    _ => unreachable!("value_input accepted only analog and scalar"),
                })
            }
            TransferSpec::PopulationVector { filter, preferred } => {
                let n = spikes_input(kind, input)?;
                check_filter(kind, filter)?;
                let (_, dim) = preferred_directions(preferred.as_deref(), n)?;
                Ok(PortKind::Analog {
                    channels: (0..dim)
                        .map(|i| Channel {
                            name: component_name(i),
                            unit: "1".into(),
                        })
                        .collect(),
                })
            }
            TransferSpec::Threshold {
                threshold, channel, ..
            } => {
                let c = value_input(kind, input)?;
                if !threshold.is_finite() {
                    return Err(format!(
                        "threshold: `threshold` must be finite, got {threshold}"
                    ));
                }
                if input.port_type() == PortType::Analog && *channel >= c {
                    return Err(format!(
                        "threshold: channel {channel} is out of range for {}",
                        input.describe()
                    ));
                }
                Ok(PortKind::Scalar { unit: "1".into() })
            }
        }
    }
}

/// The running form of a transfer function on one link, with its state.
///
/// Created by [`Transfer::new`] from a [`TransferSpec`] and the producer's port kind, then
/// [`apply`](Transfer::apply)'d once per consumer step. Deterministic: the same seed and the same
/// sequence of calls give the same outputs; [`reset`](Transfer::reset) goes back to t = 0.
#[derive(Clone, Debug)]
pub struct Transfer {
    spec: TransferSpec,
    input: PortKind,
    output: PortKind,
    state: State,
}

/// Per-kind state.
#[derive(Clone, Debug)]
enum State {
    SpikeRate {
        est: RateEstimator,
        per: RatePer,
        /// Scratch: per-neuron rates.
        rates: Vec<f64>,
    },
    Poisson {
        generator: PoissonGen,
        channels: usize,
    },
    Linear {
        gain: Vec<f64>,
        offset: Vec<f64>,
        min: f64,
        max: f64,
    },
    PopulationVector {
        est: RateEstimator,
        /// Scratch: per-neuron rates.
        rates: Vec<f64>,
        /// Preferred directions, row by row.
        dirs: Vec<f64>,
        dim: usize,
    },
    Threshold {
        threshold: f64,
        channel: usize,
        direction: Crossing,
        prev: Option<f64>,
    },
}

/// Makes `out` an analog vector of length `n` (reusing its allocation when it is one) and returns it.
fn analog_out(out: &mut Payload, n: usize) -> &mut Vec<f64> {
    if !matches!(out, Payload::Analog(_)) {
        *out = Payload::Analog(vec![0.0; n]);
    }
    match out {
        Payload::Analog(v) => {
            v.resize(n, 0.0);
            v
        }
        _ => unreachable!("out was just made analog"),
    }
}

impl Transfer {
    /// The running transfer for `spec` on a link whose producer port has kind `input`, or the error of
    /// [`TransferSpec::output_kind`]. `seed` seeds the Poisson generator (a PCG-64 stream); other kinds
    /// ignore it.
    pub fn new(spec: &TransferSpec, input: &PortKind, seed: u64) -> Result<Transfer, String> {
        let output = spec.output_kind(input)?;
        let state = match spec {
            TransferSpec::SpikeRate { filter, per } => {
                let n = spikes_input(spec.kind_name(), input)?;
                State::SpikeRate {
                    est: RateEstimator::new(filter, n),
                    per: *per,
                    rates: vec![0.0; n],
                }
            }
            TransferSpec::Poisson {
                scale_hz,
                neurons_per_channel,
                resolution_ms,
            } => State::Poisson {
                generator: PoissonGen::new(seed, *scale_hz, *neurons_per_channel, *resolution_ms),
                channels: value_input(spec.kind_name(), input)?,
            },
            TransferSpec::Linear {
                gain,
                offset,
                min,
                max,
                ..
            } => {
                let c = value_input(spec.kind_name(), input)?;
                State::Linear {
                    gain: gain.expand(c, "gain", spec.kind_name())?,
                    offset: offset.expand(c, "offset", spec.kind_name())?,
                    min: min.unwrap_or(f64::NEG_INFINITY),
                    max: max.unwrap_or(f64::INFINITY),
                }
            }
            TransferSpec::PopulationVector { filter, preferred } => {
                let n = spikes_input(spec.kind_name(), input)?;
                let (dirs, dim) = preferred_directions(preferred.as_deref(), n)?;
                State::PopulationVector {
                    est: RateEstimator::new(filter, n),
                    rates: vec![0.0; n],
                    dirs,
                    dim,
                }
            }
            TransferSpec::Threshold {
                threshold,
                channel,
                direction,
            } => State::Threshold {
                threshold: *threshold,
                channel: if input.port_type() == PortType::Scalar {
                    0
                } else {
                    *channel
                },
                direction: *direction,
                prev: None,
            },
        };
        Ok(Transfer {
            spec: spec.clone(),
            input: input.clone(),
            output,
            state,
        })
    }

    /// The spec this transfer was made from.
    pub fn spec(&self) -> &TransferSpec {
        &self.spec
    }

    /// The producer's port kind this transfer reads.
    pub fn input_kind(&self) -> &PortKind {
        &self.input
    }

    /// The port kind this transfer delivers to the consumer.
    pub fn output_kind(&self) -> &PortKind {
        &self.output
    }

    /// Called once per consumer step with what the link delivers for the consumer's step
    /// `[t_start_ms, t_end_ms)`: for spike inputs, the batch of everything produced since the previous
    /// delivery (spike times `< t_start_ms`); for analog and scalar inputs, the latest value. Writes the
    /// result into `out`, reusing its allocation (`out` starts as
    /// [`Payload::empty_for`]`(output_kind)` and keeps its previous content between calls).
    ///
    /// Rates are evaluated at `t_start_ms`; generated spikes lie in `[t_start_ms, t_end_ms)`. Spikes of
    /// neurons outside the population or with non-finite times are ignored. A payload whose type or
    /// length does not fit the input kind leaves `out` and the state unchanged (the caller checks
    /// types). Never panics.
    pub fn apply(&mut self, input: &Payload, t_start_ms: f64, t_end_ms: f64, out: &mut Payload) {
        if input.port_type() != self.input.port_type() {
            return;
        }
        match &mut self.state {
            State::SpikeRate { est, per, rates } => {
                let Payload::Spikes(batch) = input else {
                    return;
                };
                est.update(batch, t_start_ms, rates);
                match per {
                    RatePer::Neuron => analog_out(out, rates.len()).copy_from_slice(rates),
                    RatePer::Population => {
                        let mean = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
                        analog_out(out, 1)[0] = mean;
                    }
                }
            }
            State::Poisson {
                generator,
                channels,
            } => {
                let x: &[f64] = match input {
                    Payload::Analog(v) if v.len() == *channels => v,
                    Payload::Scalar(v) => std::slice::from_ref(v),
                    _ => return,
                };
                if !matches!(out, Payload::Spikes(_)) {
                    *out = Payload::Spikes(Default::default());
                }
                if let Payload::Spikes(batch) = out {
                    generator.generate(x, t_start_ms, t_end_ms, batch);
                }
            }
            State::Linear {
                gain,
                offset,
                min,
                max,
            } => {
                let clip = |y: f64| {
                    if y < *min {
                        *min
                    } else if y > *max {
                        *max
                    } else {
                        y
                    }
                };
                match input {
                    Payload::Scalar(x) => *out = Payload::Scalar(clip(gain[0] * x + offset[0])),
                    Payload::Analog(x) if x.len() == gain.len() => {
                        let y = analog_out(out, x.len());
                        for (i, yi) in y.iter_mut().enumerate() {
                            *yi = clip(gain[i] * x[i] + offset[i]);
                        }
                    }
                    _ => {}
                }
            }
            State::PopulationVector {
                est,
                rates,
                dirs,
                dim,
            } => {
                let Payload::Spikes(batch) = input else {
                    return;
                };
                est.update(batch, t_start_ms, rates);
                let v = analog_out(out, *dim);
                v.fill(0.0);
                let total: f64 = rates.iter().sum();
                if total > 0.0 && total.is_finite() {
                    for (r, d) in rates.iter().zip(dirs.chunks_exact(*dim)) {
                        for (vk, dk) in v.iter_mut().zip(d) {
                            *vk += r * dk;
                        }
                    }
                    v.iter_mut().for_each(|vk| *vk /= total);
                }
            }
            State::Threshold {
                threshold,
                channel,
                direction,
                prev,
            } => {
                let now = match input {
                    Payload::Scalar(x) => *x,
                    Payload::Analog(v) => match v.get(*channel) {
                        Some(x) => *x,
                        None => return,
                    },
                    _ => return,
                };
                let event = prev.is_some_and(|p| direction.crossed(p, now, *threshold));
                *prev = Some(now);
                *out = Payload::Scalar(if event { 1.0 } else { 0.0 });
            }
        }
    }

    /// Back to the state at t = 0: no spike seen, no previous value, the Poisson stream restarted from
    /// its seed (so the same calls give the same outputs again).
    pub fn reset(&mut self) {
        match &mut self.state {
            State::SpikeRate { est, .. } | State::PopulationVector { est, .. } => est.reset(),
            State::Poisson { generator, .. } => generator.reset(),
            State::Linear { .. } => {}
            State::Threshold { prev, .. } => *prev = None,
        }
    }
}
