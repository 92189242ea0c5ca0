//! Seeded Poisson spike generation for the `poisson` transfer.

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Poisson};
use rand_pcg::Pcg64;

use crate::payload::SpikeBatch;

/// Upper bound on the expected spike count of one neuron in one step, so that a huge or infinite input
/// cannot exhaust memory.
pub(super) const MAX_MEAN_COUNT: f64 = 1.0e6;

/// Slack, in grid units, when deciding which grid points lie inside a step (absorbs rounding of t / res).
const GRID_EPS: f64 = 1e-6;

/// The generator of one `poisson` link.
#[derive(Clone, Debug)]
pub(super) struct PoissonGen {
    seed: u64,
    rng: Pcg64,
    scale_hz: f64,
    neurons_per_channel: u32,
    resolution_ms: f64,
    /// (grid slot, neuron) of the spikes of the current step, before sorting.
    scratch: Vec<(u64, u32)>,
}

impl PoissonGen {
    /// A generator at t = 0.
    pub(super) fn new(
        seed: u64,
        scale_hz: f64,
        neurons_per_channel: u32,
        resolution_ms: f64,
    ) -> Self {
        PoissonGen {
            seed,
            rng: Pcg64::seed_from_u64(seed),
            scale_hz,
            neurons_per_channel,
            resolution_ms,
            scratch: Vec::new(),
        }
    }

    /// Back to the start of the stream.
    pub(super) fn reset(&mut self) {
        self.rng = Pcg64::seed_from_u64(self.seed);
        self.scratch.clear();
    }

    /// Replaces `out` with the spikes of the step [t_start, t_end) for the input values `x` (one per
    /// channel), sorted by (time, neuron).
    pub(super) fn generate(&mut self, x: &[f64], t_start: f64, t_end: f64, out: &mut SpikeBatch) {
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
        for (c, &xc) in x.iter().enumerate() {
            let rate_hz = (xc * self.scale_hz).max(0.0); // NaN -> 0
            let mean = (rate_hz * dt / 1000.0).min(MAX_MEAN_COUNT);
            if mean.is_nan() || mean <= 0.0 {
                continue;
            }
            let Ok(dist) = Poisson::new(mean) else {
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
