//! Configuration helpers the sensor engines share: errors naming the offending key, the body
//! engine's world a sensor takes its defaults from, and internal steps per sync step.

use std::path::Path;

use neuroloop_body::world::WorldSpec;
use neuroloop_core::engine::{require, EngineConfigError, EngineError, InitContext};

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
