use super::*;

#[test]
fn shapes_hit_where_expected() {
    let o = [0.0, 0.0, -5.0];
    let d = [0.0, 0.0, 1.0];
    let s = Shape::Sphere { radius_m: 1.0 };
    assert!((s.intersect(o, d).unwrap().0 - 4.0).abs() < 1e-12);
    let b = Shape::Box {
        half_extents_m: [1.0, 1.0, 2.0],
    };
    let (t, n) = b.intersect(o, d).unwrap();
    assert!((t - 3.0).abs() < 1e-12 && n == [0.0, 0.0, -1.0]);
    let c = Shape::Cylinder {
        radius_m: 1.0,
        half_height_m: 0.5,
    };
    assert!((c.intersect(o, d).unwrap().0 - 4.5).abs() < 1e-12);
    let cap = Shape::Capsule {
        radius_m: 1.0,
        half_height_m: 0.5,
    };
    assert!((cap.intersect(o, d).unwrap().0 - 3.5).abs() < 1e-12);
    // From the side: the capsule's cylindrical part.
    let (t, n) = cap.intersect([-5.0, 0.0, 0.2], [1.0, 0.0, 0.0]).unwrap();
    assert!((t - 4.0).abs() < 1e-12 && (n[0] + 1.0).abs() < 1e-12);
    assert!(s.intersect([0.0, 3.0, -5.0], d).is_none());
    for sh in [s, b, c, cap] {
        assert!(sh.signed_distance([0.0; 3]) < 0.0);
        assert!(sh.signed_distance([0.0, 0.0, 10.0]) > 0.0);
    }
}

#[test]
fn pose_composition_and_inverse() {
    let h = std::f64::consts::FRAC_1_SQRT_2;
    let p = Pose::from_slice(&[1.0, 2.0, 3.0, h, 0.0, 0.0, h]); // 90 deg about z
    let v = p.apply([1.0, 0.0, 0.0]);
    assert!((v[0] - 1.0).abs() < 1e-12 && (v[1] - 3.0).abs() < 1e-12);
    let back = p.inverse_apply(v);
    assert!((back[0] - 1.0).abs() < 1e-12 && back[1].abs() < 1e-12);
    let pp = p.compose(&p);
    let w = pp.rotate([1.0, 0.0, 0.0]);
    assert!((w[0] + 1.0).abs() < 1e-12);
}

#[test]
fn incremental_render_equals_a_fresh_full_render() {
    let scene = SceneConfig {
        bodies: vec!["a".into(), "b".into()],
        objects: vec![
            ObjectConfig {
                name: "ball".into(),
                shape: Shape::Sphere { radius_m: 0.02 },
                body: Some("a".into()),
                position_m: [0.0; 3],
                orientation: identity_q(),
                reflectance: 0.9,
                texture: Texture::Checker {
                    period_m: 0.01,
                    contrast: 0.5,
                },
            },
            ObjectConfig {
                name: "rod".into(),
                shape: Shape::Capsule {
                    radius_m: 0.01,
                    half_height_m: 0.03,
                },
                body: Some("b".into()),
                position_m: [0.0, 0.0, 0.01],
                orientation: [0.9, 0.3, 0.0, 0.1],
                reflectance: 0.7,
                texture: Texture::Uniform,
            },
        ],
        ..SceneConfig::default()
    };
    let cam = CameraPoseConfig {
        position_m: [0.0, -0.3, 0.1],
        look_at_m: [0.0; 3],
        up: [0.0, 0.0, 1.0],
        fov_deg: 60.0,
    };
    let scene = SceneConfig {
        planes: vec![PlaneConfig {
            name: "table".into(),
            point_m: [0.0; 3],
            normal: [0.0, 0.0, 1.0],
            reflectance: 0.4,
            texture: Texture::Checker {
                period_m: 0.02,
                contrast: 0.3,
            },
        }],
        ..scene
    };
    scene.validate(&cam).unwrap();
    let mut inc = Renderer::new(&scene, &cam, 40, 30, 2);
    let mut img = vec![0.0; 40 * 30];
    for k in 0..30 {
        let t = f64::from(k) * 0.01;
        let poses = [
            Pose::from_slice(&[-0.1 + t, 0.0, 0.05, 1.0, 0.0, 0.0, 0.0]),
            Pose::from_slice(&[
                0.05,
                0.02,
                0.03 + 0.5 * t,
                (3.0 * t).cos(),
                0.0,
                (3.0 * t).sin(),
                0.0,
            ]),
        ];
        inc.render(&poses, &mut img);
        let mut fresh = Renderer::new(&scene, &cam, 40, 30, 2);
        let mut full = vec![0.0; 40 * 30];
        fresh.render(&poses, &mut full);
        assert_eq!(img, full, "render {k}");
    }
    // The objects were visible: the image is not just the background.
    let bg = {
        let empty = SceneConfig {
            objects: Vec::new(),
            ..scene.clone()
        };
        let mut r = Renderer::new(&empty, &cam, 40, 30, 2);
        let mut b = vec![0.0; 40 * 30];
        r.render(&[Pose::IDENTITY; 2], &mut b);
        b
    };
    assert_ne!(img, bg);
}
