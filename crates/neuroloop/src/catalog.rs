//! The built-in engines as the experiment checker sees them.

use neuroloop_core::engine::InitContext;
use neuroloop_core::experiment::PortCatalog;
use neuroloop_core::port::PortSpec;

/// Port catalog of the engines built into this binary (`neuroloop_engines`).
pub struct Builtins;

impl PortCatalog for Builtins {
    fn is_builtin(&self, kind: &str) -> bool {
        neuroloop_engines::builtin(kind).is_some()
    }

    fn builtin_ports(&self, kind: &str, ctx: &InitContext) -> Result<Vec<PortSpec>, String> {
        let construct = neuroloop_engines::builtin(kind)
            .ok_or_else(|| format!("unknown built-in engine {kind:?}"))?;
        let engine = construct(ctx).map_err(|e| e.to_string())?;
        Ok(engine.ports())
    }

    fn builtin_names(&self) -> Vec<String> {
        neuroloop_engines::BUILTIN_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}
