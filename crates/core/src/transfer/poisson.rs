//! `poisson`: analog or scalar values -> seeded Poisson spikes.

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Poisson as PoissonDist};
use rand_pcg::Pcg64;
use serde::Deserialize;

use super::{
    one_all, spikes_out, value_input, values_of, zero_all, PerChannel, RunningTransfer,
    TransferKind,
};
use crate::payload::{Payload, SpikeBatch};
use crate::port::PortKind;

const NAME: &str = "poisson";

/// `{ kind = "poisson", scale_hz = 100, offset_hz = 0, neurons_per_channel = 20, resolution_ms = 0.1 }`.
///
/// analog[C] or scalar (C = 1) -> spikes(C * `neurons_per_channel`), seeded: output neuron j is driven
/// by channel c = j / `neurons_per_channel` and fires with rate λ_j = max(0, x_c * scale_hz_c +
/// offset_hz_c) Hz. In a step [t_start, t_end) of length T ms each neuron fires n_j ~ Poisson(λ_j * T /
/// 1000) spikes, each on a uniformly drawn point of the grid k * `resolution_ms` inside the step; the
/// batch is sorted by (time, neuron).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Poisson {
    /// Rate in Hz per unit of input, one number or one per channel (default 1: the input already is a
    /// rate in Hz).
    #[serde(default = "one_all")]
    pub scale_hz: PerChannel,
    /// Rate in Hz added to every neuron of a channel, one number or one per channel (default 0).
    #[serde(default = "zero_all")]
    pub offset_hz: PerChannel,
    /// Neurons driven by each input channel (default 1, at least 1).
    #[serde(default = "one_u32")]
    pub neurons_per_channel: u32,
    /// Grid of spike times in ms (default 0.1, NEST's default resolution).
    #[serde(default = "point_one")]
    pub resolution_ms: f64,
}

fn one_u32() -> u32 {
    1
}
fn point_one() -> f64 {
    0.1
}

impl TransferKind for Poisson {
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        let c = value_input(NAME, input)?;
        if c == 0 {
            return Err("poisson needs at least one input channel".into());
        }
        self.scale_hz.expand(c, "scale_hz", NAME)?;
        self.offset_hz.expand(c, "offset_hz", NAME)?;
        let npc = self.neurons_per_channel;
        if npc == 0 {
            return Err("poisson: `neurons_per_channel` must be at least 1".into());
        }
        let res = self.resolution_ms;
        if !(res.is_finite() && res > 0.0) {
            return Err(format!(
                "poisson: `resolution_ms` must be positive and finite, got {res}"
            ));
        }
        let size = u32::try_from(c)
            .ok()
            .and_then(|c| c.checked_mul(npc))
            .ok_or_else(|| {
                format!("poisson: {c} channels x {npc} neurons does not fit in a population")
            })?;
        Ok(PortKind::Spikes { size })
    }

    fn build(&self, input: &PortKind, seed: u64) -> Result<Box<dyn RunningTransfer>, String> {
        let c = value_input(NAME, input)?;
        Ok(Box::new(Running {
            generator: PoissonGen::new(
                seed,
                self.scale_hz.expand(c, "scale_hz", NAME)?,
                self.offset_hz.expand(c, "offset_hz", NAME)?,
                self.neurons_per_channel,
                self.resolution_ms,
            ),
            channels: c,
        }))
    }
}

#[derive(Clone, Debug)]
struct Running {
    generator: PoissonGen,
    channels: usize,
}

impl RunningTransfer for Running {
    fn apply(&mut self, input: &Payload, t_start_ms: f64, t_end_ms: f64, out: &mut Payload) {
        let Some(x) = values_of(input, self.channels) else {
            return;
        };
        let batch = spikes_out(out);
        self.generator.generate(x, t_start_ms, t_end_ms, batch);
    }

    fn reset(&mut self) {
        self.generator.reset();
    }
}

/// Upper bound on the expected spike count of one neuron in one step, so that a huge or infinite input
/// cannot exhaust memory.
const MAX_MEAN_COUNT: f64 = 1.0e6;

/// Slack, in grid units, when deciding which grid points lie inside a step (absorbs rounding of t / res).
const GRID_EPS: f64 = 1e-6;

/// The generator of one `poisson` link.
#[derive(Clone, Debug)]
struct PoissonGen {
    seed: u64,
    rng: Pcg64,
    /// Per channel.
    scale_hz: Vec<f64>,
    /// Per channel.
    offset_hz: Vec<f64>,
    neurons_per_channel: u32,
    resolution_ms: f64,
    /// (grid slot, neuron) of the spikes of the current step, before sorting.
    scratch: Vec<(u64, u32)>,
}

impl PoissonGen {
    /// A generator at t = 0.
    fn new(
        seed: u64,
        scale_hz: Vec<f64>,
        offset_hz: Vec<f64>,
        neurons_per_channel: u32,
        resolution_ms: f64,
    ) -> Self {
        PoissonGen {
            seed,
            rng: Pcg64::seed_from_u64(seed),
            scale_hz,
            offset_hz,
            neurons_per_channel,
            resolution_ms,
            scratch: Vec::new(),
        }
    }

    /// Back to the start of the stream.
    fn reset(&mut self) {
        self.rng = Pcg64::seed_from_u64(self.seed);
        self.scratch.clear();
    }

    /// Replaces `out` with the spikes of the step [t_start, t_end) for the input values `x` (one per
    /// channel), sorted by (time, neuron).
    fn generate(&mut self, x: &[f64], t_start: f64, t_end: f64, out: &mut SpikeBatch) {
        out.clear();
        let dt = t_end - t_start;
        let res = self.resolution_ms;
        if !(dt > 0.0 && dt.is_finite() && t_start.is_finite()) {
            return;
        }
        // Grid points k * res with t_start <= k * res < t_end.
        let k0 = (t_start / res - GRID_EPS).ceil();
        let k1 = (t_end / res - GRID_EPS).ceil();
        if !(k0.is_finite() && k1.is_finite()) {
            return;
        }
        // No grid point inside a step shorter than the resolution: the spikes go to t_start.
        let on_grid = k1 > k0;
        let slots = if on_grid { (k1 - k0) as u64 } else { 1 };

        self.scratch.clear();
        let npc = self.neurons_per_channel;
        let gains = self.scale_hz.iter().zip(&self.offset_hz);
        for (c, (&xc, (&scale, &offset))) in x.iter().zip(gains).enumerate() {
            // With the default offset 0 this is bit for bit the former max(0, x * scale).
            let rate_hz = (xc * scale + offset).max(0.0); // NaN -> 0
            let mean = (rate_hz * dt / 1000.0).min(MAX_MEAN_COUNT);
            if mean.is_nan() || mean <= 0.0 {
                continue;
            }
            let Ok(dist) = PoissonDist::new(mean) else {
                continue;
            };
            let first = c as u64 * u64::from(npc);
            for j in 0..u64::from(npc) {
                let neuron = (first + j) as u32;
                let count: f64 = dist.sample(&mut self.rng);
                for _ in 0..(count as u64) {
                    let slot = self.rng.random_range(0..slots);
                    self.scratch.push((slot, neuron));
                }
            }
        }
        self.scratch.sort_unstable();
        out.neuron.reserve(self.scratch.len());
        out.time_ms.reserve(self.scratch.len());
        for &(slot, neuron) in &self.scratch {
            let t = if on_grid {
                ((k0 + slot as f64) * res).max(t_start)
            } else {
                t_start
            };
            out.push(neuron, t);
        }
    }
}
