//! Bad configurations are refused at construction with an error naming the key.

mod common;
use common::{ctx, Constructor};
use neuroloop_core::engine::EngineError;
use serde_json::{json, Value};

fn refused(make: Constructor, config: Value, period: u32, key: &str, why: &str) {
    match make(&ctx("s", config.clone(), 1, period)) {
        Ok(_) => panic!("accepted {config}"),
        Err(EngineError::Config(m)) => {
            let m = m.to_string();
            assert!(
                m.starts_with(&format!("engines.s.config.{key}")) && m.contains(why),
                "{m:?} should name engines.s.config.{key} and say {why:?}"
            );
        }
        Err(e) => panic!("not a configuration error: {e}"),
    }
}

#[test]
fn camera_refuses_bad_configurations() {
    let cam = neuroloop_sensors::new_event_camera;
    refused(cam, json!({ "width": 0 }), 1, "width", "> 0");
    refused(cam, json!({ "height": 0 }), 1, "height", "> 0");
    refused(
        cam,
        json!({ "render": { "dt_ms": 0.3 } }),
        1,
        "render.dt_ms",
        "divide the sync step",
    );
    refused(
        cam,
        json!({ "render": { "dt_ms": 3.0 } }),
        2,
        "render.dt_ms",
        "divide the sync step",
    );
    refused(cam, json!({ "widht": 3 }), 1, "", "unknown field");
    refused(
        cam,
        json!({ "esim": { "leak_rate_hz": -1.0 } }),
        1,
        "esim.leak_rate_hz",
        ">= 0",
    );
    refused(
        cam,
        json!({ "camera": { "position_m": [0.0, 0.0, 0.05] },
                "scene": { "planes": [], "objects": [{ "name": "ball", "shape": { "type": "sphere", "radius_m": 0.1 } }] } }),
        1,
        "camera.position_m",
        "inside object \"ball\"",
    );
    refused(
        cam,
        json!({ "camera": { "position_m": [0.0, -0.3, -0.1] } }),
        1,
        "camera.position_m",
        "behind plane \"table\"",
    );
    refused(
        cam,
        json!({ "scene": { "bodies": ["humerus"],
                "objects": [{ "name": "paw", "body": "radius", "shape": { "type": "sphere", "radius_m": 0.01 } }] } }),
        1,
        "scene.objects[0].body",
        "does not exist",
    );
    refused(
        cam,
        json!({ "scene": { "objects": [{ "name": "x", "shape": { "type": "box", "half_extents_m": [0.1, 0.0, 0.1] } }] } }),
        1,
        "scene.objects[0].shape",
        "> 0",
    );
    refused(
        cam,
        json!({ "scene": { "objects": [{ "name": "x", "shape": { "type": "cone", "radius_m": 0.1 } }] } }),
        1,
        "scene.objects[0].shape",
        "unknown variant",
    );
    refused(
        cam,
        json!({ "jitter": { "amplitude_deg": 0.1 } }),
        1,
        "jitter.frequency_hz",
        "needs a frequency",
    );
    refused(
        cam,
        json!({ "jitter": { "kind": "microsaccades", "amplitude_deg": 0.3, "rate_hz": 60.0 } }),
        1,
        "jitter.rate_hz",
        "leave time between saccades",
    );
    refused(
        cam,
        json!({ "jitter": { "kind": "microsaccades", "amplitude_deg": 0.3, "duration_ms": 0.0 } }),
        1,
        "jitter.duration_ms",
        "> 0",
    );
    // Inside an object on a body, at the world's reference pose: a visual (the humerus, 10.6 mm long,
    // 0.8 mm thick) and a collision shape (the palm pad, given in the model frame).
    let w = neuroloop_body::world::WorldSpec::mouse_forelimb_joystick();
    let humerus = w
        .reference_pose(w.body_index("humerus").unwrap())
        .transform_point([5.3e-3, 0.0, 0.3e-3].into());
    let palm_pad = w.bodies[w.body_index("foot").unwrap()].shapes[0].a_m;
    for (inside, name) in [
        ([humerus.x, humerus.y, humerus.z], "humerus"),
        (palm_pad, "palm_pad"),
    ] {
        refused(
            cam,
            json!({ "camera": { "position_m": inside, "look_at_m": [0.0, 0.0, 0.0] } }),
            1,
            "camera.position_m",
            &format!("inside object {name:?} on body"),
        );
    }
    // 1.5 mm beside the humerus's axis (outside its 0.8 mm radius) is fine.
    let beside = w
        .reference_pose(w.body_index("humerus").unwrap())
        .transform_point([5.3e-3, 0.0, 1.5e-3].into());
    let beside = [beside.x, beside.y, beside.z];
    assert!(cam(&ctx(
        "s",
        json!({ "camera": { "position_m": beside, "look_at_m": [0.0, 0.0, 0.0] } }),
        1,
        1
    ))
    .is_ok());
    // The defaults are valid, and 346x260 is accepted.
    assert!(cam(&ctx("s", json!({}), 1, 1)).is_ok());
    assert!(cam(&ctx("s", json!({ "width": 346, "height": 260 }), 1, 1)).is_ok());
}

