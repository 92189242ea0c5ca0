//! The camera's scene and a headless CPU ray caster for it.
//!
//! A scene is a list of primitive shapes (sphere, capsule, box, cylinder), each attached to a body of
//! the body engine's `body_poses` output (or static in the world), plus infinite planes for the
//! background (table, wall) and a directional light. Each pixel is the mean of `supersampling`^2 rays
//! (pinhole camera); a ray's value is Lambert shading, `irradiance * albedo * (ambient + (1 - ambient)
//! max(0, -n . light_direction))`, with the albedo of a solid texture evaluated in the object's own
//! frame (so textures move with their object). No shadows, no reflections.
//!
//! `bodies` is the body order of `body_poses`; an object's `body` names one of them;
//! `position_m`/`orientation` (w, x, y, z) place the shape in that body's frame (or in the world if
//! `body` is absent). Capsules and cylinders have their axis along local z. The bodies and their
//! objects normally come from the body engine's world file ([`SceneConfig::add_world`]: every collision
//! shape and every `[[bodies.visuals]]` shape of every body), so the camera sees the geometry the
//! physics simulates; planes, light and extra objects are the camera's own.
//!
//! Static geometry (planes and objects without a body) is rendered once into a cache while the camera
//! does not move; each frame then ray-casts only the pixels inside the screen bounds of each moving
//! object.

use neuroloop_body::world::{ShapeFrame, ShapeKind, WorldSpec};
use serde::Deserialize;

/// A 3-vector.
pub type V3 = [f64; 3];

fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn scale(a: V3, s: f64) -> V3 {
    [a[0] * s, a[1] * s, a[2] * s]
}
fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}
fn normalize(a: V3) -> V3 {
    let n = norm(a);
    if n > 0.0 {
        scale(a, 1.0 / n)
    } else {
        a
    }
}

/// A rigid pose: position (m) and unit quaternion (w, x, y, z).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// Position in m.
    pub p: V3,
    /// Orientation (w, x, y, z), unit length.
    pub q: [f64; 4],
}

impl Pose {
    /// The identity pose.
    pub const IDENTITY: Pose = Pose {
        p: [0.0; 3],
        q: [1.0, 0.0, 0.0, 0.0],
    };

    /// A pose from 7 numbers x, y, z, qw, qx, qy, qz; a zero quaternion (no data yet) becomes identity.
    pub fn from_slice(v: &[f64]) -> Pose {
        let q = [v[3], v[4], v[5], v[6]];
        let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
        Pose {
            p: [v[0], v[1], v[2]],
            q: if n > 1e-12 && n.is_finite() {
                [q[0] / n, q[1] / n, q[2] / n, q[3] / n]
            } else {
                [1.0, 0.0, 0.0, 0.0]
            },
        }
    }

    /// Rotates a vector by the pose's orientation.
    pub fn rotate(&self, v: V3) -> V3 {
        let w = self.q[0];
        let u = [self.q[1], self.q[2], self.q[3]];
        let t = scale(cross(u, v), 2.0);
        add(add(v, scale(t, w)), cross(u, t))
    }

    /// Rotates a vector by the inverse orientation.
    pub fn unrotate(&self, v: V3) -> V3 {
        let inv = Pose {
            p: [0.0; 3],
            q: [self.q[0], -self.q[1], -self.q[2], -self.q[3]],
        };
        inv.rotate(v)
    }

    /// `self * other` (other expressed in self's frame).
    pub fn compose(&self, other: &Pose) -> Pose {
        let (a, b) = (self.q, other.q);
        Pose {
            p: add(self.p, self.rotate(other.p)),
            q: [
                a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
                a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
                a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
                a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
            ],
        }
    }

    /// Linear interpolation of position and normalized linear interpolation of orientation (shortest arc).
    pub fn lerp(&self, other: &Pose, s: f64) -> Pose {
        let mut b = other.q;
        if self.q.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>() < 0.0 {
            b = b.map(|x| -x);
        }
        let q: Vec<f64> = self
            .q
            .iter()
            .zip(&b)
            .map(|(x, y)| x + s * (y - x))
            .collect();
        let mut v = [0.0; 7];
        for (i, x) in v.iter_mut().take(3).enumerate() {
            *x = self.p[i] + s * (other.p[i] - self.p[i]);
        }
        v[3..].copy_from_slice(&q);
        Pose::from_slice(&v)
    }

