use super::*;

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;

/// Grid of the gaze process, ms: the path is the same whatever the render times.
pub(super) const GAZE_DT_MS: f64 = 0.1;

/// Fixational eye movements (micro-saccades after Martinez-Conde, Macknik & Hubel, Nat Rev Neurosci
/// 2004; corrective directions after Engbert & Kliegl, Psychol Sci 2004): a gaze offset (yaw, pitch
/// in degrees) generated on a fixed grid of 0.1 ms from its own seeded stream and read by linear
/// interpolation, so the path depends on the seed and simulated time only.
pub struct Gaze {
    rng: Pcg64,
    amplitude_deg: f64,
    duration_ms: f64,
    /// Mean of the exponential wait after a saccade ends, ms.
    wait_ms: f64,
    /// Random-walk step standard deviation per grid step, degrees.
    drift_step_deg: f64,
    /// Grid samples (t ms, yaw deg, pitch deg), oldest first.
    samples: std::collections::VecDeque<(f64, f64, f64)>,
    /// Grid steps taken (time of the newest sample = start + steps * GAZE_DT_MS).
    steps: u64,
    start_ms: f64,
    /// Active saccade: onset (ms) and displacement (deg).
    saccade: Option<(f64, [f64; 2])>,
    next_onset_ms: f64,
    onsets_ms: Vec<f64>,
}

impl Gaze {
    /// A gaze at the fixation point at `start_ms`, with its first onset drawn from the stream.
    pub fn new(j: &JitterConfig, seed: u64, start_ms: f64) -> Self {
        let mut rng = Pcg64::seed_from_u64(seed);
        let wait_ms = 1e3 / j.rate_hz - j.duration_ms;
        let first: f64 = rand_distr::Exp1.sample(&mut rng);
        let mut samples = std::collections::VecDeque::new();
        samples.push_back((start_ms, 0.0, 0.0));
        Gaze {
            amplitude_deg: j.amplitude_deg,
            duration_ms: j.duration_ms,
            wait_ms,
            drift_step_deg: j.drift_deg_per_sqrt_s * (GAZE_DT_MS * 1e-3).sqrt(),
            samples,
            steps: 0,
            start_ms,
            saccade: None,
            next_onset_ms: start_ms + first * 1e3 / j.rate_hz,
            onsets_ms: Vec::new(),
            rng,
        }
    }

    fn profile(s: f64) -> f64 {
        (1.0 - (std::f64::consts::PI * s.clamp(0.0, 1.0)).cos()) / 2.0
    }

    /// Extends the path by one grid step.
    fn advance(&mut self) {
        let &(t, y, p) = self.samples.back().expect("never empty");
        let t1 = self.start_ms + (self.steps + 1) as f64 * GAZE_DT_MS;
        let (mut y1, mut p1) = (y, p);
        if self.drift_step_deg > 0.0 {
            let (a, b): (f64, f64) = (
                StandardNormal.sample(&mut self.rng),
                StandardNormal.sample(&mut self.rng),
            );
            y1 += self.drift_step_deg * a;
            p1 += self.drift_step_deg * b;
        }
        if self.saccade.is_none() && t1 >= self.next_onset_ms {
            // Aim within 90 degrees of the way back to the fixation point (any way when on it).
            let back = if y != 0.0 || p != 0.0 {
                (-p).atan2(-y)
            } else {
                0.0
            };
            let spread = if y != 0.0 || p != 0.0 {
                std::f64::consts::FRAC_PI_2
            } else {
                std::f64::consts::PI
            };
            let angle = back + spread * (2.0 * self.rng.random::<f64>() - 1.0);
            let d = [
                self.amplitude_deg * angle.cos(),
                self.amplitude_deg * angle.sin(),
            ];
            self.saccade = Some((t, d));
            self.onsets_ms.push(t);
            let wait: f64 = rand_distr::Exp1.sample(&mut self.rng);
            self.next_onset_ms = t + self.duration_ms + wait * self.wait_ms;
        }
        if let Some((onset, d)) = self.saccade {
            let s0 = (t - onset) / self.duration_ms;
            let s1 = (t1 - onset) / self.duration_ms;
            let k = Self::profile(s1) - Self::profile(s0);
            y1 += d[0] * k;
            p1 += d[1] * k;
            if s1 >= 1.0 {
                self.saccade = None;
            }
        }
        self.steps += 1;
        self.samples.push_back((t1, y1, p1));
    }

    /// Generates the path up to `t_ms`.
    fn extend_to(&mut self, t_ms: f64) {
        while self.samples.back().is_some_and(|s| s.0 < t_ms) {
            self.advance();
        }
    }

    /// Forgets samples before `t_ms` (keeping one at or before it); later reads must not go earlier.
    pub fn forget_before(&mut self, t_ms: f64) {
        while self.samples.len() > 1 && self.samples[1].0 <= t_ms {
            self.samples.pop_front();
        }
    }

    /// Gaze offset (yaw, pitch) in degrees at `t_ms` (not earlier than the last `forget_before`).
    pub fn at(&mut self, t_ms: f64) -> [f64; 2] {
        self.extend_to(t_ms);
        let i = self.samples.partition_point(|s| s.0 < t_ms);
        if i == 0 {
            let s = self.samples[0];
            return [s.1, s.2];
        }
        let (a, b) = (self.samples[i - 1], self.samples[i]);
        let w = (t_ms - a.0) / (b.0 - a.0);
        [a.1 + w * (b.1 - a.1), a.2 + w * (b.2 - a.2)]
    }

    /// Fastest gaze motion between `t0_ms` and `t1_ms`, degrees per ms.
    pub fn max_speed_deg_per_ms(&mut self, t0_ms: f64, t1_ms: f64) -> f64 {
        self.extend_to(t1_ms);
        let mut m: f64 = 0.0;
        let s = &self.samples;
        for k in 1..s.len() {
            if s[k].0 > t0_ms && s[k - 1].0 < t1_ms {
                let d = (s[k].1 - s[k - 1].1).hypot(s[k].2 - s[k - 1].2);
                m = m.max(d / (s[k].0 - s[k - 1].0));
            }
        }
        m
    }

    /// Onset times of the saccades generated so far, ms.
    pub fn onsets_ms(&self) -> &[f64] {
        &self.onsets_ms
    }
}
