//! Transfer functions: declarative glue applied on a link when its data is delivered to the consumer.
//!
//! In an experiment file a link may carry `transfer = { kind = "...", ... }`, or a list of such tables
//! applied in order (a chain: the output of step k is the input of step k + 1):
//!
//! ```toml
//! transfer = { kind = "spike_rate", filter = "window", window_ms = 50, per = "population" }
//! transfer = { kind = "poisson", scale_hz = 100, offset_hz = 5, neurons_per_channel = 20 }
//! transfer = [
//!     { kind = "group_rate", groups = { size = 50 }, filter = "window", window_ms = 50 },
//!     { kind = "linear", gain = 0.02, min = 0, max = 1, unit = "1" },
//! ]
//! ```
//!
//! Each kind is defined once, in its own module: the struct that is its file syntax (serde, unknown
//! keys refused), its [`TransferKind`] implementation (the output-kind check and the construction of
//! its running state) and that running state. The table in [`transfer_kinds!`] below is the only list
//! of kinds; it generates [`TransferSpec`] (the file's `kind = "..."` dispatch).
//!
//! | kind | input | output |
//! |---|---|---|
//! | `spike_rate` | spikes(N) | analog `n0`..`n{N-1}` (or `rate`), unit `Hz` |
//! | `group_rate` | spikes(N) | analog, one channel per group (`g0`.. or `names`), unit `Hz` |
//! | `poisson` | analog[C] or scalar (C = 1) | spikes(C * neurons_per_channel) |
//! | `linear` | analog[C] / scalar | same channel names, unit `unit` or the input's / scalar |
//! | `affine` | analog[C] / scalar | analog[R], y = W x + b, unit `unit` (default `1`) |
//! | `select` | analog[C] / spikes(N) | analog[K] (chosen channels) / spikes(b - a) |
//! | `gaussian` | analog[C] or scalar (C = 1) | analog[C * count] `<name>_<k>`, unit `Hz` |
//! | `population_vector` | spikes(N) | analog `x`, `y`, (`d2`, ...), unit `1` |
//! | `threshold` | analog[C] or scalar | scalar, unit `1` |
//! | `in_range` | analog[C] or scalar | scalar, unit `1` (1 while a channel lies in `[min, max]`) |
//! | `events_to_spikes` | events(WxH) | spikes(P * ceil(W/px) * ceil(H/py)), P = 2 or 1 |
//!
//! Timing: the coordinator calls [`TransferChain::apply`] once per consumer step `[t_start, t_end)`
//! (ms). Spike and event inputs arrive as the batch of everything produced since the previous delivery
//! (times `< t_start`); analog and scalar inputs as the latest value. Rate estimates are evaluated at
//! `t_start`; generated spikes lie inside `[t_start, t_end)`. Every step of a chain is called with the
//! same window.
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

mod affine;
mod chain;
mod events_to_spikes;
mod gaussian;
mod group_rate;
mod in_range;
mod linear;
mod poisson;
mod population_vector;
mod rate;
mod select;
mod spike_rate;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kinds;
mod threshold;

use serde::Deserialize;

use crate::payload::Payload;
use crate::port::PortKind;

pub use affine::Affine;
pub use chain::{ChainError, TransferChain, TransferChainSpec};
pub use events_to_spikes::{EventsToSpikes, Polarity};
pub use gaussian::{Gaussian, Ranges};
pub use group_rate::{Group, GroupRate, Groups};
pub use in_range::InRange;
pub use linear::Linear;
pub use poisson::Poisson;
pub use population_vector::PopulationVector;
pub use rate::{RateFilter, RatePer};
pub use select::{ChannelRef, Select};
pub use spike_rate::SpikeRate;
pub use threshold::{Crossing, Threshold};

/// What a transfer kind provides. Implemented once per kind, by the struct that is the kind's file
/// syntax.
pub trait TransferKind {
    /// The port kind this transfer delivers for an input of kind `input`, or an error text if the input
    /// type or shape, or a parameter, does not fit (e.g. `"spike_rate needs a spikes input, got
    /// analog[3]"`).
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String>;