    /// A point in the world frame from the pose's frame.
    pub fn apply(&self, v: V3) -> V3 {
        add(self.p, self.rotate(v))
    }

    /// A world point in the pose's frame.
    pub fn inverse_apply(&self, v: V3) -> V3 {
        self.unrotate(sub(v, self.p))
    }
}

/// A primitive shape, in its own frame (capsule and cylinder axes along z).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Shape {
    /// A sphere.
    Sphere {
        /// Radius in m.
        radius_m: f64,
    },
    /// A cylinder with hemispherical ends.
    Capsule {
        /// Radius in m.
        radius_m: f64,
        /// Half length of the cylindrical part in m.
        half_height_m: f64,
    },
    /// A box.
    Box {
        /// Half extents along x, y, z in m.
        half_extents_m: V3,
    },
    /// A closed cylinder.
    Cylinder {
        /// Radius in m.
        radius_m: f64,
        /// Half height in m.
        half_height_m: f64,
    },
}

impl Shape {
    /// Whether every dimension is finite and > 0.
    pub fn is_valid(&self) -> bool {
        let ok = |x: f64| x.is_finite() && x > 0.0;
        match *self {
            Shape::Sphere { radius_m } => ok(radius_m),
            Shape::Capsule {
                radius_m,
                half_height_m,
            }
            | Shape::Cylinder {
                radius_m,
                half_height_m,
            } => ok(radius_m) && ok(half_height_m),
            Shape::Box { half_extents_m } => half_extents_m.iter().all(|&h| ok(h)),
        }
    }

    /// Radius of a sphere around the local origin that holds the shape.
    pub fn bounding_radius(&self) -> f64 {
        match *self {
            Shape::Sphere { radius_m } => radius_m,
            Shape::Capsule {
                radius_m,
                half_height_m,
            } => radius_m + half_height_m,
            Shape::Cylinder {
                radius_m,
                half_height_m,
            } => radius_m.hypot(half_height_m),
            Shape::Box { half_extents_m } => norm(half_extents_m),
        }
    }

    /// Half extents of the shape's bounding box in its own frame.
    pub fn local_half_extents(&self) -> V3 {
        match *self {
            Shape::Sphere { radius_m } => [radius_m; 3],
            Shape::Capsule {
                radius_m,
                half_height_m,
            } => [radius_m, radius_m, radius_m + half_height_m],
            Shape::Cylinder {
                radius_m,
                half_height_m,
            } => [radius_m, radius_m, half_height_m],
            Shape::Box { half_extents_m } => half_extents_m,
        }
    }

