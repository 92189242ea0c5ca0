//! The event camera's scene comes from the body's world file: every collision shape and visual of
//! every body, on that body, where the world puts it; bad world files are refused naming `world_file`.

mod common;
use common::{ctx, reference_poses, shipped_world_path, temp_world, Harness};
use neuroloop_body::world::{ShapeFrame, ShapeKind, WorldSpec, MOUSE_FORELIMB_JOYSTICK};
use neuroloop_core::payload::EventBatch;
use neuroloop_sensors::scene::{CameraPoseConfig, Pose, Renderer, SceneConfig, Shape};
use serde_json::{json, Value};

fn config_error(config: Value) -> String {
    common::config_error(neuroloop_sensors::new_event_camera, config)
}

#[test]
fn every_world_shape_and_visual_is_an_object_on_its_body_where_the_world_puts_it() {
    let w = WorldSpec::mouse_forelimb_joystick();
    let scene = SceneConfig::mouse_forelimb_joystick();
    let names: Vec<&str> = w.bodies.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(scene.bodies, names);
    assert_eq!(scene.reference_poses.len(), names.len());
    let mut n = 0;
    for (i, b) in w.bodies.iter().enumerate() {
        let body_pose = w.reference_pose(i);
        let geometry = b
            .shapes
            .iter()
            .map(|s| (&s.name, s.kind, s.frame, s.a_m, s.b_m, s.radius_m))
            .chain(
                b.visuals
                    .iter()
                    .map(|v| (&v.name, v.kind, v.frame, v.a_m, v.b_m, v.radius_m)),
            );
        for (name, kind, frame, a_m, b_m, radius_m) in geometry {
            n += 1;
            let o = scene
                .objects
                .iter()
                .find(|o| &o.name == name)
                .unwrap_or_else(|| panic!("no object {name}"));
            assert_eq!(o.body.as_deref(), Some(b.name.as_str()), "{name}");
            // The ends of the object in the model frame at the reference pose.
            let mut v = [0.0; 7];
            v[..3].copy_from_slice(&o.position_m);
            v[3..].copy_from_slice(&o.orientation);
            let pose = scene.reference_poses[i].compose(&Pose::from_slice(&v));
            let to_model = |p: [f64; 3]| match frame {
                ShapeFrame::Model => p,
                ShapeFrame::Body => {
                    let q = body_pose.transform_point(p.into());
                    [q.x, q.y, q.z]
                }
            };
            let ends: Vec<[f64; 3]> = match (kind, &o.shape) {
                (ShapeKind::Ball, Shape::Sphere { radius_m: r }) => {
                    assert_eq!(*r, radius_m);
                    vec![pose.apply([0.0; 3]), to_model(a_m)]
                }
                (
                    ShapeKind::Capsule,
                    Shape::Capsule {
                        radius_m: r,
                        half_height_m: h,
                    },
                ) => {
                    assert_eq!(*r, radius_m);
                    let (lo, hi) = (pose.apply([0.0, 0.0, -h]), pose.apply([0.0, 0.0, *h]));
                    let (a, b) = (to_model(a_m), to_model(b_m.unwrap()));
                    // Either end may come first.
                    let d = |x: [f64; 3], y: [f64; 3]| {
                        (0..3).map(|k| (x[k] - y[k]).abs()).fold(0.0, f64::max)
                    };
                    if d(lo, a) < d(lo, b) {
                        vec![lo, a, hi, b]
                    } else {
                        vec![lo, b, hi, a]
                    }
                }
                (k, s) => panic!("{name}: {k:?} became {s:?}"),
            };
            for pair in ends.chunks(2) {
                for k in 0..3 {
                    assert!(
                        (pair[0][k] - pair[1][k]).abs() < 1e-12,
                        "{name}: {:?} vs {:?}",
                        pair[0],
                        pair[1]
                    );
                }
            }
        }
    }
    assert_eq!(n, 10, "6 collision shapes and 4 visuals");
    assert_eq!(scene.objects.len(), n);
}

