//! Spike engines: a seeded Poisson source and a population-rate decoder.

use neuroloop_core::engine::{Engine, EngineError, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::port::{PortKind, PortSpec};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use serde::Deserialize;

use neuroloop_core::engine::require;

/// Configuration of [`PoissonSource`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoissonSourceConfig {
    /// Number of neurons (default 100).
    pub size: u32,
    /// Rate of every neuron in Hz (default 20).
    pub rate_hz: f64,
    /// Spike-time grid in ms (default 0.1); must divide the base step.
    pub resolution_ms: f64,
}

impl Default for PoissonSourceConfig {
    fn default() -> Self {
        PoissonSourceConfig {
            size: 100,
            rate_hz: 20.0,
            resolution_ms: 0.1,
        }
    }
}

/// Independent Poisson trains on a time grid (as NEST's `poisson_generator` on its resolution): in
/// each grid slot each neuron fires with probability `rate_hz * resolution_ms / 1000`.
pub struct PoissonSource {
    cfg: PoissonSourceConfig,
    seed: u64,
    rng: Pcg64,
    slots_per_base: u64,
    p_fire: f64,
}

impl PoissonSource {
    /// Builds the source from its configuration and seed.
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        let cfg: PoissonSourceConfig = ctx.config()?;
        require(cfg.size > 0, ctx, "size", "must be > 0")?;
        require(
            cfg.rate_hz >= 0.0 && cfg.rate_hz.is_finite(),
            ctx,
            "rate_hz",
            "must be >= 0",
        )?;
        let slots =
            neuroloop_core::time::steps_in(ctx.base_step_ms, cfg.resolution_ms).filter(|&s| s > 0);
        require(
            slots.is_some(),
            ctx,
            "resolution_ms",
            "must be > 0 and divide the base step",
        )?;
        let p_fire = cfg.rate_hz * cfg.resolution_ms * 1e-3;
        require(
            p_fire <= 1.0,
            ctx,
            "rate_hz",
            "rate_hz * resolution_ms must be at most 1000",
        )?;
        Ok(PoissonSource {
            seed: ctx.seed,
            rng: Pcg64::seed_from_u64(ctx.seed),
            slots_per_base: slots.unwrap_or(1),
            p_fire,
            cfg,
        })
    }
}

impl Engine for PoissonSource {
    fn ports(&self) -> Vec<PortSpec> {
        vec![PortSpec::output(
            "spikes",
            PortKind::Spikes {
                size: self.cfg.size,
            },
        )]
    }

    fn step(
        &mut self,
        ctx: &StepContext,
        _inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        let out = outputs.spikes_mut(0);
        let first = ctx.step.0 * self.slots_per_base;
        for slot in first..first + u64::from(ctx.n_steps) * self.slots_per_base {
            let t_ms = slot as f64 * self.cfg.resolution_ms;
            for n in 0..self.cfg.size {
                if self.rng.random::<f64>() < self.p_fire {
                    out.push(n, t_ms);
                }
            }
        }
        Ok(())
    }

    fn reset(&mut self) -> Result<(), EngineError> {
        self.rng = Pcg64::seed_from_u64(self.seed);
        Ok(())
    }
}

/// Configuration of [`RateDecoder`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateDecoderConfig {
    /// Population size (default 100).
    pub size: u32,
    /// Filter time constant in ms (default 20).
    pub tau_ms: f64,
}

impl Default for RateDecoderConfig {
    fn default() -> Self {
        RateDecoderConfig {
            size: 100,
            tau_ms: 20.0,
        }
    }
}

/// Population rate with an exponential filter: r(t) = sum_k exp(-(t - t_k)/tau) / (tau * size), in Hz,
/// evaluated at the end of each step (each spike decays from its own time).
pub struct RateDecoder {
    cfg: RateDecoderConfig,
    rate_hz: f64,
}

impl RateDecoder {
    /// Builds the decoder from its configuration.
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        let cfg: RateDecoderConfig = ctx.config()?;
        require(cfg.size > 0, ctx, "size", "must be > 0")?;
        require(cfg.tau_ms > 0.0, ctx, "tau_ms", "must be > 0")?;
        Ok(RateDecoder { cfg, rate_hz: 0.0 })
    }
}

