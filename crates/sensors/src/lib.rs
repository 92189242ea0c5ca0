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

use neuroloop_core::engine::{BuiltinKind, Engine, EngineError, InitContext};

pub mod afferents;
pub mod camera;
pub mod encoder;
mod engine_config;
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
