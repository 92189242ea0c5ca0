//! Sensor engines: what the body feels and sees, turned into spikes and address events for the brain.
//!
//! Three engines, each its own process with its own step, all fed by the body engine's outputs
//! (`body_poses`, `muscles`, `contacts`, in the layout of `neuroloop-body`) and all stamped in SIMULATED
//! time with seeded noise (two runs with the same seed give the same bits; `reset` replays):
//!
//! | kind | engine | inputs | outputs |
//! |---|---|---|---|
//! | `event_camera` | [`camera::EventCamera`]: ESIM events from a CPU ray caster ([`scene`]) | `body_poses` (7 per body) | `events` (x, y, t, polarity), optional `frame` |
//! | `skin` | [`skin::Skin`]: taxels, SA-I/RA-I/PC LIF afferents, send-on-delta | `contacts` (16 slots x 5) | `sa1`, `ra1`, optional `pc` spikes; `events` (taxel address); `pressure` |
//! | `proprioception` | [`proprio::Proprioception`]: spindle Ia/II, Golgi Ib | `muscles` (4 per muscle) | `ia`, `ii`, `ib` spikes; `rates` |
//!
//! Every engine takes its defaults from the body engine's world, so `{}` is a valid config for each
//! kind: its `world_file` key names the same file as the body engine's (relative to the experiment
//! file; by default the world compiled into `neuroloop-body`, `worlds/mouse_forelimb_joystick.toml`).
//! The camera's scene is built from the world's bodies, collision shapes and `[[bodies.visuals]]`; the
//! skin's `shapes` are the world's collision shapes in the body's contact order and its taxels lie on
//! the paw body's shapes; the proprioceptors sense the world's `[[muscles]]`. No part of the world is
//! copied into this crate by hand. Bad configurations are refused at construction with an error
//! naming the key (`engines.<name>.config.<key>: ...`). The spike encoders shared by the engines are in [`encoder`].
//!
//! Started by `neuroloop run`, the skin and proprioception engines write `<engine name>.afferents.json`
//! into the run folder: which muscle or taxel, and which afferent class, each output neuron stands
//! for ([`afferents`]).
//!
//! Not for: physics (the body engine), neurons beyond the first-order afferent encoders (the brain).
//!
//! ```
//! use neuroloop_core::engine::InitContext;
//! let ctx = InitContext {
//!     name: "spindles".into(),
//!     config: serde_json::json!({ "muscles": ["Foot1", "Foot2"] }),
//!     seed: 1,
//!     base_step_ms: 1.0,
//!     period: 1,
//!     episode: 0,
//! };
//! let engine = neuroloop_sensors::new_proprioception(&ctx).unwrap();
//! assert_eq!(engine.ports().len(), 5);
//! ```
#![deny(missing_docs)]

use std::path::Path;

use neuroloop_body::world::WorldSpec;
use neuroloop_core::engine::{BuiltinKind, Engine, EngineConfigError, EngineError, InitContext};

pub mod afferents;
pub mod camera;
pub mod encoder;
pub mod proprio;
pub mod scene;
pub mod skin;

/// The engine kinds of this crate. The camera resolves its configuration without allocating its
/// pixels or its renderer; the skin and the proprioceptors are small and are built when resolved,
/// their build stage writing their afferent map into the run folder.
pub const KINDS: &[BuiltinKind] = &[
    BuiltinKind {
        name: "event_camera",
        resolve: |c| Ok(Box::new(camera::ResolvedCamera::resolve(c)?)),
    },
    BuiltinKind {
        name: "skin",
        resolve: |c| {
            Ok(Box::new(afferents::WithAfferentMap(skin::Skin::resolve(
                c,
            )?)))
        },
    },
    BuiltinKind {
        name: "proprioception",
        resolve: |c| {
            Ok(Box::new(afferents::WithAfferentMap(
                proprio::Proprioception::resolve(c)?,
            )))
        },
    },
];

