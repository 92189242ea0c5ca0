//! The engines built into this binary, and how the experiment checker sees them.
//!
//! Every engine kind that `neuroloop engine <kind>` can run is listed here, in one place: the small
//! engines of `neuroloop_engines` plus the science engines (brain, body, sensors) as they arrive.

use neuroloop_core::engine::{EngineConstructor, InitContext};
use neuroloop_core::experiment::PortCatalog;
use neuroloop_core::port::PortSpec;

/// The constructor of the built-in engine `kind`, from whichever crate provides it.
pub fn constructor(kind: &str) -> Option<EngineConstructor> {
    neuroloop_engines::builtin(kind)
}

/// Names of every built-in engine kind.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = neuroloop_engines::BUILTIN_NAMES.to_vec();
    names.sort_unstable();
    names
}

/// A configuration with which `kind` can be created for `neuroloop engines` (its ports listing).
pub fn sample_config(kind: &str) -> serde_json::Value {
    match kind {
        "fault" => serde_json::json!({"mode": "none"}),
        _ => serde_json::json!({}),
    }
}

/// Port catalog of the engines built into this binary.
pub struct Builtins;

impl PortCatalog for Builtins {
    fn is_builtin(&self, kind: &str) -> bool {
        constructor(kind).is_some()
    }

    fn builtin_ports(&self, kind: &str, ctx: &InitContext) -> Result<Vec<PortSpec>, String> {
        let construct =
            constructor(kind).ok_or_else(|| format!("unknown built-in engine {kind:?}"))?;
        let engine = construct(ctx).map_err(|e| e.to_string())?;
        Ok(engine.ports())
    }

    fn builtin_names(&self) -> Vec<String> {
        names().into_iter().map(String::from).collect()
    }
}
