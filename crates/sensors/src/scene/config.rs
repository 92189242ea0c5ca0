use super::*;

use neuroloop_body::world::{ShapeFrame, ShapeKind, WorldSpec};
use serde::Deserialize;

/// One shape of the scene.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectConfig {
    /// Name, for messages.
    pub name: String,
    /// The shape.
    pub shape: Shape,
    /// The body it is attached to (one of the scene's `bodies`); absent: static in the world.
    #[serde(default)]
    pub body: Option<String>,
    /// Position of the shape's origin in the body (or world) frame, m (default 0).
    #[serde(default)]
    pub position_m: V3,
    /// Orientation in the body (or world) frame, quaternion w, x, y, z (default identity).
    #[serde(default = "identity_q")]
    pub orientation: [f64; 4],
    /// Diffuse reflectance 0..1 (default 0.5).
    #[serde(default = "half")]
    pub reflectance: f64,
    /// Texture (default uniform).
    #[serde(default)]
    pub texture: Texture,
}

/// A static infinite plane (table top, wall); the side its normal points to faces the camera.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaneConfig {
    /// Name, for messages.
    pub name: String,
    /// A point of the plane, m.
    pub point_m: V3,
    /// Normal (any length > 0), pointing to the visible side.
    pub normal: V3,
    /// Diffuse reflectance 0..1 (default 0.5).
    #[serde(default = "half")]
    pub reflectance: f64,
    /// Texture, evaluated at world coordinates (default uniform).
    #[serde(default)]
    pub texture: Texture,
}

pub(super) fn identity_q() -> [f64; 4] {
    [1.0, 0.0, 0.0, 0.0]
}
pub(super) fn half() -> f64 {
    0.5
}

/// A directional light.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LightConfig {
    /// Direction the light travels (default [0.3, 0.2, -1], from above).
    pub direction: V3,
    /// Ambient fraction 0..1 (default 0.3).
    pub ambient: f64,
    /// Irradiance scale: the brightness of a white surface facing the light (default 1).
    pub irradiance: f64,
}

impl Default for LightConfig {
    fn default() -> Self {
        LightConfig {
            direction: [0.3, 0.2, -1.0],
            ambient: 0.3,
            irradiance: 1.0,
        }
    }
}

/// Pinhole camera placement.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CameraPoseConfig {
    /// Camera centre in the world, m (default [0.09, -0.072, 0.012]).
    pub position_m: V3,
    /// Point the optical axis goes through, m (default [0.012, -0.072, 0.008]).
    pub look_at_m: V3,
    /// World direction that appears up in the image (default [0, 0, 1]).
    pub up: V3,
    /// Horizontal field of view in degrees (default 30).
    pub fov_deg: f64,
}

impl Default for CameraPoseConfig {
    /// A side view of the forelimb of `worlds/mouse_forelimb_joystick.toml` from +x.
    fn default() -> Self {
        CameraPoseConfig {
            position_m: [0.09, -0.072, 0.012],
            look_at_m: [0.012, -0.072, 0.008],
            up: [0.0, 0.0, 1.0],
            fov_deg: 30.0,
        }
    }
}

/// What the camera sees (see the [module docs](super)).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SceneConfig {
    /// Body names in the order of the body engine's `body_poses` port (7 channels each); empty: no
    /// `body_poses` input. Filled from a world by [`SceneConfig::add_world`].
    pub bodies: Vec<String>,
    /// Shapes.
    pub objects: Vec<ObjectConfig>,
    /// Background planes (default: a checkered table at z = -20 mm and a striped wall at x = -30 mm).
    pub planes: Vec<PlaneConfig>,
    /// Brightness where a ray hits nothing (default 0.05).
    pub background_irradiance: f64,
    /// The light.
    pub light: LightConfig,
    /// Pose of each body at the world's reference configuration, when the bodies come from a world
    /// (empty otherwise); [`SceneConfig::validate`] refuses a camera inside an object at these poses.
    #[serde(skip)]
    pub reference_poses: Vec<Pose>,
}

impl Default for SceneConfig {
    /// No bodies and no objects; the table and wall planes under the default light.
    fn default() -> Self {
        SceneConfig {
            bodies: Vec::new(),
            objects: Vec::new(),
            planes: vec![
                PlaneConfig {
                    name: "table".into(),
                    point_m: [0.0, 0.0, -0.02],
                    normal: [0.0, 0.0, 1.0],
                    reflectance: 0.4,
                    texture: Texture::Checker {
                        period_m: 0.005,
                        contrast: 0.3,
                    },
                },
                PlaneConfig {
                    name: "wall".into(),
                    point_m: [-0.03, 0.0, 0.0],
                    normal: [1.0, 0.0, 0.0],
                    reflectance: 0.6,
                    texture: Texture::Stripes {
                        period_m: 0.008,
                        contrast: 0.5,
                        axis: 1,
                    },
                },
            ],
            background_irradiance: 0.05,
            light: LightConfig::default(),
            reference_poses: Vec::new(),
        }
    }
}

