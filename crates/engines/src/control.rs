//! A proportional controller: the controller of the demo experiment.

use neuroloop_core::engine::{Engine, EngineError, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::port::{PortKind, PortSpec};
use serde::Deserialize;

/// Configuration of [`PController`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PControllerConfig {
    /// Target position in m (default 0).
    pub target_m: f64,
    /// Gain in N/m (default 5).
    pub gain_n_per_m: f64,
    /// Largest force magnitude in N (default 10).
    pub max_force_n: f64,
}

impl Default for PControllerConfig {
    fn default() -> Self {
        PControllerConfig {
            target_m: 0.0,
            gain_n_per_m: 5.0,
            max_force_n: 10.0,
        }
    }
}

/// F = clamp(gain (target - x), -max, max).
pub struct PController {
    cfg: PControllerConfig,
}

impl PController {
    /// Builds the controller from its configuration.
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        let cfg: PControllerConfig = ctx.config()?;
        neuroloop_core::engine::require(
            cfg.max_force_n >= 0.0,
            ctx,
            "max_force_n",
            "must be >= 0",
        )?;
        Ok(PController { cfg })
    }
}

impl Engine for PController {
    fn ports(&self) -> Vec<PortSpec> {
        vec![
            PortSpec::input("position", PortKind::analog(&[("x", "m")])),
            PortSpec::output("force", PortKind::analog(&[("force", "N")])),
        ]
    }

    fn step(
        &mut self,
        _ctx: &StepContext,
        inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        let x = inputs.analog(0)[0];
        let f = (self.cfg.gain_n_per_m * (self.cfg.target_m - x))
            .clamp(-self.cfg.max_force_n, self.cfg.max_force_n);
        outputs.analog_mut(1)[0] = f;
        Ok(())
    }

    fn reset(&mut self) -> Result<(), EngineError> {
        Ok(())
    }
}
