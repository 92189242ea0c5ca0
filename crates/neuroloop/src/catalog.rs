//! The engines built into this binary, and how the experiment checker sees them.
//!
//! Every engine kind that `neuroloop engine <kind>` can run is listed here, in one place: the small
//! engines of `neuroloop_engines` plus the science engines (brain, body, sensors) as they arrive.

use neuroloop_core::engine::{BuiltinKind, EngineError, InitContext};
use neuroloop_core::experiment::PortCatalog;
use neuroloop_core::port::PortSpec;

/// The engine-kind tables of the crates built into this binary (each crate lists its kinds once).
const TABLES: &[&[BuiltinKind]] = &[
    neuroloop_engines::KINDS,
    neuroloop_brain::engine::KINDS,
    neuroloop_body::KINDS,
    neuroloop_sensors::KINDS,
];

/// The built-in engine `kind`, from whichever crate provides it.
pub fn builtin(kind: &str) -> Option<&'static BuiltinKind> {
    TABLES
        .iter()
        .flat_map(|t| t.iter())
        .find(|k| k.name == kind)
}

/// Names of every built-in engine kind, sorted.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = TABLES
        .iter()
        .flat_map(|t| t.iter())
        .map(|k| k.name)
        .collect();
    names.sort_unstable();
    names
}

/// A configuration with which `kind` can be created for `neuroloop engines` (its ports listing).
pub fn sample_config(kind: &str) -> serde_json::Value {
    match kind {
        "fault" => serde_json::json!({"mode": "none"}),
        "brain" => serde_json::json!({"network": {
            "populations": [{"name": "E", "model": "iaf_psc_exp", "n": 10}],
            "inputs": [{"name": "input", "target": "E", "weight": 100.0}],
            "outputs": [{"name": "spikes", "population": "E"}],
        }}),
        _ => serde_json::json!({}),
    }
}

/// Port catalog of the engines built into this binary.
pub struct Builtins;

impl PortCatalog for Builtins {
    fn is_builtin(&self, kind: &str) -> bool {
        builtin(kind).is_some()
    }

    /// The ports from the resolved configuration: nothing is built (no network, physics world or
    /// renderer), so checking an experiment allocates no engine.
    fn builtin_ports(&self, kind: &str, ctx: &InitContext) -> Result<Vec<PortSpec>, EngineError> {
        let kind = builtin(kind)
            .ok_or_else(|| EngineError::Model(format!("unknown built-in engine {kind:?}")))?;
        Ok((kind.resolve)(ctx)?.ports())
    }

    fn builtin_names(&self) -> Vec<String> {
        names().into_iter().map(String::from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first stage tells the ports the built engine has, for every built-in kind.
    #[test]
    fn resolved_ports_are_the_built_engines_ports() {
        for kind in names() {
            let ctx = InitContext {
                name: kind.to_string(),
                config: sample_config(kind),
                seed: 3,
                base_step_ms: 1.0,
                period: 1,
                episode: 0,
            };
            let builtin = builtin(kind).expect("listed");
            let resolved = (builtin.resolve)(&ctx).expect("sample config resolves");
            let from_config = resolved.ports();
            let engine = resolved.build(&ctx).expect("sample config builds");
            assert_eq!(from_config, engine.ports(), "{kind}");
        }
    }
}
