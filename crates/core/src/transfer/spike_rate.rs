//! `spike_rate`: spikes(N) -> rate in Hz per neuron (channels `n0`..`n{N-1}`) or for the population
//! (one channel `rate`, the mean of the N per-neuron rates). See [`RateFilter`] for the equations.

use serde::Deserialize;

use super::rate::{check_filter, filter_from, FilterName, RateEstimator};
use super::{analog_out, spikes_input, RateFilter, RatePer, RunningTransfer, TransferKind};
use crate::payload::Payload;
use crate::port::{Channel, PortKind};

const NAME: &str = "spike_rate";

/// `{ kind = "spike_rate", filter = "window", window_ms = 50, per = "neuron" }` or
/// `{ kind = "spike_rate", filter = "exponential", tau_ms = 20 }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "File")]
pub struct SpikeRate {
    /// The filter (`filter = "window"` with `window_ms`, or `"exponential"` with `tau_ms`).
    pub filter: RateFilter,
    /// `"neuron"` (default) or `"population"`.
    pub per: RatePer,
}

/// The file syntax.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    filter: FilterName,
    #[serde(default)]
    window_ms: Option<f64>,
    #[serde(default)]
    tau_ms: Option<f64>,
    #[serde(default)]
    per: RatePer,
}

impl TryFrom<File> for SpikeRate {
    type Error = String;
    fn try_from(f: File) -> Result<Self, String> {
        Ok(SpikeRate {
            filter: filter_from(NAME, f.filter, f.window_ms, f.tau_ms)?,
            per: f.per,
        })
    }
}

impl TransferKind for SpikeRate {
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        let n = spikes_input(NAME, input)?;
        check_filter(NAME, &self.filter)?;
        let hz = |name: String| Channel {
            name,
            unit: "Hz".into(),
        };
        let channels = match self.per {
            RatePer::Neuron => (0..n).map(|i| hz(format!("n{i}"))).collect(),
            RatePer::Population => vec![hz("rate".into())],
        };
        Ok(PortKind::Analog { channels })
    }

    fn build(&self, input: &PortKind, _seed: u64) -> Result<Box<dyn RunningTransfer>, String> {
        let n = spikes_input(NAME, input)?;
        Ok(Box::new(Running {
            est: RateEstimator::new(&self.filter, n),
            per: self.per,
            rates: vec![0.0; n],
        }))
    }
}

#[derive(Clone, Debug)]
struct Running {
    est: RateEstimator,
    per: RatePer,
    /// Scratch: per-neuron rates.
    rates: Vec<f64>,
}

impl RunningTransfer for Running {
    fn apply(&mut self, input: &Payload, t_start_ms: f64, _t_end_ms: f64, out: &mut Payload) {
        let Payload::Spikes(batch) = input else {
            return;
        };
        self.est.update(batch, t_start_ms, &mut self.rates);
        match self.per {
            RatePer::Neuron => analog_out(out, self.rates.len()).copy_from_slice(&self.rates),
            RatePer::Population => {
                let mean = self.rates.iter().sum::<f64>() / self.rates.len().max(1) as f64;
                analog_out(out, 1)[0] = mean;
            }
        }
    }

    fn reset(&mut self) {
        self.est.reset();
    }
}