impl Engine for RateDecoder {
    fn ports(&self) -> Vec<PortSpec> {
        vec![
            PortSpec::input(
                "spikes",
                PortKind::Spikes {
                    size: self.cfg.size,
                },
            ),
            PortSpec::output("rate", PortKind::analog(&[("rate", "Hz")])),
        ]
    }

    fn step(
        &mut self,
        ctx: &StepContext,
        inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        let tau = self.cfg.tau_ms;
        let t_end = ctx.end_ms();
        let mut r = self.rate_hz * (-ctx.dt_ms() / tau).exp();
        let per_spike = 1000.0 / (tau * f64::from(self.cfg.size));
        for &t_k in &inputs.spikes(0).time_ms {
            r += per_spike * (-(t_end - t_k).max(0.0) / tau).exp();
        }
        self.rate_hz = r;
        outputs.analog_mut(1)[0] = r;
        Ok(())
    }

    fn reset(&mut self) -> Result<(), EngineError> {
        self.rate_hz = 0.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuroloop_core::time::Step;

    fn ctx(config: serde_json::Value) -> InitContext {
        InitContext {
            name: "src".into(),
            config,
            seed: 5,
            base_step_ms: 1.0,
            period: 1,
            episode: 0,
        }
    }

    #[test]
    fn poisson_rate_matches_and_decoder_reads_it_back() {
        let mut src =
            PoissonSource::new(&ctx(serde_json::json!({ "size": 200, "rate_hz": 40.0 }))).unwrap();
        let mut dec =
            RateDecoder::new(&ctx(serde_json::json!({ "size": 200, "tau_ms": 50.0 }))).unwrap();
        let (sp, dp) = (src.ports(), dec.ports());
        let (si, mut so) = (Inputs::for_ports(&sp), Outputs::for_ports(&sp));
        let (mut di, mut dout) = (Inputs::for_ports(&dp), Outputs::for_ports(&dp));
        let mut total = 0usize;
        let mut late_rates = Vec::new();
        for t in 0..2000u64 {
            let c = StepContext {
                step: Step(t),
                n_steps: 1,
                base_step_ms: 1.0,
            };
            so.begin_step();
            src.step(&c, &si, &mut so).unwrap();
            let batch = so.spikes_mut(0).clone();
            assert!(batch
                .time_ms
                .iter()
                .all(|&x| x >= t as f64 && x < t as f64 + 1.0));
            total += batch.len();
            di.begin_step();
            di.set(0, neuroloop_core::payload::Payload::Spikes(batch), None)
                .unwrap();
            dec.step(&c, &di, &mut dout).unwrap();
            if t >= 500 {
                late_rates.push(dout.analog(1)[0]);
            }
        }
        let expected = 200.0 * 40.0 * 2.0;
        assert!(
            (total as f64 - expected).abs() < 0.05 * expected,
            "{total} vs {expected}"
        );
        let mean: f64 = late_rates.iter().sum::<f64>() / late_rates.len() as f64;
        assert!((mean - 40.0).abs() < 2.0, "decoded {mean} Hz");
    }

    #[test]
    fn same_seed_same_spikes_and_reset_replays() {
        let run = |src: &mut PoissonSource| {
            let p = src.ports();
            let (i, mut o) = (Inputs::for_ports(&p), Outputs::for_ports(&p));
            let mut all = Vec::new();
            for t in 0..50u64 {
                o.begin_step();
                src.step(
                    &StepContext {
                        step: Step(t),
                        n_steps: 1,
                        base_step_ms: 1.0,
                    },
                    &i,
                    &mut o,
                )
                .unwrap();
                all.push(o.spikes_mut(0).clone());
            }
            all
        };
        let mut a = PoissonSource::new(&ctx(serde_json::json!({}))).unwrap();
        let mut b = PoissonSource::new(&ctx(serde_json::json!({}))).unwrap();
        let first = run(&mut a);
        assert_eq!(first, run(&mut b));
        a.reset().unwrap();
        assert_eq!(first, run(&mut a));
    }
}
