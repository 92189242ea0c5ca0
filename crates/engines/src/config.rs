//! Configuration checks the built-in engines share.

use neuroloop_core::engine::{EngineConfigError, EngineError, InitContext};

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
        Err(EngineConfigError::config(&ctx.name, key, why).into())
    }
}
