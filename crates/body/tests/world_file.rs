//! The world file: the shipped world loads; bad worlds are refused with the key named.

use neuroloop_body::world::{WorldSpec, MOUSE_FORELIMB_JOYSTICK};

fn err_of(edit: impl Fn(&str) -> String) -> String {
    let text = edit(MOUSE_FORELIMB_JOYSTICK);
    match WorldSpec::from_toml(&text) {
        Ok(_) => panic!("the edited world was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn shipped_world_loads_with_the_reference_numbers() {
    let w = WorldSpec::mouse_forelimb_joystick();
    assert_eq!(w.muscles.len(), 8);
    let names: Vec<&str> = w.muscles.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["Foot1", "Foot2", "Radius1", "Radius2", "Humerus1", "Humerus2", "Humerus3", "Humerus4"]
    );
    let humerus = &w.bodies[w.body_index("humerus").unwrap()];
    assert_eq!(humerus.mass_kg, 52e-6);
    assert_eq!(humerus.inertia_kg_m2, [1.27e-6, 1.32e-5, 1.36e-5]);
    // Segment lengths from the link poses (reference: 10.57, 12.68 mm; lever 24.98 mm).
    let d = |a: &str, b: &str| {
        let pa = w.bodies[w.body_index(a).unwrap()].position_m;
        let pb = w.bodies[w.body_index(b).unwrap()].position_m;
        ((pa[0] - pb[0]).powi(2) + (pa[1] - pb[1]).powi(2) + (pa[2] - pb[2]).powi(2)).sqrt() * 1e3
    };
    assert!((d("humerus", "radius") - 10.57).abs() < 0.01);
    assert!((d("radius", "foot") - 12.68).abs() < 0.01);
    assert!((d("joystick", "joystick_helper") - 24.98).abs() < 0.01);
    // Paw and handle shapes exist.
    let shapes: usize = w.bodies.iter().map(|b| b.shapes.len()).sum();
    assert_eq!(shapes, 6);
}

#[test]
fn unknown_body_in_a_muscle_path_names_the_key() {
    let e = err_of(|t| {
        t.replacen(
            r#"{ body = "radius", point_m = [0.002067"#,
            r#"{ body = "ulna", point_m = [0.002067"#,
            1,
        )
    });
    assert!(
        e.contains("muscles[2].path[1].body") && e.contains("ulna"),
        "{e}"
    );
}

#[test]
fn non_positive_mass_names_the_key() {
    let e = err_of(|t| t.replacen("mass_kg = 27e-6", "mass_kg = 0.0", 1));
    assert!(e.contains("bodies[3].mass_kg"), "{e}");
}

#[test]
fn unknown_keys_and_bad_references_are_refused() {
    let e = err_of(|t| t.replacen("damping_n_m_s_per_rad = 1e-5", "dampign = 1e-5", 1));
    assert!(e.contains("dampign"), "{e}");
    let e = err_of(|t| t.replacen(r#"parent = "radius""#, r#"parent = "femur""#, 1));
    assert!(e.contains("joints[3].parent") && e.contains("femur"), "{e}");
    let e = err_of(|t| t.replacen("closes_loop = true", "closes_loop = false", 1));
    assert!(
        e.contains("joints[6].child") && e.contains("already has a parent"),
        "{e}"
    );
    let e = err_of(|t| t.replacen("limits_rad = [-0.3, 0.1]", "limits_rad = [0.2, 0.1]", 1));
    assert!(e.contains("joints[1].limits_rad"), "{e}");
    let e = err_of(|t| {
        t.replacen(
            "pull_axis = [0.0, 1.0, 0.0]",
            "pull_axis = [0.0, 2.0, 0.0]",
            1,
        )
    });
    assert!(e.contains("joystick.pull_axis"), "{e}");
    let e = err_of(|t| t.replacen("end_pull_mm = 3.5", "end_pull_mm = -3.5", 1));
    assert!(e.contains("task.end_pull_mm"), "{e}");
    let e = err_of(|t| t.replacen("radius_m = 0.0006", "radius_m = 0.0", 1));
    assert!(e.contains("bodies[7].shapes[0].radius_m"), "{e}");
}