#[test]
fn skin_refuses_bad_configurations() {
    let skin = neuroloop_sensors::new_skin;
    refused(
        skin,
        json!({ "dt_ms": 0.3 }),
        1,
        "dt_ms",
        "divide the sync step",
    );
    refused(
        skin,
        json!({ "taxels": [{ "name": "t", "shape": "tail", "position_m": [0.0, 0.0, 0.0] }] }),
        1,
        "taxels[0].shape",
        "shape \"tail\" does not exist",
    );
    refused(
        skin,
        json!({ "patches": [{ "name": "p", "shape": "palm_pad", "center_m": [0.0, 0.0, 0.0], "radius_m": 0.001, "spacing_m": 0.0 }] }),
        1,
        "patches[0].spacing_m",
        "> 0",
    );
    refused(
        skin,
        json!({ "patches": [{ "name": "p", "shape": "hand", "center_m": [0.0, 0.0, 0.0], "radius_m": 0.001, "spacing_m": 0.0005 }] }),
        1,
        "patches[0].shape",
        "does not exist",
    );
    refused(
        skin,
        json!({ "surfaces": [] }),
        1,
        "surfaces",
        "between 1 and 65535 taxels",
    );
    refused(
        skin,
        json!({ "surfaces": [{ "shape": "digit9", "kind": "ball", "a_m": [0.0, 0.0, 0.0], "radius_m": 0.001, "spacing_m": 0.0005 }] }),
        1,
        "surfaces[0].shape",
        "does not exist",
    );
    refused(
        skin,
        json!({ "surfaces": [{ "shape": "digit2", "kind": "capsule", "a_m": [0.0, 0.0, 0.0], "radius_m": 0.001, "spacing_m": 0.0005 }] }),
        1,
        "surfaces[0].b_m",
        "needs b_m",
    );
    refused(
        skin,
        json!({ "sa1": { "tau_m_ms": 0.0 } }),
        1,
        "sa1.tau_m_ms",
        "> 0",
    );
    refused(
        skin,
        json!({ "spread_sigma_m": 0.0 }),
        1,
        "spread_sigma_m",
        "> 0",
    );
    assert!(skin(&ctx("s", json!({ "dt_ms": 0.25 }), 1, 1)).is_ok());
}

#[test]
fn proprioception_refuses_bad_configurations() {
    let p = neuroloop_sensors::new_proprioception;
    refused(
        p,
        json!({ "dt_ms": 0.3 }),
        1,
        "dt_ms",
        "divide the sync step",
    );
    refused(p, json!({ "muscles": [] }), 1, "muscles", "at least one");
    refused(
        p,
        json!({ "muscles": ["a", "a"] }),
        1,
        "muscles[1]",
        "unique",
    );
    refused(
        p,
        json!({ "muscles": ["a"], "rest_length_m": [0.01, 0.02] }),
        1,
        "rest_length_m",
        "one length per muscle",
    );
    refused(
        p,
        json!({ "encoding": "bursty" }),
        1,
        "encoding",
        "unknown variant",
    );
    refused(
        p,
        json!({ "model": { "ia_velocity_exponent": 2.0 } }),
        1,
        "model.ia_velocity_exponent",
        "(0, 1]",
    );
    refused(
        p,
        json!({ "model": { "ib_model": "lin_crago", "ib_log_force_n": 0.0 } }),
        1,
        "model.ib_log_force_n",
        "> 0",
    );
}

#[test]
fn contacts_input_errors_name_the_slot() {
    use neuroloop_sensors::skin::parse_contacts;
    let mut out = Vec::new();
    assert!(parse_contacts(&[0.0; 10], 1, &mut out).is_ok() && out.is_empty());
    let e = parse_contacts(&[3.0, 0.0, 0.0, 0.0, 1.0], 2, &mut out).unwrap_err();
    assert!(e.contains("slot 0") && e.contains("shape index 3"), "{e}");
    let bad_force = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0];
    let e = parse_contacts(&bad_force, 2, &mut out).unwrap_err();
    assert!(e.contains("slot 1"), "{e}");
    let good = [0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.1, 0.2, 0.3, 0.5];
    parse_contacts(&good, 2, &mut out).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].shape, out[0].point_m, out[0].force_n),
        (1, [0.1, 0.2, 0.3], 0.5)
    );
}
