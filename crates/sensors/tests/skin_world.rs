//! The skin's shapes and default taxel surfaces come from the body's world file (or the world compiled
//! into `neuroloop-body`): every collision shape in the body engine's contact order, taxels on every
//! paw shape in the paw body's frame; bad world files and conflicting keys are refused naming the key.

mod common;
use common::{ctx, shipped_world_path, temp_world, Harness};
use neuroloop_body::physics::Body;
use neuroloop_body::world::{ShapeFrame, WorldSpec, MOUSE_FORELIMB_JOYSTICK};
use neuroloop_core::engine::Engine;
use neuroloop_core::port::PortKind;
use neuroloop_sensors::skin::{paw_surfaces, world_shapes, Skin, SkinConfig, SurfaceKind};
use serde_json::{json, Value};

fn skin(config: Value) -> Skin {
    Skin::new(&ctx("skin", config, 1, 1)).expect("valid configuration")
}

fn config_error(config: Value) -> String {
    common::config_error(neuroloop_sensors::new_skin, config)
}

fn analog_channels(ports: &[neuroloop_core::port::PortSpec], name: &str) -> Vec<(String, String)> {
    let p = ports.iter().find(|p| p.name == name).expect(name);
    match &p.kind {
        PortKind::Analog { channels } => channels
            .iter()
            .map(|c| (c.name.clone(), c.unit.clone()))
            .collect(),
        k => panic!("{name}: {k:?}"),
    }
}

/// The digits' hand-copied geometry (foot frame) of the skin before it read the world, to 0.1 um.
const DIGITS_BEFORE: [([f64; 3], [f64; 3]); 4] = [
    (
        [0.0056930, 0.0005411, -0.0006386],
        [0.0059148, 0.0004967, 0.0003521],
    ),
    (
        [0.0057284, 0.0000432, -0.0006687],
        [0.0059502, -0.0000010, 0.0003219],
    ),
    (
        [0.0057637, -0.0004546, -0.0006990],
        [0.0059855, -0.0004989, 0.0002917],
    ),
    (
        [0.0057990, -0.0009524, -0.0007292],
        [0.0060209, -0.0009967, 0.0002615],
    ),
];
const PALM_BEFORE: [f64; 3] = [0.0040240, -0.0003719, 0.0000410];

fn close(a: [f64; 3], b: [f64; 3], tol: f64) -> bool {
    (0..3).all(|k| (a[k] - b[k]).abs() <= tol)
}

#[test]
fn default_layout_is_the_shipped_worlds_paw_as_before() {
    let cfg = SkinConfig::default();
    let w = WorldSpec::mouse_forelimb_joystick();
    // The body engine's contact numbering (1-based in this order).
    let body = Body::new(w.clone(), 1e-3).unwrap();
    assert_eq!(cfg.shapes, body.shape_names());
    assert_eq!(
        cfg.shapes,
        ["palm_pad", "digit2", "digit3", "digit4", "digit5", "handle"]
    );
    assert_eq!(cfg.max_contacts, 16);
    // Regression against the numbers copied by hand before: the palm pad and four digits.
    let s = &cfg.surfaces;
    assert_eq!(s.len(), 5);
    assert_eq!(
        (s[0].shape.as_str(), s[0].kind, s[0].b_m),
        ("palm_pad", SurfaceKind::Ball, None)
    );
    assert_eq!((s[0].radius_m, s[0].spacing_m), (0.35e-3, 0.2e-3));
    assert!(close(s[0].a_m, PALM_BEFORE, 1e-6), "{:?}", s[0].a_m);
    for (d, (a, b)) in DIGITS_BEFORE.iter().enumerate() {
        let sd = &s[d + 1];
        assert_eq!(sd.shape, format!("digit{}", d + 2));
        assert_eq!(sd.kind, SurfaceKind::Capsule);
        assert_eq!((sd.radius_m, sd.spacing_m), (0.25e-3, 0.1e-3));
        let b_m = sd.b_m.unwrap();
        assert!(close(sd.a_m, *a, 1e-6) && close(b_m, *b, 1e-6), "{sd:?}");
        // The hand copy was rounded to 0.1 um.
        assert!(close(sd.a_m, *a, 1e-7) && close(b_m, *b, 1e-7), "{sd:?}");
    }
    // In the paw frame: mapped back with the foot's reference pose, the world's model-frame points.
    let foot = w.body_index("foot").unwrap();
    let pose = w.reference_pose(foot);
    for (surface, shape) in s.iter().zip(&w.bodies[foot].shapes) {
        assert_eq!(shape.frame, ShapeFrame::Model);
        let back = |p: [f64; 3]| {
            let q = pose.transform_point(p.into());
            [q.x, q.y, q.z]
        };
        assert!(close(back(surface.a_m), shape.a_m, 1e-12), "{surface:?}");
        if let (Some(b), Some(sb)) = (surface.b_m, shape.b_m) {
            assert!(close(back(b), sb, 1e-12), "{surface:?}");
        }
    }
    assert_eq!(paw_surfaces(&w), cfg.surfaces);
    assert_eq!(world_shapes(&w), cfg.shapes);

    // The shipped world's file gives the same layout and ports as the built-in world.
    let built_in = skin(json!({}));
    let from_file = skin(json!({ "world_file": shipped_world_path() }));
    assert_eq!(built_in.taxel_names(), from_file.taxel_names());
    assert_eq!(built_in.taxel_positions(), from_file.taxel_positions());
    assert_eq!(built_in.ports(), from_file.ports());
    // The skin's contacts input is the body engine's contacts output, channel by channel.
    let body_engine = neuroloop_body::engine::BodyEngine::new(&ctx(
        "body",
        json!({ "world_file": shipped_world_path() }),
        1,
        1,
    ))
    .unwrap();
    assert_eq!(
        analog_channels(&from_file.ports(), "contacts"),
        analog_channels(&body_engine.ports(), "contacts")
    );
}

