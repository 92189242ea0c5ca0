//! The proprioceptors' muscles come from the body's world file (or the world compiled into
//! `neuroloop-body`): the `muscles` input is the body engine's `muscles` output, channel by channel;
//! bad world files and conflicting keys are refused naming the key.

mod common;
use common::{ctx, shipped_world_path, temp_world, Harness};
use neuroloop_body::world::{WorldSpec, MOUSE_FORELIMB_JOYSTICK};
use neuroloop_core::engine::Engine;
use neuroloop_core::port::{PortKind, PortSpec};
use neuroloop_sensors::proprio::{world_muscles, Proprioception, ProprioceptionConfig};
use serde_json::{json, Value};

fn config_error(config: Value) -> String {
    common::config_error(neuroloop_sensors::new_proprioception, config)
}

fn channels(ports: &[PortSpec], name: &str) -> Vec<(String, String)> {
    let p = ports.iter().find(|p| p.name == name).expect(name);
    match &p.kind {
        PortKind::Analog { channels } => channels
            .iter()
            .map(|c| (c.name.clone(), c.unit.clone()))
            .collect(),
        k => panic!("{name}: {k:?}"),
    }
}

/// The `muscles` output of a body engine on the world at `path`.
fn body_muscles(path: &std::path::Path) -> Vec<(String, String)> {
    let body =
        neuroloop_body::engine::BodyEngine::new(&ctx("body", json!({ "world_file": path }), 1, 1))
            .unwrap();
    channels(&body.ports(), "muscles")
}

fn spindles(config: Value) -> Proprioception {
    Proprioception::new(&ctx("spindles", config, 1, 1)).expect("valid configuration")
}

#[test]
fn default_muscles_are_the_shipped_worlds_in_the_body_engines_order() {
    let w = WorldSpec::mouse_forelimb_joystick();
    let cfg = ProprioceptionConfig::default();
    assert_eq!(cfg.muscles, world_muscles(&w));
    assert_eq!(
        cfg.muscles,
        ["Foot1", "Foot2", "Radius1", "Radius2", "Humerus1", "Humerus2", "Humerus3", "Humerus4"]
    );
    let built_in = spindles(json!({}));
    let from_file = spindles(json!({ "world_file": shipped_world_path() }));
    assert_eq!(built_in.ports(), from_file.ports());
    let input = channels(&from_file.ports(), "muscles");
    assert_eq!(input.len(), 32);
    assert_eq!(input, body_muscles(&shipped_world_path()));
}

#[test]
fn a_muscle_added_to_the_world_is_sensed() {
    // A ninth muscle (a copy of Foot1's path), appended to the shipped world.
    let extra = "\n[[muscles]]\nname = \"Extensor\"\nmax_isometric_force_n = 0.5\noptimal_fiber_length_m = 0.005\ntendon_slack_length_m = 0.0005\npath = [\n  { body = \"radius\", point_m = [0.008502, 0.000730, 0.001280] },\n  { body = \"foot\", point_m = [0.001197, 0.000246, -0.001244] },\n]\n";
    let path = temp_world("extra", &format!("{MOUSE_FORELIMB_JOYSTICK}{extra}"));
    let input = channels(&spindles(json!({ "world_file": path })).ports(), "muscles");
    assert_eq!(input.len(), 36);
    assert_eq!(input[32].0, "Extensor.length_m");
    assert_eq!(input, body_muscles(&path));
    // The ninth muscle's spindle follows its own stretch: Ia rises from its resting rate.
    let mut h = Harness::new(
        neuroloop_sensors::new_proprioception,
        &ctx("spindles", json!({ "world_file": path }), 1, 1),
    );
    let mut x = vec![0.0; 36];
    for m in 0..9 {
        x[4 * m] = 0.01;
    }
    h.step(Some(&x));
    let rest = h.analog("rates");
    assert_eq!(rest.len(), 27);
    x[32] = 0.011; // Extensor stretched by 1 mm
    h.step(Some(&x));
    let stretched = h.analog("rates");
    assert_eq!(stretched[..24], rest[..24]);
    assert!(
        stretched[24] > rest[24] && stretched[25] > rest[25],
        "{stretched:?}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn bad_world_files_and_conflicting_keys_are_refused_naming_the_key() {
    common::assert_world_file_errors(
        neuroloop_sensors::new_proprioception,
        "proprio",
        "max_isometric_force_n = 0.8",
        "max_isometric_force_n = -0.8",
        "muscles[0].max_isometric_force_n",
    );
    // The muscles come from the world or from the config, not both.
    let m = config_error(json!({ "world_file": shipped_world_path(), "muscles": ["Foot1"] }));
    assert!(
        m.starts_with("engines.s.config.muscles: ") && m.contains("world_file"),
        "{m}"
    );
    // rest_length_m is checked against the world's muscles.
    let m = config_error(json!({ "world_file": shipped_world_path(), "rest_length_m": [0.01] }));
    assert!(
        m.starts_with("engines.s.config.rest_length_m: ") && m.contains("one length per muscle"),
        "{m}"
    );
    // A world without muscles has nothing to sense.
    let start = MOUSE_FORELIMB_JOYSTICK.find("[[muscles]]").unwrap();
    let end = MOUSE_FORELIMB_JOYSTICK.find("[joystick]").unwrap();
    let none = temp_world(
        "none",
        &format!(
            "{}{}",
            &MOUSE_FORELIMB_JOYSTICK[..start],
            &MOUSE_FORELIMB_JOYSTICK[end..]
        ),
    );
    assert!(WorldSpec::load(&none).unwrap().muscles.is_empty());
    let m = config_error(json!({ "world_file": none }));
    assert!(
        m.starts_with("engines.s.config.world_file: ") && m.contains("no [[muscles]]"),
        "{m}"
    );
    std::fs::remove_file(&none).unwrap();
}