/// Creates an `event_camera` engine.
pub fn new_event_camera(ctx: &InitContext) -> Result<Box<dyn Engine>, EngineError> {
    Ok(Box::new(camera::EventCamera::new(ctx)?))
}

/// Creates a `skin` engine.
pub fn new_skin(ctx: &InitContext) -> Result<Box<dyn Engine>, EngineError> {
    Ok(Box::new(skin::Skin::new(ctx)?))
}

/// Creates a `proprioception` engine.
pub fn new_proprioception(ctx: &InitContext) -> Result<Box<dyn Engine>, EngineError> {
    Ok(Box::new(proprio::Proprioception::new(ctx)?))
}

/// Checks a configuration value and names the key if it is wrong.
pub(crate) fn require(
    ok: bool,
    ctx: &InitContext,
    key: &str,
    why: &str,
) -> Result<(), EngineError> {
    if ok {
        Ok(())
    } else {
        Err(config_error(ctx, key, why))
    }
}

/// The body engine's world a sensor takes its defaults from: the file under the config key
/// `world_file` (a load or validation error names that key), or, without one, the world compiled into
/// `neuroloop-body` (`worlds/mouse_forelimb_joystick.toml`). Also returns how to name the world in
/// messages: the path, or `the built-in world`.
pub(crate) fn load_world(
    ctx: &InitContext,
    world_file: Option<&Path>,
) -> Result<(WorldSpec, String), EngineError> {
    match world_file {
        Some(path) => {
            let world = WorldSpec::load(path)
                .map_err(|e| config_error(ctx, "world_file", &e.to_string()))?;
            Ok((world, path.display().to_string()))
        }
        None => Ok((
            WorldSpec::mouse_forelimb_joystick(),
            "the built-in world".to_string(),
        )),
    }
}

/// The world of `world_file`, which replaces the top-level list `key` (e.g. `shapes`, `muscles`): a
/// configuration that gives both is refused naming `key`.
pub(crate) fn load_world_instead_of(
    ctx: &InitContext,
    world_file: &Path,
    key: &str,
) -> Result<(WorldSpec, String), EngineError> {
    require(
        !given(ctx, key),
        ctx,
        key,
        &format!("the {key} come from world_file: give one of them"),
    )?;
    load_world(ctx, Some(world_file))
}

/// Whether the configuration sets `key` (at the top level) itself, rather than leaving it to its
/// default.
pub(crate) fn given(ctx: &InitContext, key: &str) -> bool {
    ctx.config.get(key).is_some()
}

/// A configuration error naming `engines.<name>.config.<key>`.
pub(crate) fn config_error(ctx: &InitContext, key: &str, why: &str) -> EngineError {
    EngineConfigError::config(&ctx.name, key, why).into()
}

/// Number of internal steps of `dt_ms` in one sync step, or an error naming `key` if `dt_ms` does not
/// divide the sync step.
pub(crate) fn substeps(ctx: &InitContext, key: &str, dt_ms: f64) -> Result<u32, EngineError> {
    let n = neuroloop_core::time::steps_in(ctx.step_ms(), dt_ms).filter(|&n| n > 0);
    match n {
        Some(n) if dt_ms > 0.0 && n <= u64::from(u32::MAX) => Ok(n as u32),
        _ => Err(config_error(
            ctx,
            key,
            &format!(
                "must be > 0 and divide the sync step of {} ms",
                ctx.step_ms()
            ),
        )),
    }
}

/// Number of internal steps of `dt_ms` in a step of `step_ms` at run time.
pub(crate) fn substeps_at_run(step_ms: f64, dt_ms: f64) -> Result<u32, EngineError> {
    neuroloop_core::time::steps_in(step_ms, dt_ms)
        .filter(|&n| n > 0 && n <= u64::from(u32::MAX))
        .map(|n| n as u32)
        .ok_or_else(|| {
            EngineError::Model(format!(
                "internal step {dt_ms} ms does not divide the step of {step_ms} ms"
            ))
        })
}
