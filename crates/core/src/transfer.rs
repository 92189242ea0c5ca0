//! Transfer functions: declarative glue applied on a link when its data is delivered to the consumer.
//!
//! In an experiment file a link may carry `transfer = { kind = "...", ... }`. The kinds, their equations
//! and parameters are documented on [`TransferSpec`]; [`Transfer`] is the running, stateful form.

use serde::Deserialize;

/// Whether a spike-rate estimate is per neuron or for the whole population.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RatePer {
    /// One rate per neuron (analog vector of the population's size).
    #[default]
    Neuron,
    /// One rate for the population: mean over its neurons (analog vector of length 1).
    Population,
}

/// How spikes become a rate.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(tag = "filter", rename_all = "lowercase", deny_unknown_fields)]
pub enum RateFilter {
    /// Spikes in the last `window_ms` divided by the window: r(t) = N[t - w, t) / w.
    Window {
        /// Window length in ms (> 0).
        window_ms: f64,
    },
    /// Exponential filter: each spike adds 1/tau, the trace decays with tau: r(t) = sum_k exp(-(t - t_k)/tau) / tau.
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

/// The transfer functions an experiment file can put on a link.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TransferSpec {
    /// spikes -> analog rate in Hz, per neuron or per population.
    SpikeRate {
        /// The filter (`filter = "window"` with `window_ms`, or `"exponential"` with `tau_ms`).
        #[serde(flatten)]
        filter: RateFilter,
        /// `"neuron"` (default) or `"population"`.
        #[serde(default)]
        per: RatePer,
    },
    /// analog rate -> Poisson spikes (seeded): channel c drives `neurons_per_channel` neurons, each firing
    /// with rate max(0, x_c * scale_hz) Hz, with spike times on a `resolution_ms` grid inside the
    /// consumer's step.
    Poisson {
        /// Rate in Hz per unit of input (default 1: the input already is a rate in Hz).
        #[serde(default = "one")]
        scale_hz: f64,
        /// Neurons driven by each input channel (default 1).
        #[serde(default = "one_u32")]
        neurons_per_channel: u32,
        /// Grid of spike times in ms (default 0.1, NEST's default resolution).
        #[serde(default = "point_one")]
        resolution_ms: f64,
    },
    /// analog -> analog: y = clip(gain * x + offset, min, max), per element.
    Linear {
        /// Gain (scalar or per channel; default 1).
        #[serde(default = "one_all")]
        gain: PerChannel,
        /// Offset (scalar or per channel; default 0).
        #[serde(default = "zero_all")]
        offset: PerChannel,
        /// Lower clip (default none).
        #[serde(default)]
        min: Option<f64>,
        /// Upper clip (default none).
        #[serde(default)]
        max: Option<f64>,
        /// Unit of the output channels (default: the input's units).
        #[serde(default)]
        unit: Option<String>,
    },
    /// spikes -> analog population vector (Georgopoulos 1986): v = sum_i r_i d_i / sum_i r_i, zero when no
    /// neuron fires, with r_i the neuron's rate from `filter`.
    PopulationVector {
        /// The rate filter.
        #[serde(flatten)]
        filter: RateFilter,
        /// Preferred direction of each neuron (one row per neuron, all rows the same length). When left
        /// out, neuron i of n prefers the 2-D unit vector at angle 2*pi*i/n.
        #[serde(default)]
        preferred: Option<Vec<Vec<f64>>>,
    },
    /// analog or scalar -> scalar event: 1.0 in the step where channel `channel` crosses `threshold` in
    /// the given direction, 0.0 otherwise.
    Threshold {
        /// The threshold.
        threshold: f64,
        /// Which element of an analog input (default 0; ignored for scalars).
        #[serde(default)]
        channel: usize,
        /// `"rising"` (default), `"falling"` or `"both"`.
        #[serde(default)]
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