/// The shipped world with one more paw shape, a ball in the foot's own frame, after the digits.
const THUMB: &str = "  [[bodies.shapes]]\n  name = \"thumb\"\n  kind = \"ball\"\n  a_m = [0.002, 0.0006, -0.0004]\n  radius_m = 0.0003\n\n[[bodies]]\nname = \"joystick_base\"";

fn world_with_thumb() -> String {
    let anchor = "[[bodies]]\nname = \"joystick_base\"";
    assert!(MOUSE_FORELIMB_JOYSTICK.contains(anchor));
    MOUSE_FORELIMB_JOYSTICK.replacen(anchor, THUMB, 1)
}

#[test]
fn a_paw_shape_added_to_the_world_gets_taxels_and_its_contacts() {
    let path = temp_world("thumb", &world_with_thumb());
    let w = WorldSpec::load(&path).unwrap();
    let sk = skin(json!({ "world_file": path }));
    // The body numbers it 6 (1-based), before the handle.
    let body = Body::new(w, 1e-3).unwrap();
    assert_eq!(
        body.shape_names(),
        ["palm_pad", "digit2", "digit3", "digit4", "digit5", "thumb", "handle"]
    );
    let names = sk.taxel_names();
    let pos = sk.taxel_positions();
    let thumb: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].starts_with("thumb"))
        .collect();
    // A 0.3 mm ball at 0.2 mm spacing: 4 pi r^2 / (s^2 sqrt(3) / 2) = 33 taxels, on its surface.
    assert_eq!(thumb.len(), 33);
    for &i in &thumb {
        let d = [pos[i][0] - 0.002, pos[i][1] - 0.0006, pos[i][2] + 0.0004];
        let r = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        assert!((r - 0.0003).abs() < 1e-12, "{r}");
    }
    // The other paw shapes keep their taxels; the built-in world has no thumb.
    let built_in = skin(json!({}));
    assert_eq!(built_in.n_taxels() + 33, sk.n_taxels());
    assert!(!built_in
        .taxel_names()
        .iter()
        .any(|n| n.starts_with("thumb")));

    // A press on the thumb (shape 6) reaches only thumb taxels; shape 7 is now the handle.
    let mut h = Harness::new(
        neuroloop_sensors::new_skin,
        &ctx("skin", json!({ "world_file": path }), 1, 1),
    );
    let mut x = vec![0.0; 80];
    x[..5].copy_from_slice(&[6.0, 0.002, 0.0006, -0.0007, 0.01]);
    for _ in 0..3 {
        h.step(Some(&x));
    }
    let p = h.analog("pressure");
    assert!(p.iter().cloned().fold(0.0, f64::max) > 10.0);
    assert!((0..p.len()).all(|i| p[i] == 0.0 || names[i].starts_with("thumb")));
    x[0] = 7.0;
    for _ in 0..3 {
        h.step(Some(&x));
    }
    assert!(h.analog("pressure").iter().all(|&v| v == 0.0));

    // Surfaces given by hand may use the world's new shape; a shape not in the world is refused.
    let own = skin(json!({ "world_file": path, "surfaces": [
        { "shape": "thumb", "kind": "ball", "a_m": [0.0, 0.0, 0.0], "radius_m": 0.001, "spacing_m": 0.0005 }
    ] }));
    assert!(own.taxel_names().iter().all(|n| n.starts_with("thumb")));
    let m = config_error(json!({ "world_file": path, "taxels": [
        { "name": "t", "shape": "thumb2", "position_m": [0.0, 0.0, 0.0] }
    ] }));
    assert!(
        m.starts_with("engines.s.config.taxels[0].shape: ") && m.contains("\"thumb2\""),
        "{m}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn bad_world_files_and_conflicting_keys_are_refused_naming_the_key() {
    common::assert_world_file_errors(
        neuroloop_sensors::new_skin,
        "skin",
        "radius_m = 0.00035",
        "radius_m = -0.00035",
        "bodies[4].shapes[0].radius_m",
    );
    // The shapes come from the world or from the config, not both.
    let m = config_error(json!({ "world_file": shipped_world_path(), "shapes": ["palm_pad"] }));
    assert!(
        m.starts_with("engines.s.config.shapes: ") && m.contains("world_file"),
        "{m}"
    );
    // Without world_file, hand-given shapes still work (the default surfaces must lie on them).
    let m = config_error(json!({ "shapes": ["pad"] }));
    assert!(
        m.starts_with("engines.s.config.surfaces[0].shape: ") && m.contains("\"palm_pad\""),
        "{m}"
    );
    // A shape the world does not have.
    let m = config_error(json!({ "world_file": shipped_world_path(), "surfaces": [
        { "shape": "thumb", "kind": "ball", "a_m": [0.0, 0.0, 0.0], "radius_m": 0.001, "spacing_m": 0.0005 }
    ] }));
    assert!(
        m.starts_with("engines.s.config.surfaces[0].shape: ") && m.contains("\"thumb\""),
        "{m}"
    );
    // A paw without collision shapes: no default surfaces; accepted with taxels placed by hand.
    let bare = temp_world(
        "bare",
        &MOUSE_FORELIMB_JOYSTICK.replacen("paw_body = \"foot\"", "paw_body = \"radius\"", 1),
    );
    let m = config_error(json!({ "world_file": bare }));
    assert!(
        m.starts_with("engines.s.config.world_file: ")
            && m.contains("`radius`")
            && m.contains("no collision shapes"),
        "{m}"
    );
    let ok = skin(json!({ "world_file": bare, "taxels": [
        { "name": "t", "shape": "handle", "position_m": [0.0, 0.0, 0.0] }
    ] }));
    assert_eq!(ok.n_taxels(), 1);
    std::fs::remove_file(&bare).unwrap();
    // A paw shape too long for a layout: refused before the taxels are placed, naming its key.
    let long = temp_world(
        "long",
        &MOUSE_FORELIMB_JOYSTICK.replacen(
            "b_m = [0.0110444, -0.0812247, 0.0095696]",
            "b_m = [1000.0, -0.0812247, 0.0095696]",
            1,
        ),
    );
    let m = config_error(json!({ "world_file": long }));
    assert!(
        m.starts_with("engines.s.config.world_file: ")
            && m.contains("bodies[4].shapes[1]")
            && m.contains("65535"),
        "{m}"
    );
    std::fs::remove_file(&long).unwrap();
    // The same check on a surface given by hand names its key.
    let m = config_error(json!({ "surfaces": [
        { "shape": "digit2", "kind": "capsule", "a_m": [0.0, 0.0, 0.0], "b_m": [1e6, 0.0, 0.0],
          "radius_m": 0.25e-3, "spacing_m": 0.1e-3 }
    ] }));
    assert!(
        m.starts_with("engines.s.config.surfaces[0].spacing_m: ") && m.contains("65535"),
        "{m}"
    );
}