    /// Signed distance (negative inside; exact for sphere and capsule, a bound elsewhere).
    pub fn signed_distance(&self, p: V3) -> f64 {
        match *self {
            Shape::Sphere { radius_m } => norm(p) - radius_m,
            Shape::Capsule {
                radius_m,
                half_height_m,
            } => {
                let z = p[2].clamp(-half_height_m, half_height_m);
                norm([p[0], p[1], p[2] - z]) - radius_m
            }
            Shape::Cylinder {
                radius_m,
                half_height_m,
            } => (p[0].hypot(p[1]) - radius_m).max(p[2].abs() - half_height_m),
            Shape::Box { half_extents_m: h } => (0..3)
                .map(|i| p[i].abs() - h[i])
                .fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// First hit of the ray `o + t d` (local frame, `d` unit) with `t > T_MIN`: (t, outward normal).
    pub fn intersect(&self, o: V3, d: V3) -> Option<(f64, V3)> {
        match *self {
            Shape::Sphere { radius_m } => sphere_hit(o, d, [0.0; 3], radius_m),
            Shape::Box { half_extents_m: h } => {
                let (mut t_near, mut t_far) = (f64::NEG_INFINITY, f64::INFINITY);
                let (mut ax_near, mut ax_far) = (0, 0);
                for i in 0..3 {
                    if d[i].abs() < 1e-15 {
                        if o[i].abs() > h[i] {
                            return None;
                        }
                        continue;
                    }
                    let t1 = (-h[i] - o[i]) / d[i];
                    let t2 = (h[i] - o[i]) / d[i];
                    let (lo, hi) = if t1 < t2 { (t1, t2) } else { (t2, t1) };
                    if lo > t_near {
                        t_near = lo;
                        ax_near = i;
                    }
                    if hi < t_far {
                        t_far = hi;
                        ax_far = i;
                    }
                }
                if t_near > t_far || t_far <= T_MIN {
                    return None;
                }
                let (t, ax, sign) = if t_near > T_MIN {
                    (t_near, ax_near, -d[ax_near].signum())
                } else {
                    (t_far, ax_far, d[ax_far].signum())
                };
                let mut n = [0.0; 3];
                n[ax] = sign;
                Some((t, n))
            }
            Shape::Cylinder {
                radius_m,
                half_height_m,
            } => {
                let mut best = side_hit(o, d, radius_m, half_height_m);
                if d[2].abs() > 1e-15 {
                    for z0 in [-half_height_m, half_height_m] {
                        let t = (z0 - o[2]) / d[2];
                        if t > T_MIN && best.is_none_or(|(b, _)| t < b) {
                            let (x, y) = (o[0] + t * d[0], o[1] + t * d[1]);
                            if x * x + y * y <= radius_m * radius_m {
                                best = Some((t, [0.0, 0.0, z0.signum()]));
                            }
                        }
                    }
                }
                best
            }
            Shape::Capsule {
                radius_m,
                half_height_m,
            } => {
                let mut best = side_hit(o, d, radius_m, half_height_m);
                for z0 in [-half_height_m, half_height_m] {
                    if let Some((t, n)) = sphere_hit(o, d, [0.0, 0.0, z0], radius_m) {
                        if best.is_none_or(|(b, _)| t < b) {
                            best = Some((t, n));
                        }
                    }
                }
                best
            }
        }
    }
}

const T_MIN: f64 = 1e-9;

fn sphere_hit(o: V3, d: V3, c: V3, r: f64) -> Option<(f64, V3)> {
    let oc = sub(o, c);
    let b = dot(oc, d);
    let disc = b * b - (dot(oc, oc) - r * r);
    if disc < 0.0 {
        return None;
    }
    let s = disc.sqrt();
    let t = if -b - s > T_MIN { -b - s } else { -b + s };
    if t <= T_MIN {
        return None;
    }
    Some((t, scale(sub(add(o, scale(d, t)), c), 1.0 / r)))
}

/// The side of a z-axis cylinder of radius `r` between z = -h and h.
fn side_hit(o: V3, d: V3, r: f64, h: f64) -> Option<(f64, V3)> {
    let a = d[0] * d[0] + d[1] * d[1];
    if a < 1e-15 {
        return None;
    }
    let b = o[0] * d[0] + o[1] * d[1];
    let c = o[0] * o[0] + o[1] * o[1] - r * r;
    let disc = b * b - a * c;
    if disc < 0.0 {
        return None;
    }
    let s = disc.sqrt();
    for t in [(-b - s) / a, (-b + s) / a] {
        if t > T_MIN && (o[2] + t * d[2]).abs() <= h {
            let p = add(o, scale(d, t));
            return Some((t, [p[0] / r, p[1] / r, 0.0]));
        }
    }
    None
}

/// A solid texture: the albedo factor at a point of the object's (or plane's) frame.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Texture {
    /// Uniform albedo.
    #[default]
    Uniform,
    /// A 3-D checkerboard of cubes of side `period_m`: albedo times (1 +- contrast).
    Checker {
        /// Side of a cube in m.
        period_m: f64,
        /// Michelson contrast 0..1.
        contrast: f64,
    },
    /// Stripes across local `axis` (0 = x, 1 = y, 2 = z) with period `period_m`: albedo times (1 +- contrast).
    Stripes {
        /// Period in m.
        period_m: f64,
        /// Michelson contrast 0..1.
        contrast: f64,
        /// Local axis across which the stripes alternate.
        axis: usize,
    },
}

impl Texture {
    fn factor(&self, p: V3) -> f64 {
        match *self {
            Texture::Uniform => 1.0,
            Texture::Checker { period_m, contrast } => {
                let k: i64 = p.iter().map(|c| (c / period_m).floor() as i64).sum();
                if k.rem_euclid(2) == 0 {
                    1.0 + contrast
                } else {
                    1.0 - contrast
                }
            }
            Texture::Stripes {
                period_m,
                contrast,
                axis,
            } => {
                if (p[axis] / period_m).floor().rem_euclid(2.0) == 0.0 {
                    1.0 + contrast
                } else {
                    1.0 - contrast
                }
            }
        }
    }

