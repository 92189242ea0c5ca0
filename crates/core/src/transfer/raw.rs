//! The file syntax of [`TransferSpec`] as serde sees it.
//!
//! `spike_rate` and `population_vector` name their filter with a `filter` key next to the filter's own
//! parameter (`window_ms` or `tau_ms`). serde's `flatten` cannot be combined with `deny_unknown_fields`,
//! so the file form lists every key explicitly here (unknown keys are refused, with the key named in the
//! error) and is then converted into the public [`TransferSpec`], checking that the filter got exactly
//! the parameter it takes.

use serde::Deserialize;

use super::{
    one, one_all, one_u32, point_one, zero_all, Crossing, PerChannel, RateFilter, RatePer,
    TransferSpec,
};

/// The filter names of the file syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum FilterName {
    Window,
    Exponential,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum RawSpec {
    SpikeRate {
        filter: FilterName,
        #[serde(default)]
        window_ms: Option<f64>,
        #[serde(default)]
        tau_ms: Option<f64>,
        #[serde(default)]
        per: RatePer,
    },
    Poisson {
        #[serde(default = "one")]
        scale_hz: f64,
        #[serde(default = "one_u32")]
        neurons_per_channel: u32,
        #[serde(default = "point_one")]
        resolution_ms: f64,
    },
    Linear {
        #[serde(default = "one_all")]
        gain: PerChannel,
        #[serde(default = "zero_all")]
        offset: PerChannel,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
        #[serde(default)]
        unit: Option<String>,
    },
    PopulationVector {
        filter: FilterName,
        #[serde(default)]
        window_ms: Option<f64>,
        #[serde(default)]
        tau_ms: Option<f64>,
        #[serde(default)]
        preferred: Option<Vec<Vec<f64>>>,
    },
    Threshold {
        threshold: f64,
        #[serde(default)]
        channel: usize,
        #[serde(default)]
        direction: Crossing,
    },
}

/// Builds the filter from `filter` and its parameter; the other filter's parameter is refused.
fn filter(
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

impl TryFrom<RawSpec> for TransferSpec {
    type Error = String;

    fn try_from(raw: RawSpec) -> Result<Self, String> {
        Ok(match raw {
            RawSpec::SpikeRate {
                filter: name,
                window_ms,
                tau_ms,
                per,
            } => TransferSpec::SpikeRate {
                filter: filter("spike_rate", name, window_ms, tau_ms)?,
                per,
            },
            RawSpec::Poisson {
                scale_hz,
                neurons_per_channel,
                resolution_ms,
            } => TransferSpec::Poisson {
                scale_hz,
                neurons_per_channel,
                resolution_ms,
            },
            RawSpec::Linear {
                gain,
                offset,
                min,
                max,
                unit,
            } => TransferSpec::Linear {
                gain,
                offset,
                min,
                max,
                unit,
            },
            RawSpec::PopulationVector {
                filter: name,
                window_ms,
                tau_ms,
                preferred,
            } => TransferSpec::PopulationVector {
                filter: filter("population_vector", name, window_ms, tau_ms)?,
                preferred,
            },
            RawSpec::Threshold {
                threshold,
                channel,
                direction,
            } => TransferSpec::Threshold {
                threshold,
                channel,
                direction,
            },
        })
    }
}