#[test]
fn each_body_with_geometry_is_seen_at_the_reference_pose() {
    let w = WorldSpec::mouse_forelimb_joystick();
    let scene = SceneConfig::mouse_forelimb_joystick();
    let poses = scene.reference_poses.clone();
    let cam = CameraPoseConfig::default();
    let (width, height) = (128, 128);
    let render = |objects: Vec<_>| {
        let s = SceneConfig {
            objects,
            ..scene.clone()
        };
        let mut img = vec![0.0; width * height];
        Renderer::new(&s, &cam, width, height, 1).render(&poses, &mut img);
        img
    };
    let background = render(Vec::new());
    let differs = |img: &[f64]| img.iter().zip(&background).filter(|(a, b)| a != b).count();
    let all = differs(&render(scene.objects.clone()));
    assert!(all > 300 && all < width * height / 2, "{all} pixels");
    for body in ["humerus", "radius", "foot", "joystick"] {
        assert!(w.body_index(body).is_some());
        let own: Vec<_> = scene
            .objects
            .iter()
            .filter(|o| o.body.as_deref() == Some(body))
            .cloned()
            .collect();
        let px = differs(&render(own));
        assert!(px > 20, "{body}: {px} pixels");
    }
}

#[test]
fn world_file_gives_the_same_camera_as_the_built_in_world() {
    let w = WorldSpec::mouse_forelimb_joystick();
    let reference = reference_poses(&w);
    let foot = w.body_index("foot").unwrap();
    let lifted = |k: usize| {
        let mut p = reference.clone();
        p[7 * foot + 2] += 2e-3 * (k as f64 / 50.0).min(1.0);
        p
    };
    let esim = json!({ "threshold_mismatch_sigma": 0.0, "threshold_noise_sigma": 0.0,
                       "leak_rate_hz": 0.0, "shot_noise_rate_hz": 0.0 });
    let run = |config: serde_json::Value| {
        let mut h = Harness::new(
            neuroloop_sensors::new_event_camera,
            &ctx("dvs", config, 1, 1),
        );
        let input = h.port("body_poses");
        let channels = match &h.ports[input].kind {
            neuroloop_core::port::PortKind::Analog { channels } => channels.len(),
            k => panic!("{k:?}"),
        };
        assert_eq!(channels, 7 * w.bodies.len());
        (0..100)
            .map(|k| {
                h.step(Some(&lifted(k)));
                h.events("events")
            })
            .collect::<Vec<EventBatch>>()
    };
    let from_file = run(json!({ "world_file": shipped_world_path(), "esim": esim }));
    let built_in = run(json!({ "esim": esim }));
    assert!(from_file.iter().map(EventBatch::len).sum::<usize>() > 20);
    assert_eq!(from_file, built_in);
}

#[test]
fn a_body_without_geometry_or_a_bad_world_path_is_refused_naming_world_file() {
    // The shipped world without the humerus's visual: a 52 mg body the camera cannot see.
    let visual = "  [[bodies.visuals]]\n  name = \"humerus\"\n  kind = \"capsule\"\n  a_m = [0.0, 0.0, 0.0]\n  b_m = [0.0106, 0.0, 0.0]\n  radius_m = 0.0008\n  reflectance = 0.8\n";
    assert!(MOUSE_FORELIMB_JOYSTICK.contains(visual));
    let bare = temp_world("bare", &MOUSE_FORELIMB_JOYSTICK.replacen(visual, "", 1));
    let m = config_error(json!({ "world_file": bare }));
    assert!(
        m.starts_with("engines.s.config.world_file: ")
            && m.contains("bodies[2]")
            && m.contains("`humerus`")
            && m.contains("no shapes and no visuals"),
        "{m}"
    );
    // Light enough to be a helper link: accepted when the threshold is raised above it.
    let ok = neuroloop_sensors::new_event_camera(&ctx(
        "s",
        json!({ "world_file": bare, "min_visible_mass_kg": 1e-4 }),
        1,
        1,
    ));
    assert!(ok.is_ok());
    std::fs::remove_file(&bare).unwrap();

    common::assert_world_file_errors(
        neuroloop_sensors::new_event_camera,
        "camera",
        "reflectance = 0.3",
        "reflectance = 2.0",
        "bodies[7].visuals[0].reflectance",
    );
    // The bodies come from the world or from scene.bodies, not both.
    let m =
        config_error(json!({ "world_file": shipped_world_path(), "scene": { "bodies": ["a"] } }));
    assert!(m.starts_with("engines.s.config.scene.bodies: "), "{m}");
}
