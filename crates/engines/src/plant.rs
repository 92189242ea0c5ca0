//! A mass on a spring with viscous damping: the plant of the demo experiment.

use neuroloop_core::engine::{Engine, EngineError, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::port::{PortKind, PortSpec};
use serde::Deserialize;

use neuroloop_core::engine::require;

/// Configuration of [`Spring`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpringConfig {
    /// Mass in kg (default 0.1).
    pub mass_kg: f64,
    /// Spring stiffness in N/m (default 10).
    pub stiffness_n_per_m: f64,
    /// Viscous damping in N s/m (default 0.05).
    pub damping_n_s_per_m: f64,
    /// Rest position of the spring in m (default 0).
    pub rest_m: f64,
    /// Position at t = 0 in m (default 0.05).
    pub x0_m: f64,
    /// Velocity at t = 0 in m/s (default 0).
    pub v0_m_per_s: f64,
    /// Internal integration step in ms (default 0.01); the sync step must be a whole multiple of it.
    pub internal_step_ms: f64,
}

impl Default for SpringConfig {
    fn default() -> Self {
        SpringConfig {
            mass_kg: 0.1,
            stiffness_n_per_m: 10.0,
            damping_n_s_per_m: 0.05,
            rest_m: 0.0,
            x0_m: 0.05,
            v0_m_per_s: 0.0,
            internal_step_ms: 0.01,
        }
    }
}

/// m x'' = -k (x - rest) - c x' + F, integrated with the symplectic (semi-implicit) Euler method at
/// `internal_step_ms`; the input force is held over the sync step.
pub struct Spring {
    cfg: SpringConfig,
    x_m: f64,
    v_m_per_s: f64,
    substeps_per_base: u32,
}

const FORCE: usize = 0;
const POSITION: usize = 1;
const VELOCITY: usize = 2;

impl Spring {
    /// Builds the plant from its configuration.
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        let cfg: SpringConfig = ctx.config()?;
        require(cfg.mass_kg > 0.0, ctx, "mass_kg", "must be > 0")?;
        require(
            cfg.stiffness_n_per_m >= 0.0,
            ctx,
            "stiffness_n_per_m",
            "must be >= 0",
        )?;
        require(
            cfg.damping_n_s_per_m >= 0.0,
            ctx,
            "damping_n_s_per_m",
            "must be >= 0",
        )?;
        let sub = neuroloop_core::time::steps_in(ctx.base_step_ms, cfg.internal_step_ms);
        require(
            cfg.internal_step_ms > 0.0 && sub.is_some_and(|s| s > 0),
            ctx,
            "internal_step_ms",
            "must be > 0 and divide the base step",
        )?;
        Ok(Spring {
            x_m: cfg.x0_m,
            v_m_per_s: cfg.v0_m_per_s,
            substeps_per_base: sub.unwrap_or(1) as u32,
            cfg,
        })
    }
}

impl Engine for Spring {
    fn ports(&self) -> Vec<PortSpec> {
        vec![
            PortSpec::input("force", PortKind::analog(&[("force", "N")])),
            PortSpec::output("position", PortKind::analog(&[("x", "m")])),
            PortSpec::output("velocity", PortKind::analog(&[("v", "m/s")])),
        ]
    }

    fn initial_outputs(&mut self, outputs: &mut Outputs) {
        outputs.analog_mut(POSITION)[0] = self.x_m;
        outputs.analog_mut(VELOCITY)[0] = self.v_m_per_s;
    }

    fn step(
        &mut self,
        ctx: &StepContext,
        inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        let f = inputs.analog(FORCE)[0];
        let h = self.cfg.internal_step_ms * 1e-3;
        let (m, k, c, rest) = (
            self.cfg.mass_kg,
            self.cfg.stiffness_n_per_m,
            self.cfg.damping_n_s_per_m,
            self.cfg.rest_m,
        );
        for _ in 0..self.substeps_per_base * ctx.n_steps {
            let a = (-k * (self.x_m - rest) - c * self.v_m_per_s + f) / m;
            self.v_m_per_s += h * a;
            self.x_m += h * self.v_m_per_s;
        }
        if !(self.x_m.is_finite() && self.v_m_per_s.is_finite()) {
            return Err(EngineError::Model(format!(
                "spring state is not finite at {} ms",
                ctx.end_ms()
            )));
        }
        outputs.analog_mut(POSITION)[0] = self.x_m;
        outputs.analog_mut(VELOCITY)[0] = self.v_m_per_s;
        Ok(())
    }

    fn reset(&mut self) -> Result<(), EngineError> {
        self.x_m = self.cfg.x0_m;
        self.v_m_per_s = self.cfg.v0_m_per_s;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuroloop_core::time::Step;

    /// Undamped, unforced: x(t) = x0 cos(sqrt(k/m) t) (the harmonic oscillator's closed form).
    #[test]
    fn undamped_spring_follows_the_closed_form() {
        let ctx = InitContext {
            name: "plant".into(),
            config: serde_json::json!({ "damping_n_s_per_m": 0.0, "internal_step_ms": 0.001 }),
            seed: 0,
            base_step_ms: 1.0,
            period: 1,
            episode: 0,
        };
        let mut s = Spring::new(&ctx).unwrap();
        let ports = s.ports();
        let inputs = Inputs::for_ports(&ports);
        let mut outputs = Outputs::for_ports(&ports);
        let omega = (10.0f64 / 0.1).sqrt();
        for t in 0..1000u64 {
            let c = StepContext {
                step: Step(t),
                n_steps: 1,
                base_step_ms: 1.0,
            };
            s.step(&c, &inputs, &mut outputs).unwrap();
            let exact = 0.05 * (omega * (t + 1) as f64 * 1e-3).cos();
            assert!((outputs.analog(POSITION)[0] - exact).abs() < 1e-4, "t={t}");
        }
    }

    #[test]
    fn bad_config_names_the_key() {
        let ctx = InitContext {
            name: "plant".into(),
            config: serde_json::json!({ "mass_kg": -1.0 }),
            seed: 0,
            base_step_ms: 1.0,
            period: 1,
            episode: 0,
        };
        let e = Spring::new(&ctx).err().unwrap().to_string();
        assert!(e.contains("engines.plant.config.mass_kg"), "{e}");
        let ctx = InitContext {
            config: serde_json::json!({ "mass": 1.0 }),
            ..ctx
        };
        let e = Spring::new(&ctx).err().unwrap().to_string();
        assert!(e.contains("unknown field `mass`"), "{e}");
    }
}