    /// The running state for an input of kind `input` (one that [`output_kind`](Self::output_kind)
    /// accepts). `seed` seeds the kind's random stream, if it has one.
    fn build(&self, input: &PortKind, seed: u64) -> Result<Box<dyn RunningTransfer>, String>;
}

/// The running, stateful part of a transfer kind on one link.
pub trait RunningTransfer: Send + std::fmt::Debug + CloneRunning {
    /// One consumer step `[t_start_ms, t_end_ms)`: reads `input` (of the input kind given to
    /// [`TransferKind::build`]; anything else leaves `out` unchanged) and writes into `out`, reusing its
    /// allocation. Never panics.
    fn apply(&mut self, input: &Payload, t_start_ms: f64, t_end_ms: f64, out: &mut Payload);

    /// Back to the state at t = 0 (random streams restart from their seed).
    fn reset(&mut self);
}

/// Cloning of boxed running transfers (implemented for every `Clone` running transfer).
pub trait CloneRunning {
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn RunningTransfer>;
}

impl<T: RunningTransfer + Clone + 'static> CloneRunning for T {
    fn clone_box(&self) -> Box<dyn RunningTransfer> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn RunningTransfer> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// The one table of transfer kinds: `Variant(module::Type) = "file name"`. Generates [`TransferSpec`],
/// its `kind` dispatch and [`KIND_NAMES`].
macro_rules! transfer_kinds {
    ($($(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal,)+) => {
        /// The transfer functions an experiment file can put on a link, one variant per kind, chosen by
        /// the table's `kind` key. Each kind's keys, defaults and equations are documented on its type.
        ///
        /// Unknown keys are refused (the error names the key). [`TransferSpec::output_kind`] checks the
        /// input and gives the port kind the consumer receives.
        #[derive(Clone, Debug, PartialEq, Deserialize)]
        #[serde(tag = "kind")]
        pub enum TransferSpec {
            $(
                $(#[$doc])*
                #[serde(rename = $name)]
                $variant($ty),
            )+
        }

        /// The `kind` names of every transfer, as written in files.
        pub const KIND_NAMES: &[&str] = &[$($name),+];

        impl TransferSpec {
            /// The `kind` of the spec as written in files (`"spike_rate"`, `"poisson"`, ...).
            pub fn kind_name(&self) -> &'static str {
                match self {
                    $(TransferSpec::$variant(_) => $name,)+
                }
            }

            /// The kind's implementation.
            pub fn kind(&self) -> &dyn TransferKind {
                match self {
                    $(TransferSpec::$variant(k) => k,)+
                }
            }
        }
    };
}

transfer_kinds! {
    /// spikes(N) -> per-neuron or population rate in Hz.
    SpikeRate(SpikeRate) = "spike_rate",
    /// spikes(N) -> one rate in Hz per group of neurons.
    GroupRate(GroupRate) = "group_rate",
    /// analog or scalar -> seeded Poisson spikes.
    Poisson(Poisson) = "poisson",
    /// analog / scalar -> gain, offset and clip per element.
    Linear(Linear) = "linear",
    /// analog / scalar -> a linear readout across channels, y = W x + b.
    Affine(Affine) = "affine",
    /// analog -> chosen channels; spikes -> a range of neurons.
    Select(Select) = "select",
    /// analog or scalar -> Gaussian tuning curves (population code), in Hz.
    Gaussian(Gaussian) = "gaussian",
    /// spikes(N) -> population vector.
    PopulationVector(PopulationVector) = "population_vector",
    /// analog or scalar -> a scalar event on threshold crossings.
    Threshold(Threshold) = "threshold",
    /// analog or scalar -> 1 while a value lies in [min, max], else 0.
    InRange(InRange) = "in_range",
    /// address events -> spikes, per pixel or pooled, ON and OFF apart.
    EventsToSpikes(EventsToSpikes) = "events_to_spikes",
}

impl TransferSpec {
    /// The port kind this transfer delivers for an input of kind `input`, or an error text if the input
    /// type or shape, or a parameter, does not fit (see [`TransferKind::output_kind`]).
    pub fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        self.kind().output_kind(input)
    }
}

/// A scalar or one value per channel.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(
    untagged,
    expecting = "a number or a list of numbers (one per channel)"
)]
pub enum PerChannel {
    /// The same value for every channel.
    All(f64),
    /// One value per channel (length must match).
    Each(Vec<f64>),
}