/// Reflectance of a world's collision shapes, and of its visuals that give none (default of the
/// camera's `shape_reflectance`).
pub const DEFAULT_SHAPE_REFLECTANCE: f64 = 0.85;

/// Bodies lighter than this may have no geometry (helper links of 1e-7 kg; default of the camera's
/// `min_visible_mass_kg`).
pub const DEFAULT_MIN_VISIBLE_MASS_KG: f64 = 1e-6;

/// Rotation (w, x, y, z) that turns local z onto the unit vector `u`.
pub(super) fn rotation_z_to(u: V3) -> [f64; 4] {
    if u[2] < -1.0 + 1e-12 {
        return [0.0, 1.0, 0.0, 0.0];
    }
    let q = [1.0 + u[2], -u[1], u[0], 0.0];
    let n = q.iter().map(|x| x * x).sum::<f64>().sqrt();
    q.map(|x| x / n)
}

impl SceneConfig {
    /// The default scene: the bodies and geometry of `worlds/mouse_forelimb_joystick.toml` (the text
    /// compiled into `neuroloop-body`, see [`SceneConfig::add_world`]) with the default planes and light.
    pub fn mouse_forelimb_joystick() -> Self {
        let mut scene = SceneConfig::default();
        scene
            .add_world(
                &WorldSpec::mouse_forelimb_joystick(),
                DEFAULT_SHAPE_REFLECTANCE,
                DEFAULT_MIN_VISIBLE_MASS_KG,
            )
            .expect("every body of the shipped world with mass has geometry (tested)");
        scene
    }

    /// Takes the bodies of a world (`bodies` = the world's body order, that of the body engine's
    /// `body_poses`) and their reference poses, and appends one object per collision shape and per
    /// visual of every body, on that body: a ball becomes a sphere, a capsule (segment `a_m`-`b_m`) a
    /// capsule along the segment; shapes given in the model frame are moved into the body frame at the
    /// reference pose. Collision shapes, and visuals without a reflectance, get `shape_reflectance`.
    /// A moving body of at least `min_visible_mass_kg` without any shape or visual is an error
    /// (key relative to the world file, reason): the camera could not see it.
    pub fn add_world(
        &mut self,
        world: &WorldSpec,
        shape_reflectance: f64,
        min_visible_mass_kg: f64,
    ) -> Result<(), (String, String)> {
        let mut bodies = Vec::with_capacity(world.bodies.len());
        let mut poses = Vec::with_capacity(world.bodies.len());
        let mut objects = Vec::new();
        for (i, b) in world.bodies.iter().enumerate() {
            if !b.fixed
                && b.mass_kg >= min_visible_mass_kg
                && b.shapes.is_empty()
                && b.visuals.is_empty()
            {
                return Err((
                    format!("bodies[{i}]"),
                    format!(
                        "body `{}` ({} kg) has no shapes and no visuals, so the camera cannot see it: \
                         add [[bodies.visuals]] (bodies lighter than min_visible_mass_kg = {} kg may \
                         have none)",
                        b.name, b.mass_kg, min_visible_mass_kg
                    ),
                ));
            }
            let rp = world.reference_pose(i);
            let (t, q) = (rp.translation, rp.rotation);
            let pose = Pose::from_slice(&[t.x, t.y, t.z, q.w, q.x, q.y, q.z]);
            let geometry = b
                .shapes
                .iter()
                .map(|s| (&s.name, s.kind, s.frame, s.a_m, s.b_m, s.radius_m, None))
                .chain(b.visuals.iter().map(|v| {
                    (
                        &v.name,
                        v.kind,
                        v.frame,
                        v.a_m,
                        v.b_m,
                        v.radius_m,
                        v.reflectance,
                    )
                }));
            for (name, kind, frame, a_m, b_m, radius_m, reflectance) in geometry {
                let to_body = |p: V3| match frame {
                    ShapeFrame::Body => p,
                    ShapeFrame::Model => pose.inverse_apply(p),
                };
                let a = to_body(a_m);
                let end = to_body(b_m.unwrap_or(a_m));
                let axis = sub(end, a);
                let length = norm(axis);
                let (shape, position_m, orientation) = match kind {
                    ShapeKind::Capsule if length > 1e-12 => (
                        Shape::Capsule {
                            radius_m,
                            half_height_m: length / 2.0,
                        },
                        scale(add(a, end), 0.5),
                        rotation_z_to(scale(axis, 1.0 / length)),
                    ),
                    // A ball, or a capsule of zero length.
                    _ => (Shape::Sphere { radius_m }, a, identity_q()),
                };
                objects.push(ObjectConfig {
                    name: name.clone(),
                    shape,
                    body: Some(b.name.clone()),
                    position_m,
                    orientation,
                    reflectance: reflectance.unwrap_or(shape_reflectance),
                    texture: Texture::Uniform,
                });
            }
            bodies.push(b.name.clone());
            poses.push(pose);
        }
        self.bodies = bodies;
        self.reference_poses = poses;
        self.objects.extend(objects);
        Ok(())
    }

