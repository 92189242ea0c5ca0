//! Spike encoders shared by the sensor engines: rate-driven Poisson and integrate-and-fire trains, and a
//! current-driven leaky integrate-and-fire unit (TouchSim-style).
//!
//! All encoders work on an internal time grid of `dt_ms` and stamp spikes at the start of the grid slot
//! in which they occur (on-grid, as NEST without precise spike times), so every spike of a sync step lies
//! inside `[t_ms, end_ms)` and a batch is in time order.

use neuroloop_core::payload::SpikeBatch;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

/// How a rate becomes spikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateEncoding {
    /// In each grid slot a neuron fires with probability `rate * dt` (NEST's `poisson_generator`).
    Poisson,
    /// A perfect integrator of the rate: phase += rate * dt, one spike per unit of phase; the initial
    /// phase is drawn uniformly from the seed so that neurons are not synchronous.
    IntegrateAndFire,
}

/// Turns per-neuron rates (Hz) into spikes on a grid; one state per neuron.
#[derive(Clone, Debug)]
pub struct RateSpiker {
    encoding: RateEncoding,
    seed: u64,
    rng: Pcg64,
    phase: Vec<f64>,
}

impl RateSpiker {
    /// An encoder for `n` neurons.
    pub fn new(encoding: RateEncoding, n: usize, seed: u64) -> Self {
        let mut s = RateSpiker {
            encoding,
            seed,
            rng: Pcg64::seed_from_u64(seed),
            phase: vec![0.0; n],
        };
        s.reset();
        s
    }

    /// Back to the state at t = 0.
    pub fn reset(&mut self) {
        self.rng = Pcg64::seed_from_u64(self.seed);
        if self.encoding == RateEncoding::IntegrateAndFire {
            for p in &mut self.phase {
                *p = self.rng.random::<f64>();
            }
        } else {
            self.phase.iter_mut().for_each(|p| *p = 0.0);
        }
    }

    /// Advances one grid slot starting at `t_ms` with constant `rates_hz` (one per neuron) and pushes
    /// the spikes (neuron index + `offset`) into `out`.
    pub fn slot(
        &mut self,
        rates_hz: &[f64],
        t_ms: f64,
        dt_ms: f64,
        offset: u32,
        out: &mut SpikeBatch,
    ) {
        let dt_s = dt_ms * 1e-3;
        match self.encoding {
            RateEncoding::Poisson => {
                for (i, &r) in rates_hz.iter().enumerate() {
                    if self.rng.random::<f64>() < r.max(0.0) * dt_s {
                        out.push(offset + i as u32, t_ms);
                    }
                }
            }
            RateEncoding::IntegrateAndFire => {
                for (i, &r) in rates_hz.iter().enumerate() {
                    let p = &mut self.phase[i];
                    *p += r.max(0.0) * dt_s;
                    while *p >= 1.0 {
                        *p -= 1.0;
                        out.push(offset + i as u32, t_ms);
                    }
                }
            }
        }
    }
}

/// A population of dimensionless leaky integrate-and-fire units driven by a current `I` (threshold 1,
/// reset 0): `tau_m dV/dt = -V + I`, integrated exactly for `I` constant over a grid slot, then an
/// absolute refractory period with `V` clamped at 0. As in TouchSim (Saal et al., PNAS 2017), without
/// the post-spike current.
///
/// For a constant `I > 1` the unit fires every `n + n_ref` slots, where `n` is the smallest integer with
/// `1 - p^n >= 1/I`, `p = exp(-dt/tau_m)`, `n_ref = round(t_ref/dt)`.
#[derive(Clone, Debug)]
pub struct LifPopulation {
    p: f64,
    n_ref: u32,
    v: Vec<f64>,
    refractory: Vec<u32>,
}

impl LifPopulation {
    /// `n` units with membrane time constant `tau_m_ms` and refractory period `t_ref_ms` on a grid of
    /// `dt_ms`.
    pub fn new(n: usize, tau_m_ms: f64, t_ref_ms: f64, dt_ms: f64) -> Self {
        LifPopulation {
            p: (-dt_ms / tau_m_ms).exp(),
            n_ref: (t_ref_ms / dt_ms).round() as u32,
            v: vec![0.0; n],
            refractory: vec![0; n],
        }
    }

    /// Back to rest.
    pub fn reset(&mut self) {
        self.v.iter_mut().for_each(|v| *v = 0.0);
        self.refractory.iter_mut().for_each(|r| *r = 0);
    }

    /// Advances unit `i` by one slot with input `current`; returns whether it fired.
    #[inline]
    pub fn update(&mut self, i: usize, current: f64) -> bool {
        if self.refractory[i] > 0 {
            self.refractory[i] -= 1;
            self.v[i] = 0.0;
            return false;
        }
        let v = current + (self.v[i] - current) * self.p;
        if v >= 1.0 {
            self.v[i] = 0.0;
            self.refractory[i] = self.n_ref;
            true
        } else {
            self.v[i] = v;
            false
        }
    }

    /// Slots between spikes for a constant input (`None` if it never fires).
    pub fn period_slots(&self, current: f64) -> Option<u32> {
        if current <= 1.0 {
            return None;
        }
        let mut n = 1u32;
        while 1.0 - self.p.powi(n as i32) < 1.0 / current {
            n += 1;
        }
        Some(n + self.n_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lif_period_matches_closed_form() {
        let mut lif = LifPopulation::new(1, 10.0, 1.0, 0.2);
        let current = 1.7;
        let mut spikes = Vec::new();
        for k in 0..5000u32 {
            if lif.update(0, current) {
                spikes.push(k);
            }
        }
        let expected = lif.period_slots(current).unwrap();
        // Continuous-time interval tau ln(I/(I-1)) = 10 ln(1.7/0.7) = 8.87 ms -> 45 slots of 0.2 ms, + 5.
        assert_eq!(expected, 45 + 5);
        assert!(spikes.windows(2).all(|w| w[1] - w[0] == expected));
        assert!(lif.period_slots(0.9).is_none());
    }

    #[test]
    fn integrate_and_fire_count_follows_rate() {
        let mut enc = RateSpiker::new(RateEncoding::IntegrateAndFire, 2, 3);
        let mut out = SpikeBatch::default();
        for k in 0..10_000 {
            enc.slot(&[37.0, 0.0], k as f64 * 0.1, 0.1, 0, &mut out);
        }
        // 1 s at 37 Hz: 37 spikes, +-1 for the random initial phase.
        let n0 = out.neuron.iter().filter(|&&n| n == 0).count();
        assert!((36..=38).contains(&n0), "{n0}");
        assert!(out.neuron.iter().all(|&n| n == 0));
    }
}