impl PerChannel {
    /// The values for `n` channels, or an error naming `what` if the length does not fit or a value is
    /// not finite.
    pub(crate) fn expand(&self, n: usize, what: &str, kind: &str) -> Result<Vec<f64>, String> {
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

pub(crate) fn one_all() -> PerChannel {
    PerChannel::All(1.0)
}
pub(crate) fn zero_all() -> PerChannel {
    PerChannel::All(0.0)
}

/// The population size of a spikes input, or the error for another input.
pub(crate) fn spikes_input(kind: &str, input: &PortKind) -> Result<usize, String> {
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
pub(crate) fn value_input(kind: &str, input: &PortKind) -> Result<usize, String> {
    match input {
        PortKind::Analog { channels } => Ok(channels.len()),
        PortKind::Scalar { .. } => Ok(1),
        other => Err(format!(
            "{kind} needs an analog or scalar input, got {}",
            other.describe()
        )),
    }
}

/// The values of an analog or scalar payload, if it has `n` of them (a scalar has one).
pub(crate) fn values_of(input: &Payload, n: usize) -> Option<&[f64]> {
    match input {
        Payload::Analog(v) if v.len() == n => Some(v),
        Payload::Scalar(x) if n == 1 => Some(std::slice::from_ref(x)),
        _ => None,
    }
}

/// Makes `out` an analog vector of length `n` (reusing its allocation when it is one) and returns it.
pub(crate) fn analog_out(out: &mut Payload, n: usize) -> &mut Vec<f64> {
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

/// Makes `out` a spike batch (reusing its allocation when it is one), cleared, and returns it.
pub(crate) fn spikes_out(out: &mut Payload) -> &mut crate::payload::SpikeBatch {
    if !matches!(out, Payload::Spikes(_)) {
        *out = Payload::Spikes(Default::default());
    }
    match out {
        Payload::Spikes(b) => {
            b.clear();
            b
        }
        _ => unreachable!("out was just made spikes"),
    }
}

/// The running form of one transfer function on one link, with its state.
///
/// Created by [`Transfer::new`] from a [`TransferSpec`] and the port kind it reads, then
/// [`apply`](Transfer::apply)'d once per consumer step. Deterministic: the same seed and the same
/// sequence of calls give the same outputs; [`reset`](Transfer::reset) goes back to t = 0. A link's
/// chain of transfers is a [`TransferChain`].
#[derive(Clone, Debug)]
pub struct Transfer {
    spec: TransferSpec,
    input: PortKind,
    output: PortKind,
    running: Box<dyn RunningTransfer>,
}

impl Transfer {
    /// The running transfer for `spec` reading data of kind `input`, or the error of
    /// [`TransferSpec::output_kind`]. `seed` seeds the kind's random stream (a PCG-64 stream for
    /// `poisson`); other kinds ignore it.
    pub fn new(spec: &TransferSpec, input: &PortKind, seed: u64) -> Result<Transfer, String> {
        let output = spec.output_kind(input)?;
        let running = spec.kind().build(input, seed)?;
        Ok(Transfer {
            spec: spec.clone(),
            input: input.clone(),
            output,
            running,
        })
    }

    /// The spec this transfer was made from.
    pub fn spec(&self) -> &TransferSpec {
        &self.spec
    }

    /// The port kind this transfer reads.
    pub fn input_kind(&self) -> &PortKind {
        &self.input
    }

    /// The port kind this transfer delivers.
    pub fn output_kind(&self) -> &PortKind {
        &self.output
    }

    /// Called once per consumer step with what the link delivers for the consumer's step
    /// `[t_start_ms, t_end_ms)`: for spike and event inputs, the batch of everything produced since the
    /// previous delivery (times `< t_start_ms`); for analog and scalar inputs, the latest value. Writes
    /// the result into `out`, reusing its allocation (`out` starts as
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
        self.running.apply(input, t_start_ms, t_end_ms, out);
    }

    /// Back to the state at t = 0: no spike seen, no previous value, random streams restarted from
    /// their seed (so the same calls give the same outputs again).
    pub fn reset(&mut self) {
        self.running.reset();
    }
}
