//! Simulated time. Inside neuroloop time is an integer number of *base steps* ([`Step`]); the base step's
//! length in milliseconds is fixed per experiment. Milliseconds appear only in files, on the wire where
//! a language-neutral value is needed (spike and event times), and in recordings.

use serde::{Deserialize, Serialize};

/// A point in simulated time, counted in base steps since t = 0.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Step(pub u64);

impl Step {
    /// Milliseconds since t = 0 for a base step of `base_step_ms`.
    pub fn to_ms(self, base_step_ms: f64) -> f64 {
        self.0 as f64 * base_step_ms
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {}", self.0)
    }
}

/// How many whole base steps `ms` is, if it is a whole multiple of `base_step_ms` (to 1e-9 relative).
///
/// ```
/// use neuroloop_core::time::steps_in;
/// assert_eq!(steps_in(3.0, 1.0), Some(3));
/// assert_eq!(steps_in(0.3, 0.1), Some(3));
/// assert_eq!(steps_in(2.5, 1.0), None);
/// ```
pub fn steps_in(ms: f64, base_step_ms: f64) -> Option<u64> {
    if !(ms.is_finite() && base_step_ms.is_finite()) || base_step_ms <= 0.0 || ms < 0.0 {
        return None;
    }
    let ratio = ms / base_step_ms;
    let rounded = ratio.round();
    if (ratio - rounded).abs() <= 1e-9 * rounded.max(1.0) {
        Some(rounded as u64)
    } else {
        None
    }
}