    /// Checks the scene; on error returns (key relative to the scene, reason).
    pub fn validate(&self, camera: &CameraPoseConfig) -> Result<(), (String, String)> {
        let e = |k: String, w: &str| Err((k, w.to_string()));
        for (i, b) in self.bodies.iter().enumerate() {
            if b.is_empty() || self.bodies[..i].contains(b) {
                return e(
                    format!("bodies[{i}]"),
                    "body names must be non-empty and unique",
                );
            }
        }
        for (i, o) in self.objects.iter().enumerate() {
            if !o.shape.is_valid() {
                return e(
                    format!("objects[{i}].shape"),
                    "dimensions must be finite and > 0",
                );
            }
            if !o.texture.is_valid() {
                return e(
                    format!("objects[{i}].texture"),
                    "period must be > 0, contrast in [0, 1], axis < 3",
                );
            }
            if !(0.0..=1.0).contains(&o.reflectance) {
                return e(format!("objects[{i}].reflectance"), "must be in [0, 1]");
            }
            let qn: f64 = o.orientation.iter().map(|x| x * x).sum::<f64>().sqrt();
            let finite = o.position_m.iter().all(|x| x.is_finite());
            if !(qn > 1e-9 && qn.is_finite() && finite) {
                return e(
                    format!("objects[{i}].orientation"),
                    "must be a finite non-zero quaternion",
                );
            }
            match &o.body {
                Some(b) if !self.bodies.contains(b) => {
                    return e(
                        format!("objects[{i}].body"),
                        &format!("body {b:?} does not exist (bodies: {:?})", self.bodies),
                    )
                }
                None => {
                    let pose = object_offset(o);
                    if o.shape
                        .signed_distance(pose.inverse_apply(camera.position_m))
                        <= 0.0
                    {
                        return e(
                            "camera.position_m".into(),
                            &format!("the camera is inside object {:?}", o.name),
                        );
                    }
                }
                Some(b) => {
                    // At the world's reference pose, when the bodies come from a world.
                    let k = self.bodies.iter().position(|n| n == b);
                    if let Some(body_pose) = k.and_then(|k| self.reference_poses.get(k)) {
                        let pose = body_pose.compose(&object_offset(o));
                        if o.shape
                            .signed_distance(pose.inverse_apply(camera.position_m))
                            <= 0.0
                        {
                            return e(
                                "camera.position_m".into(),
                                &format!(
                                    "the camera is inside object {:?} on body {b:?} at the world's \
                                     reference pose",
                                    o.name
                                ),
                            );
                        }
                    }
                }
            }
        }
        for (i, p) in self.planes.iter().enumerate() {
            let normal_ok = norm(p.normal) > 0.0;
            if !normal_ok || !p.texture.is_valid() || !(0.0..=1.0).contains(&p.reflectance) {
                return e(
                    format!("planes[{i}]"),
                    "needs a non-zero normal, reflectance in [0, 1] and a valid texture",
                );
            }
            if dot(sub(camera.position_m, p.point_m), p.normal) <= 0.0 {
                return e(
                    "camera.position_m".into(),
                    &format!("the camera is behind plane {:?}", p.name),
                );
            }
        }
        if !(self.light.ambient >= 0.0 && self.light.ambient <= 1.0) {
            return e("scene.light.ambient".into(), "must be in [0, 1]");
        }
        let light_ok = self.light.irradiance > 0.0 && self.light.irradiance.is_finite();
        let background_ok =
            self.background_irradiance >= 0.0 && self.background_irradiance.is_finite();
        if !(light_ok && background_ok) {
            return e(
                "scene.light.irradiance".into(),
                "irradiances must be finite, > 0 (light) and >= 0 (background)",
            );
        }
        let direction_ok = norm(self.light.direction) > 0.0;
        if !direction_ok {
            return e("scene.light.direction".into(), "must be non-zero");
        }
        Ok(())
    }
}

pub(super) fn object_offset(o: &ObjectConfig) -> Pose {
    let mut v = [0.0; 7];
    v[..3].copy_from_slice(&o.position_m);
    v[3..].copy_from_slice(&o.orientation);
    Pose::from_slice(&v)
}
