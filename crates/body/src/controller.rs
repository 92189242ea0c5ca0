//! A scripted controller (kind `joystick_pd`): PD control of the joystick grip through muscle
//! excitations. Not a model of the mouse's brain: a test driver for the body and the task.
//!
//! Each step it reads the grip position (`joystick_position_mm`) and the task state (`task`). While the
//! task is `Armed`, `Moving` or `Holding` the pull target is `target_pull_mm`, otherwise 0 (return home).
//! The pull command e = kp (target - x) - kd dx/dt (dx/dt by finite difference of the input) drives the
//! pulling muscles with weights `pull_weights` when positive and the pushing muscles with
//! `push_weights` when negative; the lateral command (target 0) does the same with `left_weights` /
//! `right_weights`. Every muscle also gets `baseline` (co-contraction). Excitations are clamped to [0, 1].
//!
//! Default weights come from the body's response to single muscles at excitation 0.3 for 150 ms:
//! Humerus2 (+0.8 mm) and Foot1 (+0.3 mm) pull the grip (Radius1 pulls too but drags it laterally);
//! Humerus1 (-1.3 mm), Radius2 and Foot2 push it; Humerus3 moves it to +y (lateral), Humerus4 to -y.

use neuroloop_core::engine::{
    Engine, EngineConfigError, EngineError, InitContext, Inputs, Outputs, StepContext,
};
use neuroloop_core::port::{PortKind, PortSpec};
use serde::Deserialize;

use crate::task::TaskState;

/// Configuration of [`JoystickPd`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JoystickPdConfig {
    /// Pull target during a trial, mm (default 4.5: 1 mm past the end box, so that the P term still
    /// pulls there).
    pub target_pull_mm: f64,
    /// Proportional gain, excitation per mm (default 0.5).
    pub kp_per_mm: f64,
    /// Derivative gain, excitation per mm/s (default 0.004).
    pub kd_per_mm_per_s: f64,
    /// Lateral proportional gain, excitation per mm (default 0.3).
    pub lateral_kp_per_mm: f64,
    /// Lateral derivative gain, excitation per mm/s (default 0.003).
    pub lateral_kd_per_mm_per_s: f64,
    /// Excitation added to every muscle (default 0.02).
    pub baseline: f64,
    /// Weights of the muscles that pull (NRP order).
    pub pull_weights: [f64; 8],
    /// Weights of the muscles that push.
    pub push_weights: [f64; 8],
    /// Weights of the muscles that move the grip to +lateral.
    pub left_weights: [f64; 8],
    /// Weights of the muscles that move the grip to -lateral.
    pub right_weights: [f64; 8],
}

impl Default for JoystickPdConfig {
    fn default() -> Self {
        JoystickPdConfig {
            target_pull_mm: 4.5,
            kp_per_mm: 0.5,
            kd_per_mm_per_s: 0.004,
            lateral_kp_per_mm: 0.3,
            lateral_kd_per_mm_per_s: 0.003,
            baseline: 0.02,
            pull_weights: [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
            push_weights: [0.0, 0.5, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0],
            left_weights: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            right_weights: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        }
    }
}

/// The scripted PD controller.
pub struct JoystickPd {
    cfg: JoystickPdConfig,
    prev: Option<[f64; 2]>,
}

const IN_JOYSTICK: usize = 0;
const IN_TASK: usize = 1;
const OUT_EXCITATIONS: usize = 2;

/// Muscle names in NRP command order.
pub const MUSCLE_ORDER: [&str; 8] = [
    "Foot1", "Foot2", "Radius1", "Radius2", "Humerus1", "Humerus2", "Humerus3", "Humerus4",
];

impl JoystickPd {
    /// Builds the controller from its configuration.
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        let cfg: JoystickPdConfig = ctx.config()?;
        let scalars = [
            (cfg.target_pull_mm, "target_pull_mm"),
            (cfg.kp_per_mm, "kp_per_mm"),
            (cfg.kd_per_mm_per_s, "kd_per_mm_per_s"),
            (cfg.lateral_kp_per_mm, "lateral_kp_per_mm"),
            (cfg.lateral_kd_per_mm_per_s, "lateral_kd_per_mm_per_s"),
            (cfg.baseline, "baseline"),
        ];
        for (v, k) in scalars {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(EngineConfigError::config(
                    &ctx.name,
                    k,
                    format!("must be >= 0 (got {v})"),
                )
                .into());
            }
        }
        for (w, k) in [
            (&cfg.pull_weights, "pull_weights"),
            (&cfg.push_weights, "push_weights"),
            (&cfg.left_weights, "left_weights"),
            (&cfg.right_weights, "right_weights"),
        ] {
            if let Some(i) = w.iter().position(|x| !(*x >= 0.0 && x.is_finite())) {
                return Err(EngineConfigError::config(
                    &ctx.name,
                    &format!("{k}[{i}]"),
                    "weights must be >= 0",
                )
                .into());
            }
        }
        Ok(JoystickPd { cfg, prev: None })
    }

    /// Excitations for a grip at `pos` mm moving at `vel` mm/s with the task in `state`.
    pub fn command(&self, pos: [f64; 2], vel: [f64; 2], state: f64) -> [f64; 8] {
        let c = &self.cfg;
        let active = [TaskState::Armed, TaskState::Moving, TaskState::Holding]
            .iter()
            .any(|s| *s as u8 as f64 == state);
        let target = if active { c.target_pull_mm } else { 0.0 };
        let e = c.kp_per_mm * (target - pos[0]) - c.kd_per_mm_per_s * vel[0];
        let el = c.lateral_kp_per_mm * (0.0 - pos[1]) - c.lateral_kd_per_mm_per_s * vel[1];
        let mut u = [c.baseline; 8];
        for (k, uk) in u.iter_mut().enumerate() {
            *uk += e.max(0.0) * c.pull_weights[k]
                + (-e).max(0.0) * c.push_weights[k]
                + el.max(0.0) * c.left_weights[k]
                + (-el).max(0.0) * c.right_weights[k];
            *uk = uk.clamp(0.0, 1.0);
        }
        u
    }
}

impl Engine for JoystickPd {
    fn ports(&self) -> Vec<PortSpec> {
        let ex: Vec<(&str, &str)> = MUSCLE_ORDER.iter().map(|m| (*m, "1")).collect();
        vec![
            PortSpec::input(
                "joystick_position_mm",
                PortKind::analog(&[("x", "mm"), ("y", "mm")]),
            ),
            PortSpec::input(
                "task",
                PortKind::analog(&[
                    ("state", "1"),
                    ("trial", "1"),
                    ("outcome", "1"),
                    ("lateral_force_n", "N"),
                ]),
            ),
            PortSpec::output("excitations", PortKind::analog(&ex)),
        ]
    }

    fn step(
        &mut self,
        ctx: &StepContext,
        inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        let p = inputs.analog(IN_JOYSTICK);
        let pos = [p[0], p[1]];
        let dt_s = ctx.dt_ms() * 1e-3;
        let vel = match self.prev {
            Some(q) => [(pos[0] - q[0]) / dt_s, (pos[1] - q[1]) / dt_s],
            None => [0.0, 0.0],
        };
        self.prev = Some(pos);
        let state = inputs.analog(IN_TASK)[0];
        let u = self.command(pos, vel, state);
        outputs.analog_mut(OUT_EXCITATIONS).copy_from_slice(&u);
        Ok(())
    }

    fn reset(&mut self) -> Result<(), EngineError> {
        self.prev = None;
        Ok(())
    }
}
