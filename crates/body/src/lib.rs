//! The body engine: a musculoskeletal mouse left forelimb holding a 2-DoF joystick, simulated with
//! rapier3d, with 8 Hill-type muscles and the joystick pull task of Mathis, Mathis & Uchida (2017),
//! Neuron 93:1493. The numbers come from the HBP Neurorobotics Platform's RoboBrain model (see
//! `worlds/mouse_forelimb_joystick.toml`).
//!
//! Not for: sensing (the sensor engines turn these outputs into spikes) or control (the brain; a scripted
//! PD controller, [`controller::JoystickPd`], exists only to test the body and the task).
//!
//! Main types: [`world::WorldSpec`] (the world file and its validation), [`physics::Body`] (rapier world +
//! muscles + task, stepped by [`physics::Body::step`]), [`muscle`] (curves and activation dynamics),
//! [`task::Task`] (trial state machine, perturbation, [`task::TrialRecord`]), [`engine::BodyEngine`]
//! (engine kind `body`) and [`controller::JoystickPd`] (engine kind `joystick_pd`).
//!
//! # Modelling choices
//! - Units: SI with the real masses (9-52 mg) and the reference's (large) inertias; no unit scaling is
//!   needed because the arm and the joystick are rapier multibodies (reduced coordinates) whose joint
//!   damping and springs are integrated implicitly. Rapier's `length_unit` is 1 mm. Stable at 0.5, 1 and
//!   2 ms (tested).
//! - Muscles: De Groote et al. (2016) closed-form curves, rigid tendon, zero pennation, fiber damping 0.1,
//!   OpenSim 3.3 activation dynamics; forces act along every path segment that spans two bodies, equal
//!   and opposite.
//! - The paw-joystick ball joint closes the loop as an impulse joint (the only non-multibody joint).
//!   Rapier runs one substep per physics step with 12 Gauss-Seidel passes (`physics.solver_iterations`
//!   = 1, `physics.pgs_iterations` = 12): the loop stays closed to ~0.1 um on average and 17 um at
//!   worst over 10 simulated minutes of random excitation (8 substeps of one pass: ~25 um) at a quarter
//!   of the cost, because each substep refreshes the multibodies' mass matrices and a pass does not (16
//!   passes: 10 um at worst, 10 % more instructions per step).
//! - Collision shapes (new; the NRP model had none): a palm pad and four digit capsules on the paw,
//!   hooked 30 um around a capsule handle. They touch when the muscles twist the paw about the grip: in
//!   81 % of the steps of a scripted pull session (up to 0.5 N in all), never in a limb left passive.
//! - Task defaults: the end box starts at 3.5 mm (this arm's joint limits stop the pull at 4.8 mm, 1.4 mm
//!   off axis, so the rig's 4 mm box is at the edge of the workspace); the
//!   force-field pulse is 0.1 N for 100 ms (see the world file's comments).
//! - Speed: measured by `examples/body_step_rate.rs` against the previous setting of 8 substeps; the
//!   figures are in the README (section "Body and camera"), not here, where they would drift.
//!
//! # Ports of the `body` engine
//! | # | port | dir | channels |
//! |---|---|---|---|
//! | 0 | `excitations` | in | 8, NRP order Foot1, Foot2, Radius1, Radius2, Humerus1-4, unit 1, in [0, 1] (out of range: step error, or clamped with `clamp_excitations = true`) |
//! | 1 | `joint_torques` | in | one per joint in world order (N m; ball joints ignore theirs), optional |
//! | 2 | `joint_angles` | out | revolute joints: shoulder1, shoulder2, elbow, wrist, joystick_lateral, joystick_fore_aft (rad, 0 at the reference pose) |
//! | 3 | `joint_velocities` | out | same joints (rad/s) |
//! | 4 | `muscles` | out | per muscle `Foot1.length_m`, `Foot1.velocity_m_per_s` (lengthening > 0), `Foot1.force_n`, `Foot1.activation`, ... (32) |
//! | 5 | `paw_position_mm` | out | paw grip point relative to rest: x pull, y lateral, z = lateral x pull (up) |
//! | 6 | `joystick_position_mm` | out | grip relative to rest: x pull (towards the mouse, > 0), y lateral |
//! | 7 | `body_poses` | out | per body in world order `humerus.x`, `.y`, `.z` (m), `.qw`, `.qx`, `.qy`, `.qz` (model frame, z up) |
//! | 8 | `contacts` | out | 16 slots x (`cK.shape`: 1-based index into the world's shape list, [`physics::Body::shape_names`] (shipped world: 1 palm_pad, 2-5 digit2-digit5), 0 = unused slot; `cK.x`, `.y`, `.z`: point in the paw (foot) body frame, m; `cK.normal_force_n`) |
//! | 9 | `task` | out | `state` (0 iti, 1 home, 2 armed, 3 moving, 4 holding, 5 done), `trial` (0-based), `outcome` of the last finished trial (0 none, 1 success, 2 timeout), `lateral_force_n` (the pulse) |
//! | 10 | `reward` | out | scalar: number of rewards given during the step (1 in the step a trial succeeds, else 0) |
//!
//! Per-trial records: [`engine::BodyEngine::trials`], and one JSON line per trial, appended as the trial
//! ends, to `<engine name>.trials.jsonl` in the run folder (or the config's `trials_path`; NaN times
//! appear as `null`).
//!
//! ```
//! use neuroloop_body::physics::Body;
//! use neuroloop_body::world::WorldSpec;
//! let mut body = Body::new(WorldSpec::mouse_forelimb_joystick(), 1e-3).unwrap();
//! for _ in 0..10 {
//!     body.step(&[0.0; 8], &[0.0; 7]).unwrap();
//! }
//! assert!(body.joystick_position_mm()[0].abs() < 0.5);
//! ```
#![deny(missing_docs)]

use neuroloop_core::engine::{Built, BuiltinKind, Engine, EngineError, InitContext};

pub mod controller;
pub mod engine;
pub mod math;
pub mod muscle;
pub mod physics;
pub mod task;
pub mod world;

/// What can go wrong building or stepping the body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The world file cannot be parsed.
    #[error("world file: {0}")]
    Parse(String),
    /// A world value is wrong; `key` is its path in the file.
    #[error("world file: {key}: {why}")]
    World {
        /// Key path, e.g. `muscles[2].path[1].body`.
        key: String,
        /// What is wrong.
        why: String,
    },
    /// A step's inputs do not fit the world.
    #[error("input: {0}")]
    Input(String),
    /// The simulation produced a non-finite state.
    #[error("unstable: {0}")]
    Unstable(String),
}

/// The engine kinds of this crate: `body` (resolving reads and checks the world; the rapier world is
/// built only at build) and `joystick_pd` (tiny: resolving builds it).
pub const KINDS: &[BuiltinKind] = &[
    BuiltinKind {
        name: "body",
        resolve: |c| Ok(Box::new(engine::ResolvedBody::resolve(c)?)),
    },
    BuiltinKind {
        name: "joystick_pd",
        resolve: |c| Ok(Box::new(Built(Box::new(controller::JoystickPd::new(c)?)))),
    },
];

/// Constructor of the `body` engine.
pub fn new_engine(ctx: &InitContext) -> Result<Box<dyn Engine>, EngineError> {
    Ok(Box::new(engine::BodyEngine::new(ctx)?))
}

/// Constructor of the `joystick_pd` scripted controller engine.
pub fn new_controller_engine(ctx: &InitContext) -> Result<Box<dyn Engine>, EngineError> {
    Ok(Box::new(controller::JoystickPd::new(ctx)?))
}
