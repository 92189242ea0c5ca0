//! The engines built into this binary, and how the experiment checker sees them.
//!
//! Every engine kind that `neuroloop engine <kind>` can run is listed here, in one place: the small
//! engines of `neuroloop_engines` plus the science engines (brain, body, sensors) as they arrive.

use neuroloop_core::engine::{EngineConstructor, InitContext};
use neuroloop_core::experiment::PortCatalog;
use neuroloop_core::port::PortSpec;

/// The constructor of the built-in engine `kind`, from whichever crate provides it.
pub fn constructor(kind: &str) -> Option<EngineConstructor> {
    match kind {
        "brain" => Some(neuroloop_brain::engine::new_engine),
        "body" => Some(neuroloop_body::new_engine),
        "joystick_pd" => Some(neuroloop_body::new_controller_engine),
        "event_camera" => Some(neuroloop_sensors::new_event_camera),
        "skin" => Some(neuroloop_sensors::new_skin),
        "proprioception" => Some(neuroloop_sensors::new_proprioception),
        _ => neuroloop_engines::builtin(kind),
    }
}

/// Names of every built-in engine kind.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = neuroloop_engines::BUILTIN_NAMES.to_vec();
    names.extend_from_slice(&["brain", "body", "joystick_pd"]);
    names.extend_from_slice(neuroloop_sensors::KINDS);
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
