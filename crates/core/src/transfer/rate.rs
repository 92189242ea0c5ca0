//! Spike-rate estimation shared by `spike_rate`, `group_rate` and `population_vector`: the filters,
//! their file syntax (`filter = "window", window_ms = ...` or `filter = "exponential", tau_ms = ...`)
//! and the running estimator.

use serde::Deserialize;

use crate::payload::SpikeBatch;

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

/// The filter names of the file syntax. A kind's file struct lists `filter`, `window_ms` and `tau_ms`
/// as its own keys (serde's `flatten` cannot be combined with `deny_unknown_fields`) and builds the
/// filter with [`filter_from`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum FilterName {
    Window,
    Exponential,
}

/// Builds the filter from `filter` and its parameter; the other filter's parameter is refused.
pub(super) fn filter_from(
    kind: &str,
    name: FilterName,
    window_ms: Option<f64>,
    tau_ms: Option<f64>,
) -> Result<RateFilter, String> {
    match (name, window_ms, tau_ms) {
        (FilterName::Window, Some(window_ms), None) => Ok(RateFilter::Window { window_ms }),
        (FilterName::Exponential, None, Some(tau_ms)) => Ok(RateFilter::Exponential { tau_ms }),
        (FilterName::Window, _, Some(_)) => Err(format!(
            "{kind}: `tau_ms` does not apply to filter = \"window\" (it takes `window_ms`)"
        )),
        (FilterName::Exponential, Some(_), _) => Err(format!(
            "{kind}: `window_ms` does not apply to filter = \"exponential\" (it takes `tau_ms`)"
        )),
        (FilterName::Window, None, None) => {
            Err(format!("{kind}: filter = \"window\" needs `window_ms`"))
        }
        (FilterName::Exponential, None, None) => {
            Err(format!("{kind}: filter = \"exponential\" needs `tau_ms`"))
        }
    }
}

/// Checks that a filter's parameter is finite and positive.
pub(super) fn check_filter(kind: &str, filter: &RateFilter) -> Result<(), String> {
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

/// Per-neuron firing-rate estimate of one population, in Hz, evaluated at the start of each consumer
/// step.
#[derive(Clone, Debug)]
pub(super) enum RateEstimator {
    /// r_i(t) = #{k : n_k = i, t - w <= t_k < t} / w * 1000.
    Window {
        /// Window length w in ms.
        window_ms: f64,
        /// Population size.
        size: usize,
        /// (time, neuron) of every spike that may still fall inside a window: older ones are dropped.
        history: Vec<(f64, u32)>,
    },
    /// r_i(t) = sum over spikes k of neuron i with t_k < t of exp(-(t - t_k)/tau) / tau * 1000.
    Exponential {
        /// Time constant tau in ms.
        tau_ms: f64,
        /// The trace of each neuron (Hz) at `t_ref`.
        trace: Vec<f64>,
        /// The time `trace` refers to (ms); minus infinity before the first call.
        t_ref: f64,
        /// Spikes delivered with a time at or after the evaluation time: added once time has passed them.
        pending: Vec<(f64, u32)>,
    },
}

impl RateEstimator {
    /// A fresh estimator for a population of `size` neurons.
    pub(super) fn new(filter: &RateFilter, size: usize) -> Self {
        match *filter {
            RateFilter::Window { window_ms } => RateEstimator::Window {
                window_ms,
                size,
                history: Vec::new(),
            },
            RateFilter::Exponential { tau_ms } => RateEstimator::Exponential {
                tau_ms,
                trace: vec![0.0; size],
                t_ref: f64::NEG_INFINITY,
                pending: Vec::new(),
            },
        }
    }

    /// Back to the state at t = 0: no spike seen.
    pub(super) fn reset(&mut self) {
        match self {
            RateEstimator::Window { history, .. } => history.clear(),
            RateEstimator::Exponential {
                trace,
                t_ref,
                pending,
                ..
            } => {
                trace.fill(0.0);
                *t_ref = f64::NEG_INFINITY;
                pending.clear();
            }
        }
    }

    /// Takes in the spikes of `batch` and writes the rate of each neuron at `t_ms` into `rates` (whose
    /// length is the population size). Spikes of neurons outside the population or with a non-finite
    /// time are ignored.
    pub(super) fn update(&mut self, batch: &SpikeBatch, t_ms: f64, rates: &mut [f64]) {
        let valid = |n: u32, t: f64, size: usize| (n as usize) < size && t.is_finite();
        let spikes = batch
            .neuron
            .iter()
            .copied()
            .zip(batch.time_ms.iter().copied());
        match self {
            RateEstimator::Window {
                window_ms,
                size,
                history,
            } => {
                let size = *size;
                history.extend(
                    spikes
                        .filter(|&(n, t)| valid(n, t, size))
                        .map(|(n, t)| (t, n)),
                );
                let lo = t_ms - *window_ms;
                history.retain(|&(t, _)| t >= lo);
                rates.fill(0.0);
                for &(t, n) in history.iter() {
                    if t < t_ms {
                        if let Some(r) = rates.get_mut(n as usize) {
                            *r += 1.0;
                        }
                    }
                }
                let per_spike = 1000.0 / *window_ms;
                rates.iter_mut().for_each(|r| *r *= per_spike);
            }
            RateEstimator::Exponential {
                tau_ms,
                trace,
                t_ref,
                pending,
            } => {
                let size = trace.len();
                pending.extend(
                    spikes
                        .filter(|&(n, t)| valid(n, t, size))
                        .map(|(n, t)| (t, n)),
                );
                // Time never runs backwards for the trace (a NaN t_ms is ignored by `max`).
                let t_now = t_ms.max(*t_ref);
                if t_now > *t_ref {
                    let decay = (-(t_now - *t_ref) / *tau_ms).exp();
                    trace.iter_mut().for_each(|x| *x *= decay);
                    *t_ref = t_now;
                }
                let tau = *tau_ms;
                pending.retain(|&(t, n)| {
                    if t < t_now {
                        if let Some(x) = trace.get_mut(n as usize) {
                            *x += (-(t_now - t) / tau).exp() / tau * 1000.0;
                        }
                        false
                    } else {
                        true
                    }
                });
                for (r, x) in rates.iter_mut().zip(trace.iter()) {
                    *r = *x;
                }
            }
        }
    }
}
