//! Small built-in engines, for the demo experiment, the tests and the benchmarks. They are real engines
//! (the same [`Engine`] trait any engine implements) but tiny models:
//!
//! | kind | what it is | ports |
//! |---|---|---|
//! | `spring` | a mass on a spring with damping (the plant) | in `force` [N]; out `position` [m], `velocity` [m/s] |
//! | `p_controller` | a proportional controller | in `position` [m]; out `force` [N] |
//! | `poisson_source` | independent Poisson spike trains, seeded | out `spikes` (size) |
//! | `rate_decoder` | population rate, exponentially filtered | in `spikes` (size); out `rate` [Hz] |
//! | `probe` | counts what it receives (for tests of the lockstep rules) | in `value`, `spikes`; out `seen`, `spikes` |
//! | `noop` | does nothing but pass small payloads (for the coupling benchmark) | in/out analog and spikes |
//! | `fault` | crashes, hangs or fails at a given step (for fault tests) | out `value` |
//!
//! Not for: anything scientific. The brain, body and sensor engines live in their own crates.
//!
//! ```
//! use neuroloop_engines::builtin;
//! assert!(builtin("spring").is_some());
//! assert!(builtin("nope").is_none());
//! ```
#![deny(missing_docs)]

use neuroloop_core::engine::{EngineConstructor, EngineError, InitContext};

pub mod control;
pub mod plant;
pub mod spikes;
pub mod testing;

/// Names of the built-in engines.
pub const BUILTIN_NAMES: &[&str] = &[
    "spring",
    "p_controller",
    "poisson_source",
    "rate_decoder",
    "probe",
    "noop",
    "fault",
];

/// The constructor of the built-in engine `kind`.
pub fn builtin(kind: &str) -> Option<EngineConstructor> {
    Some(match kind {
        "spring" => |c| Ok(Box::new(plant::Spring::new(c)?)),
        "p_controller" => |c| Ok(Box::new(control::PController::new(c)?)),
        "poisson_source" => |c| Ok(Box::new(spikes::PoissonSource::new(c)?)),
        "rate_decoder" => |c| Ok(Box::new(spikes::RateDecoder::new(c)?)),
        "probe" => |c| Ok(Box::new(testing::Probe::new(c)?)),
        "noop" => |c| Ok(Box::new(testing::Noop::new(c)?)),
        "fault" => |c| Ok(Box::new(testing::Fault::new(c)?)),
        _ => return None,
    })
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
        Err(EngineError::Config(format!(
            "engines.{}.config.{key}: {why}",
            ctx.name
        )))
    }
}
