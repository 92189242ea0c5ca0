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

use neuroloop_core::engine::{Built, BuiltinKind};

pub mod control;
pub mod plant;
pub mod spikes;
pub mod testing;

/// The built-in engine kinds of this crate. Each is tiny (its engine holds little more than its checked
/// configuration), so resolving its configuration builds it ([`Built`]).
pub const KINDS: &[BuiltinKind] = &[
    BuiltinKind {
        name: "spring",
        resolve: |c| Ok(Box::new(Built(Box::new(plant::Spring::new(c)?)))),
    },
    BuiltinKind {
        name: "p_controller",
        resolve: |c| Ok(Box::new(Built(Box::new(control::PController::new(c)?)))),
    },
    BuiltinKind {
        name: "poisson_source",
        resolve: |c| Ok(Box::new(Built(Box::new(spikes::PoissonSource::new(c)?)))),
    },
    BuiltinKind {
        name: "rate_decoder",
        resolve: |c| Ok(Box::new(Built(Box::new(spikes::RateDecoder::new(c)?)))),
    },
    BuiltinKind {
        name: "probe",
        resolve: |c| Ok(Box::new(Built(Box::new(testing::Probe::new(c)?)))),
    },
    BuiltinKind {
        name: "noop",
        resolve: |c| Ok(Box::new(Built(Box::new(testing::Noop::new(c)?)))),
    },
    BuiltinKind {
        name: "fault",
        resolve: |c| Ok(Box::new(Built(Box::new(testing::Fault::new(c)?)))),
    },
];

/// The built-in engine `kind` of this crate.
pub fn builtin(kind: &str) -> Option<&'static BuiltinKind> {
    KINDS.iter().find(|k| k.name == kind)
}