    /// Whether the parameters make sense.
    pub fn is_valid(&self) -> bool {
        match *self {
            Texture::Uniform => true,
            Texture::Checker { period_m, contrast } => {
                period_m > 0.0 && period_m.is_finite() && (0.0..=1.0).contains(&contrast)
            }
            Texture::Stripes {
                period_m,
                contrast,
                axis,
            } => {
                period_m > 0.0
                    && period_m.is_finite()
                    && (0.0..=1.0).contains(&contrast)
                    && axis < 3
            }
        }
    }
}

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

fn identity_q() -> [f64; 4] {
    [1.0, 0.0, 0.0, 0.0]
}
fn half() -> f64 {
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

/// What the camera sees (see the [module docs](self)).
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
fn rotation_z_to(u: V3) -> [f64; 4] {
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

fn object_offset(o: &ObjectConfig) -> Pose {
    let mut v = [0.0; 7];
    v[..3].copy_from_slice(&o.position_m);
    v[3..].copy_from_slice(&o.orientation);
    Pose::from_slice(&v)
}

/// Camera orientation and optics.
#[derive(Clone, Copy, Debug)]
struct CameraFrame {
    origin: V3,
    right: V3,
    up: V3,
    forward: V3,
}

/// Ray caster for one scene and camera.
pub struct Renderer {
    width: usize,
    height: usize,
    ss: usize,
    tan_half: f64,
    base: CameraFrame,
    frame: CameraFrame,
    /// Image-plane coordinates (u, v) of each sub-sample ray, row-major over (y*ss + sy, x*ss + sx).
    uv: Vec<(f64, f64)>,
    dynamic: Vec<(usize, usize, Pose, Shape, f64, Texture)>,
    static_objects: Vec<(Pose, Shape, f64, Texture)>,
    planes: Vec<PlaneConfig>,
    light_dir: V3,
    ambient: f64,
    irradiance: f64,
    background: f64,
    cache_valid: bool,
    full_next: bool,
    last_full: bool,
    dirs: Vec<V3>,
    rects: Vec<(usize, usize, usize, usize)>,
    prev_rects: Vec<(usize, usize, usize, usize)>,
    cache_depth: Vec<f64>,
    cache_value: Vec<f64>,
    depth: Vec<f64>,
    value: Vec<f64>,
}

impl Renderer {
    /// A renderer for a validated scene (see [`SceneConfig::validate`]).
    pub fn new(
        scene: &SceneConfig,
        cam: &CameraPoseConfig,
        width: usize,
        height: usize,
        ss: usize,
    ) -> Self {
        let forward = normalize(sub(cam.look_at_m, cam.position_m));
        let mut right = cross(forward, cam.up);
        if norm(right) < 1e-9 {
            right = cross(forward, [1.0, 0.0, 0.0]);
        }
        let right = normalize(right);
        let up = cross(right, forward);
        let base = CameraFrame {
            origin: cam.position_m,
            right,
            up,
            forward,
        };
        let tan_half = (cam.fov_deg.to_radians() / 2.0).tan();
        let (sw, sh) = (width * ss, height * ss);
        let aspect = height as f64 / width as f64;
        let mut uv = Vec::with_capacity(sw * sh);
        for sy in 0..sh {
            for sx in 0..sw {
                let u = ((sx as f64 + 0.5) / sw as f64 * 2.0 - 1.0) * tan_half;
                let v = (1.0 - (sy as f64 + 0.5) / sh as f64 * 2.0) * tan_half * aspect;
                uv.push((u, v));
            }
        }
        let dynamic = scene
            .objects
            .iter()
            .filter_map(|o| {
                let b = scene
                    .bodies
                    .iter()
                    .position(|n| Some(n) == o.body.as_ref())?;
                Some((
                    b,
                    0,
                    object_offset(o),
                    o.shape.clone(),
                    o.reflectance,
                    o.texture.clone(),
                ))
            })
            .collect();
        let static_objects = scene
            .objects
            .iter()
            .filter(|o| o.body.is_none())
            .map(|o| {
                (
                    object_offset(o),
                    o.shape.clone(),
                    o.reflectance,
                    o.texture.clone(),
                )
            })
            .collect();
        Renderer {
            width,
            height,
            ss,
            tan_half,
            base,
            frame: base,
            uv,
            dynamic,
            static_objects,
            planes: scene
                .planes
                .iter()
                .map(|p| PlaneConfig {
                    normal: normalize(p.normal),
                    ..p.clone()
                })
                .collect(),
            light_dir: normalize(scene.light.direction),
            ambient: scene.light.ambient,
            irradiance: scene.light.irradiance,
            background: scene.background_irradiance,
            cache_valid: false,
            full_next: true,
            last_full: true,
            dirs: Vec::new(),
            rects: Vec::new(),
            prev_rects: Vec::new(),
            cache_depth: vec![0.0; sw * sh],
            cache_value: vec![0.0; sw * sh],
            depth: vec![0.0; sw * sh],
            value: vec![0.0; sw * sh],
        }
    }

    /// Image width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Image height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Turns the camera by small angles (rad) about its up axis (yaw) and right axis (pitch) from its
    /// configured orientation; the static cache is rebuilt when the orientation changes.
    pub fn set_jitter(&mut self, yaw: f64, pitch: f64) {
        let b = self.base;
        let (sy, cy) = yaw.sin_cos();
        let f1 = add(scale(b.forward, cy), scale(b.right, -sy));
        let r1 = add(scale(b.right, cy), scale(b.forward, sy));
        let (sp, cp) = pitch.sin_cos();
        let f2 = add(scale(f1, cp), scale(b.up, sp));
        let u2 = add(scale(b.up, cp), scale(f1, -sp));
        let frame = CameraFrame {
            origin: b.origin,
            right: r1,
            up: u2,
            forward: f2,
        };
        if frame.forward != self.frame.forward || frame.up != self.frame.up {
            self.cache_valid = false;
        }
        self.frame = frame;
    }

    fn ray(&self, i: usize) -> V3 {
        self.dirs[i]
    }

    fn shade(&self, n: V3, albedo: f64) -> f64 {
        let lambert = (-dot(n, self.light_dir)).max(0.0);
        self.irradiance * albedo * (self.ambient + (1.0 - self.ambient) * lambert)
    }

    fn build_cache(&mut self) {
        let o = self.frame.origin;
        let f = self.frame;
        self.dirs.clear();
        self.dirs.extend(
            self.uv
                .iter()
                .map(|&(u, v)| normalize(add(f.forward, add(scale(f.right, u), scale(f.up, v))))),
        );
        for i in 0..self.uv.len() {
            let d = self.ray(i);
            let (mut best_t, mut best_v) = (f64::INFINITY, self.background);
            for p in &self.planes {
                let den = dot(d, p.normal);
                if den < -1e-12 {
                    let t = dot(sub(p.point_m, o), p.normal) / den;
                    if t > T_MIN && t < best_t {
                        let x = add(o, scale(d, t));
                        best_t = t;
                        best_v = self.shade(p.normal, p.reflectance * p.texture.factor(x));
                    }
                }
            }
            for (pose, shape, refl, tex) in &self.static_objects {
                let lo = pose.inverse_apply(o);
                let ld = pose.unrotate(d);
                if let Some((t, n)) = shape.intersect(lo, ld) {
                    if t < best_t {
                        best_t = t;
                        let lp = add(lo, scale(ld, t));
                        best_v = self.shade(pose.rotate(n), refl * tex.factor(lp));
                    }
                }
            }
            self.cache_depth[i] = best_t;
            self.cache_value[i] = best_v;
        }
        self.cache_valid = true;
    }

    /// Renders the scene for the given body poses (one per scene body) into `image` (width x height,
    /// row-major, y down), each pixel the mean of its sub-samples. `image` must hold this renderer's
    /// previous output: only the pixels that moving objects covered in the previous or this render are
    /// rewritten (all of them after the camera moved).
    pub fn render(&mut self, body_poses: &[Pose], image: &mut [f64]) {
        let mut full = self.full_next;
        if !self.cache_valid {
            self.build_cache();
            full = true;
        }
        let (sw, sh) = (self.width * self.ss, self.height * self.ss);
        if full {
            self.depth.copy_from_slice(&self.cache_depth);
            self.value.copy_from_slice(&self.cache_value);
        } else {
            for &(x0, x1, y0, y1) in &self.prev_rects {
                for sy in y0..y1 {
                    let r = sy * sw + x0..sy * sw + x1;
                    self.depth[r.clone()].copy_from_slice(&self.cache_depth[r.clone()]);
                    self.value[r.clone()].copy_from_slice(&self.cache_value[r]);
                }
            }
        }
        let mut rects = std::mem::take(&mut self.rects);
        rects.clear();
        let o = self.frame.origin;
        for k in 0..self.dynamic.len() {
            let (b, _, offset, ref shape, refl, ref tex) = self.dynamic[k];
            let pose = body_poses[b].compose(&offset);
            let Some((x0, x1, y0, y1)) =
                self.screen_bounds(&pose, shape.local_half_extents(), sw, sh)
            else {
                continue;
            };
            rects.push((x0, x1, y0, y1));
            let lo = pose.inverse_apply(o);
            for sy in y0..y1 {
                for sx in x0..x1 {
                    let i = sy * sw + sx;
                    let d = self.ray(i);
                    let ld = pose.unrotate(d);
                    if let Some((t, n)) = shape.intersect(lo, ld) {
                        if t < self.depth[i] {
                            self.depth[i] = t;
                            let lp = add(lo, scale(ld, t));
                            self.value[i] = self.shade(pose.rotate(n), refl * tex.factor(lp));
                        }
                    }
                }
            }
        }
        self.last_full = full;
        if full {
            self.downsample((0, sw, 0, sh), image);
        } else {
            for k in 0..self.prev_rects.len() {
                self.downsample(self.prev_rects[k], image);
            }
            for &r in &rects {
                self.downsample(r, image);
            }
        }
        self.rects = std::mem::replace(&mut self.prev_rects, rects);
        self.full_next = false;
    }

    /// Averages the sub-samples of the pixels that overlap the sub-sample rectangle `r`.
    fn downsample(&self, r: (usize, usize, usize, usize), image: &mut [f64]) {
        let ss = self.ss;
        let sw = self.width * ss;
        let w = 1.0 / (ss * ss) as f64;
        let (px0, px1) = (r.0 / ss, r.1.div_ceil(ss));
        let (py0, py1) = (r.2 / ss, r.3.div_ceil(ss));
        for y in py0..py1 {
            for x in px0..px1 {
                let mut s = 0.0;
                for dy in 0..ss {
                    let row = (y * ss + dy) * sw + x * ss;
                    s += self.value[row..row + ss].iter().sum::<f64>();
                }
                image[y * self.width + x] = s * w;
            }
        }
    }

    /// The pixel rectangles [x0, x1) x [y0, y1) the last render rewrote (they may overlap); outside
    /// them every pixel kept its value.
    pub fn changed_pixel_rects(&self, out: &mut Vec<(usize, usize, usize, usize)>) {
        out.clear();
        if self.last_full {
            out.push((0, self.width, 0, self.height));
            return;
        }
        let ss = self.ss;
        for r in self.prev_rects.iter().chain(&self.rects) {
            out.push((r.0 / ss, r.1.div_ceil(ss), r.2 / ss, r.3.div_ceil(ss)));
        }
    }

    /// Forces the next render to rewrite every pixel.
    pub fn invalidate(&mut self) {
        self.full_next = true;
    }

    /// Pixels per radian of camera rotation near the optical axis.
    pub fn pixels_per_rad(&self) -> f64 {
        self.width as f64 / (2.0 * self.tan_half)
    }

    /// Largest displacement in pixels of a corner of a moving object's bounding box between the poses
    /// `a` and `b` (infinite if a corner is behind the camera).
    pub fn max_motion_px(&self, a: &[Pose], b: &[Pose]) -> f64 {
        let f = &self.frame;
        let to_px = self.pixels_per_rad();
        let project = |p: V3| {
            let rel = sub(p, f.origin);
            let z = dot(rel, f.forward);
            (z > 1e-6).then(|| (dot(rel, f.right) / z * to_px, dot(rel, f.up) / z * to_px))
        };
        let mut m: f64 = 0.0;
        for &(body, _, offset, ref shape, _, _) in &self.dynamic {
            let (pa, pb) = (a[body].compose(&offset), b[body].compose(&offset));
            let h = shape.local_half_extents();
            for k in 0..8 {
                let c = [
                    if k & 1 == 0 { -h[0] } else { h[0] },
                    if k & 2 == 0 { -h[1] } else { h[1] },
                    if k & 4 == 0 { -h[2] } else { h[2] },
                ];
                match (project(pa.apply(c)), project(pb.apply(c))) {
                    (Some(x), Some(y)) => m = m.max((x.0 - y.0).hypot(x.1 - y.1)),
                    _ => return f64::INFINITY,
                }
            }
        }
        m
    }

    /// Sub-sample rectangle [x0, x1) x [y0, y1) that holds the projection of the box `pose * [-h, h]`
    /// (conservative: the projection of its 8 corners, plus one sub-sample of margin).
    fn screen_bounds(
        &self,
        pose: &Pose,
        h: V3,
        sw: usize,
        sh: usize,
    ) -> Option<(usize, usize, usize, usize)> {
        let f = &self.frame;
        let aspect = self.height as f64 / self.width as f64;
        let (mut u0, mut u1, mut v0, mut v1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        let mut behind = 0;
        for k in 0..8 {
            let c = [
                if k & 1 == 0 { -h[0] } else { h[0] },
                if k & 2 == 0 { -h[1] } else { h[1] },
                if k & 4 == 0 { -h[2] } else { h[2] },
            ];
            let rel = sub(pose.apply(c), f.origin);
            let z = dot(rel, f.forward);
            if z <= 1e-6 {
                behind += 1;
                continue;
            }
            let (u, v) = (dot(rel, f.right) / z, dot(rel, f.up) / z);
            u0 = u0.min(u);
            u1 = u1.max(u);
            v0 = v0.min(v);
            v1 = v1.max(v);
        }
        if behind == 8 {
            return None;
        }
        if behind > 0 {
            return Some((0, sw, 0, sh));
        }
        let to_sx = |u: f64| (u / self.tan_half + 1.0) / 2.0 * sw as f64;
        let to_sy = |v: f64| (1.0 - v / (self.tan_half * aspect)) / 2.0 * sh as f64;
        let clampi = |v: f64, n: usize| v.max(0.0).min(n as f64) as usize;
        let x0 = clampi(to_sx(u0).floor() - 1.0, sw);
        let x1 = clampi(to_sx(u1).ceil() + 1.0, sw);
        let y0 = clampi(to_sy(v1).floor() - 1.0, sh);
        let y1 = clampi(to_sy(v0).ceil() + 1.0, sh);
        (x0 < x1 && y0 < y1).then_some((x0, x1, y0, y1))
    }
}

#[cfg(test)]
mod tests {
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
}
