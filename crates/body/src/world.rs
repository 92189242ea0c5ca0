//! The world file: bodies, joints, muscles, the joystick and the task, read from TOML and validated.
//!
//! A world file is parsed into [`WorldSpec`] (serde, unknown keys refused) and checked by
//! [`WorldSpec::validate`], whose errors name the offending key path (`bodies[3].mass_kg`,
//! `muscles[2].path[1].body`). Positions are in metres, angles in radians, masses in kg, SI throughout.
//!
//! Frames: every body has a pose in the model frame at the reference configuration (`position_m`,
//! `rpy_rad` as in SDF: R = Rz(yaw) Ry(pitch) Rx(roll)). A joint's axis is given in the child's frame and
//! its anchor in the child's frame (default: the child's origin, as in SDF); all joint angles are 0 at
//! the reference configuration. Muscle path points are given in the frame of the body they sit on.

use std::collections::HashMap;
use std::path::Path;

use rapier3d::glamx::{DQuat, DVec3, EulerRot};

use crate::math::DPose3;
use serde::{Deserialize, Serialize};

use crate::task::TaskSpec;
use crate::BodyError;

/// A whole world file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldSpec {
    /// Global physics settings.
    #[serde(default)]
    pub physics: PhysicsSpec,
    /// Rigid bodies.
    pub bodies: Vec<BodySpec>,
    /// Joints between bodies.
    pub joints: Vec<JointSpec>,
    /// Hill-type muscles.
    #[serde(default)]
    pub muscles: Vec<MuscleSpec>,
    /// The joystick: which body, where the grip is, how its position is reported.
    pub joystick: JoystickSpec,
    /// The pull task and its perturbation.
    #[serde(default)]
    pub task: TaskSpec,
}

/// Global physics settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhysicsSpec {
    /// Gravity in the model frame in m/s^2 (default [0, 0, -9.8], the SDF default).
    pub gravity_m_per_s2: [f64; 3],
    /// Rapier's length unit in m: scales its contact and joint tolerances (default 0.001, because the
    /// limb is millimetre-sized; rapier's default of 1 m would allow 1 mm errors).
    pub length_unit_m: f64,
    /// Solver iterations per step (default 1). In rapier each one is a substep that also refreshes the
    /// multibodies' mass matrices, so this sets most of the step's cost.
    pub solver_iterations: usize,
    /// Projected Gauss-Seidel passes inside each solver iteration (default 12): cheap, they tighten the
    /// loop-closing joint without refreshing the mass matrices.
    pub pgs_iterations: usize,
    /// Re-apply the loop-closing joint's impulse of the previous step at the start of each one (rapier's
    /// joint warm start; default false).
    pub warmstart_joints: bool,
    /// Physics substeps per 1 ms of simulated time is not fixed: the physics step is the engine's base
    /// step divided by this number (default 1).
    pub substeps: u32,
}

impl Default for PhysicsSpec {
    fn default() -> Self {
        PhysicsSpec {
            gravity_m_per_s2: [0.0, 0.0, -9.8],
            length_unit_m: 0.001,
            solver_iterations: 1,
            pgs_iterations: 12,
            warmstart_joints: false,
            substeps: 1,
        }
    }
}

/// One rigid body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodySpec {
    /// Unique name.
    pub name: String,
    /// Welded to the world (default false).
    #[serde(default)]
    pub fixed: bool,
    /// Origin in the model frame at the reference configuration, m.
    pub position_m: [f64; 3],
    /// Orientation in the model frame (roll, pitch, yaw; SDF convention), rad.
    #[serde(default)]
    pub rpy_rad: [f64; 3],
    /// Mass in kg (must be > 0 unless fixed).
    #[serde(default)]
    pub mass_kg: f64,
    /// Centre of mass in the body frame, m (default the origin).
    #[serde(default)]
    pub com_m: [f64; 3],
    /// Principal moments of inertia about the centre of mass, axes along the body frame, kg m^2.
    #[serde(default)]
    pub inertia_kg_m2: [f64; 3],
    /// Collision shapes.
    #[serde(default)]
    pub shapes: Vec<ShapeSpec>,
    /// Visual-only shapes (seen by cameras, ignored by physics and contacts).
    #[serde(default)]
    pub visuals: Vec<VisualSpec>,
}

/// One visual-only shape (`[[bodies.visuals]]`): the geometry fields of a [`ShapeSpec`] plus a
/// reflectance; physics and the `contacts` port ignore it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisualSpec {
    /// Name (e.g. `humerus`), unique among the world's shapes and visuals.
    pub name: String,
    /// `ball` (centre `a_m`, `radius_m`) or `capsule` (segment `a_m`-`b_m`, `radius_m`).
    pub kind: ShapeKind,
    /// Frame of `a_m`/`b_m` (default body).
    #[serde(default)]
    pub frame: ShapeFrame,
    /// Centre (ball) or first end of the segment (capsule), m.
    pub a_m: [f64; 3],
    /// Second end of the segment (capsule only), m.
    #[serde(default)]
    pub b_m: Option<[f64; 3]>,
    /// Radius, m.
    pub radius_m: f64,
    /// Diffuse reflectance 0..1 for cameras (default: the camera's choice).
    #[serde(default)]
    pub reflectance: Option<f64>,
}

/// Which frame a shape's coordinates are given in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeFrame {
    /// The body's own frame.
    #[default]
    Body,
    /// The model frame at the reference configuration (converted to the body frame on loading).
    Model,
}

/// One collision shape (all of them are reported on the `contacts` port when they touch).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeSpec {
    /// Name (e.g. `digit2`, `palm_pad`), unique in the world.
    pub name: String,
    /// `ball` (centre `a_m`, `radius_m`) or `capsule` (segment `a_m`-`b_m`, `radius_m`).
    pub kind: ShapeKind,
    /// Frame of `a_m`/`b_m` (default body).
    #[serde(default)]
    pub frame: ShapeFrame,
    /// Centre (ball) or first end of the segment (capsule), m.
    pub a_m: [f64; 3],
    /// Second end of the segment (capsule only), m.
    #[serde(default)]
    pub b_m: Option<[f64; 3]>,
    /// Radius, m.
    pub radius_m: f64,
    /// Friction coefficient (default 0.8).
    #[serde(default = "default_friction")]
    pub friction: f64,
}

fn default_friction() -> f64 {
    0.8
}

/// Collision shape kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeKind {
    /// A sphere.
    Ball,
    /// A segment with a radius.
    Capsule,
}

/// Joint kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JointKind {
    /// One rotational degree of freedom about `axis`.
    Revolute,
    /// Three rotational degrees of freedom (no limits).
    Ball,
}

/// One joint. Joints with `closes_loop = false` must form trees rooted at fixed bodies (they become
/// rapier multibody joints); a joint that closes a loop becomes an impulse joint.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointSpec {
    /// Unique name (reported on `joint_angles`).
    pub name: String,
    /// Revolute or ball.
    pub kind: JointKind,
    /// Parent body.
    pub parent: String,
    /// Child body.
    pub child: String,
    /// Rotation axis in the child frame (revolute), normalized on loading.
    #[serde(default)]
    pub axis: Option<[f64; 3]>,
    /// Anchor in the child frame, m (default the child's origin).
    #[serde(default)]
    pub anchor_m: [f64; 3],
    /// Angle limits [lo, hi], rad (revolute; default none).
    #[serde(default)]
    pub limits_rad: Option<[f64; 2]>,
    /// Viscous damping, N m s/rad (default 0).
    #[serde(default)]
    pub damping_n_m_s_per_rad: f64,
    /// Return spring stiffness, N m/rad (revolute tree joints; default 0).
    #[serde(default)]
    pub stiffness_n_m_per_rad: f64,
    /// Spring rest angle, rad (default 0).
    #[serde(default)]
    pub rest_rad: f64,
    /// Reflected rotor inertia added to the joint's degree of freedom, kg m^2 (default 0).
    #[serde(default)]
    pub armature_kg_m2: f64,
    /// This joint closes a kinematic loop (impulse joint; default false).
    #[serde(default)]
    pub closes_loop: bool,
}

/// One path point of a muscle.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathPointSpec {
    /// Body the point is fixed to.
    pub body: String,
    /// Position in that body's frame, m.
    pub point_m: [f64; 3],
}

/// One Hill-type muscle (constants as in OpenSim; defaults are OpenSim 3.3's).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuscleSpec {
    /// Unique name.
    pub name: String,
    /// Maximum isometric force F_max, N.
    pub max_isometric_force_n: f64,
    /// Optimal fiber length, m.
    pub optimal_fiber_length_m: f64,
    /// Tendon slack length, m (rigid tendon: subtracted from the path length).
    pub tendon_slack_length_m: f64,
    /// Maximum contraction velocity in optimal fiber lengths per s (default 10).
    #[serde(default = "default_vmax")]
    pub max_contraction_velocity_per_s: f64,
    /// Fiber damping, normalized (default 0.1).
    #[serde(default = "default_fiber_damping")]
    pub fiber_damping: f64,
    /// Passive fiber strain at one normalized force (default 0.7: force 1 at length 1.7).
    #[serde(default = "default_passive_strain")]
    pub passive_strain_at_one_norm_force: f64,
    /// Activation time constant, s (default 0.010).
    #[serde(default = "default_tau_act")]
    pub activation_time_constant_s: f64,
    /// Deactivation time constant, s (default 0.040).
    #[serde(default = "default_tau_deact")]
    pub deactivation_time_constant_s: f64,
    /// Lower bound of excitation and activation (default 0.01).
    #[serde(default = "default_min_act")]
    pub minimum_activation: f64,
    /// Path points, origin first (at least 2).
    pub path: Vec<PathPointSpec>,
}

fn default_vmax() -> f64 {
    10.0
}
fn default_fiber_damping() -> f64 {
    0.1
}
fn default_passive_strain() -> f64 {
    0.7
}
fn default_tau_act() -> f64 {
    0.010
}
fn default_tau_deact() -> f64 {
    0.040
}
fn default_min_act() -> f64 {
    0.01
}

/// The joystick: its grip and how its position is reported.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoystickSpec {
    /// The lever body.
    pub body: String,
    /// The grip point in the lever's frame, m.
    pub grip_m: [f64; 3],
    /// The body whose pose frames the paw-relative contact points (the paw).
    pub paw_body: String,
    /// Unit vector in the model frame along which a pull is positive (reported as x).
    pub pull_axis: [f64; 3],
    /// Unit vector in the model frame for the lateral coordinate (reported as y).
    pub lateral_axis: [f64; 3],
}

/// Names a key path in an error.
fn bad(key: impl Into<String>, why: impl Into<String>) -> BodyError {
    BodyError::World {
        key: key.into(),
        why: why.into(),
    }
}

/// Checks a ball's or capsule's geometry (shapes and visuals alike); errors name `key`'s fields.
fn check_geometry(
    key: &str,
    kind: ShapeKind,
    a_m: &[f64; 3],
    b_m: &Option<[f64; 3]>,
    radius_m: f64,
) -> Result<(), BodyError> {
    if !(radius_m > 0.0 && radius_m.is_finite()) {
        return Err(bad(format!("{key}.radius_m"), "must be > 0"));
    }
    finite3(a_m, &format!("{key}.a_m"))?;
    match (kind, b_m) {
        (ShapeKind::Capsule, None) => Err(bad(format!("{key}.b_m"), "a capsule needs b_m")),
        (ShapeKind::Capsule, Some(b)) => finite3(b, &format!("{key}.b_m")),
        (ShapeKind::Ball, Some(_)) => Err(bad(format!("{key}.b_m"), "a ball takes no b_m")),
        (ShapeKind::Ball, None) => Ok(()),
    }
}

fn finite3(v: &[f64; 3], key: &str) -> Result<(), BodyError> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(bad(key, "must be finite"))
    }
}

impl WorldSpec {
    /// Parses a world from TOML text and validates it.
    pub fn from_toml(text: &str) -> Result<Self, BodyError> {
        let spec: WorldSpec = toml::from_str(text).map_err(|e| BodyError::Parse(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Reads a world file and validates it.
    pub fn load(path: &Path) -> Result<Self, BodyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BodyError::Parse(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| BodyError::Parse(format!("{}: {e}", path.display())))
    }

    /// The world shipped with the crate: `worlds/mouse_forelimb_joystick.toml`.
    pub fn mouse_forelimb_joystick() -> Self {
        Self::from_toml(MOUSE_FORELIMB_JOYSTICK)
            .expect("the shipped world file is valid (checked by a unit test)")
    }

    /// Index of a body by name.
    pub fn body_index(&self, name: &str) -> Option<usize> {
        self.bodies.iter().position(|b| b.name == name)
    }

    /// Checks every cross-reference and range; the error names the key.
    pub fn validate(&self) -> Result<(), BodyError> {
        let p = &self.physics;
        if !(p.length_unit_m > 0.0 && p.length_unit_m.is_finite()) {
            return Err(bad("physics.length_unit_m", "must be > 0"));
        }
        finite3(&p.gravity_m_per_s2, "physics.gravity_m_per_s2")?;
        if p.solver_iterations == 0 {
            return Err(bad("physics.solver_iterations", "must be >= 1"));
        }
        if p.pgs_iterations == 0 {
            return Err(bad("physics.pgs_iterations", "must be >= 1"));
        }
        if p.substeps == 0 {
            return Err(bad("physics.substeps", "must be >= 1"));
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut shape_names: HashMap<&str, ()> = HashMap::new();
        for (i, b) in self.bodies.iter().enumerate() {
            let k = format!("bodies[{i}]");
            if b.name.is_empty() {
                return Err(bad(format!("{k}.name"), "must not be empty"));
            }
            if names.insert(&b.name, i).is_some() {
                return Err(bad(
                    format!("{k}.name"),
                    format!("body `{}` is defined twice", b.name),
                ));
            }
            finite3(&b.position_m, &format!("{k}.position_m"))?;
            finite3(&b.rpy_rad, &format!("{k}.rpy_rad"))?;
            finite3(&b.com_m, &format!("{k}.com_m"))?;
            if !b.fixed {
                if !(b.mass_kg > 0.0 && b.mass_kg.is_finite()) {
                    return Err(bad(
                        format!("{k}.mass_kg"),
                        format!("must be > 0 (got {})", b.mass_kg),
                    ));
                }
                if !b.inertia_kg_m2.iter().all(|x| *x > 0.0 && x.is_finite()) {
                    return Err(bad(
                        format!("{k}.inertia_kg_m2"),
                        "all three moments must be > 0",
                    ));
                }
            }
            for (j, s) in b.shapes.iter().enumerate() {
                let ks = format!("{k}.shapes[{j}]");
                if shape_names.insert(&s.name, ()).is_some() {
                    return Err(bad(
                        format!("{ks}.name"),
                        format!("shape `{}` is defined twice", s.name),
                    ));
                }
                check_geometry(&ks, s.kind, &s.a_m, &s.b_m, s.radius_m)?;
                if !(s.friction >= 0.0 && s.friction.is_finite()) {
                    return Err(bad(format!("{ks}.friction"), "must be >= 0"));
                }
            }
            for (j, v) in b.visuals.iter().enumerate() {
                let kv = format!("{k}.visuals[{j}]");
                if shape_names.insert(&v.name, ()).is_some() {
                    return Err(bad(
                        format!("{kv}.name"),
                        format!("shape or visual `{}` is defined twice", v.name),
                    ));
                }
                check_geometry(&kv, v.kind, &v.a_m, &v.b_m, v.radius_m)?;
                if let Some(r) = v.reflectance {
                    if !(0.0..=1.0).contains(&r) {
                        return Err(bad(format!("{kv}.reflectance"), "must be in [0, 1]"));
                    }
                }
            }
        }
        if !self.bodies.iter().any(|b| b.fixed) {
            return Err(bad("bodies", "at least one body must be fixed"));
        }
        // Joints: the tree joints give every moving body exactly one parent.
        let mut parent_of: Vec<Option<usize>> = vec![None; self.bodies.len()];
        let mut joint_names: HashMap<&str, ()> = HashMap::new();
        for (i, j) in self.joints.iter().enumerate() {
            let k = format!("joints[{i}]");
            if joint_names.insert(&j.name, ()).is_some() {
                return Err(bad(
                    format!("{k}.name"),
                    format!("joint `{}` is defined twice", j.name),
                ));
            }
            let pi = *names.get(j.parent.as_str()).ok_or_else(|| {
                bad(
                    format!("{k}.parent"),
                    format!("unknown body `{}`", j.parent),
                )
            })?;
            let ci = *names
                .get(j.child.as_str())
                .ok_or_else(|| bad(format!("{k}.child"), format!("unknown body `{}`", j.child)))?;
            if pi == ci {
                return Err(bad(
                    format!("{k}.child"),
                    "a joint needs two different bodies",
                ));
            }
            finite3(&j.anchor_m, &format!("{k}.anchor_m"))?;
            match j.kind {
                JointKind::Revolute => {
                    let a = j.axis.ok_or_else(|| {
                        bad(format!("{k}.axis"), "a revolute joint needs an axis")
                    })?;
                    finite3(&a, &format!("{k}.axis"))?;
                    if DVec3::from(a).length() < 1e-9 {
                        return Err(bad(format!("{k}.axis"), "must not be zero"));
                    }
                    if let Some([lo, hi]) = j.limits_rad {
                        if !(lo.is_finite() && hi.is_finite() && lo < 0.0 && hi > 0.0) {
                            return Err(bad(
                                format!("{k}.limits_rad"),
                                format!(
                                    "need lo < 0 < hi (the reference pose is 0), got [{lo}, {hi}]"
                                ),
                            ));
                        }
                    }
                }
                JointKind::Ball => {
                    if j.limits_rad.is_some() {
                        return Err(bad(format!("{k}.limits_rad"), "a ball joint has no limits"));
                    }
                    if j.axis.is_some() {
                        return Err(bad(format!("{k}.axis"), "a ball joint has no axis"));
                    }
                    if j.stiffness_n_m_per_rad != 0.0 {
                        return Err(bad(
                            format!("{k}.stiffness_n_m_per_rad"),
                            "springs are supported on revolute joints only",
                        ));
                    }
                }
            }
            for (v, name) in [
                (j.damping_n_m_s_per_rad, "damping_n_m_s_per_rad"),
                (j.stiffness_n_m_per_rad, "stiffness_n_m_per_rad"),
                (j.armature_kg_m2, "armature_kg_m2"),
            ] {
                if !(v >= 0.0 && v.is_finite()) {
                    return Err(bad(
                        format!("{k}.{name}"),
                        format!("must be >= 0 (got {v})"),
                    ));
                }
            }
            if !j.rest_rad.is_finite() {
                return Err(bad(format!("{k}.rest_rad"), "must be finite"));
            }
            if j.closes_loop {
                if j.stiffness_n_m_per_rad != 0.0 || j.armature_kg_m2 != 0.0 {
                    return Err(bad(
                        format!("{k}.closes_loop"),
                        "a loop-closing joint takes no spring or armature",
                    ));
                }
            } else {
                if self.bodies[ci].fixed {
                    return Err(bad(
                        format!("{k}.child"),
                        "the child of a tree joint cannot be fixed",
                    ));
                }
                if parent_of[ci].is_some() {
                    return Err(bad(
                        format!("{k}.child"),
                        format!(
                            "body `{}` already has a parent joint (set closes_loop = true to close a loop)",
                            j.child
                        ),
                    ));
                }
                parent_of[ci] = Some(pi);
            }
        }
        for (i, b) in self.bodies.iter().enumerate() {
            if b.fixed {
                continue;
            }
            // Walk up to a fixed root; a cycle or a missing parent is an error.
            let mut cur = i;
            let mut hops = 0;
            loop {
                match parent_of[cur] {
                    None if self.bodies[cur].fixed => break,
                    None => {
                        return Err(bad(
                            format!("bodies[{i}]"),
                            format!(
                                "body `{}` is not connected to a fixed body by tree joints",
                                b.name
                            ),
                        ))
                    }
                    Some(p) => cur = p,
                }
                hops += 1;
                if hops > self.bodies.len() {
                    return Err(bad("joints", "the tree joints form a cycle"));
                }
            }
        }
        for (i, m) in self.muscles.iter().enumerate() {
            let k = format!("muscles[{i}]");
            for (v, name) in [
                (m.max_isometric_force_n, "max_isometric_force_n"),
                (m.optimal_fiber_length_m, "optimal_fiber_length_m"),
                (
                    m.max_contraction_velocity_per_s,
                    "max_contraction_velocity_per_s",
                ),
                (
                    m.passive_strain_at_one_norm_force,
                    "passive_strain_at_one_norm_force",
                ),
                (m.activation_time_constant_s, "activation_time_constant_s"),
                (
                    m.deactivation_time_constant_s,
                    "deactivation_time_constant_s",
                ),
            ] {
                if !(v > 0.0 && v.is_finite()) {
                    return Err(bad(format!("{k}.{name}"), format!("must be > 0 (got {v})")));
                }
            }
            for (v, name) in [
                (m.tendon_slack_length_m, "tendon_slack_length_m"),
                (m.fiber_damping, "fiber_damping"),
            ] {
                if !(v >= 0.0 && v.is_finite()) {
                    return Err(bad(
                        format!("{k}.{name}"),
                        format!("must be >= 0 (got {v})"),
                    ));
                }
            }
            if !(m.minimum_activation > 0.0 && m.minimum_activation < 1.0) {
                return Err(bad(format!("{k}.minimum_activation"), "must be in (0, 1)"));
            }
            if m.path.len() < 2 {
                return Err(bad(format!("{k}.path"), "needs at least 2 points"));
            }
            for (j, pp) in m.path.iter().enumerate() {
                if !names.contains_key(pp.body.as_str()) {
                    return Err(bad(
                        format!("{k}.path[{j}].body"),
                        format!("unknown body `{}`", pp.body),
                    ));
                }
                finite3(&pp.point_m, &format!("{k}.path[{j}].point_m"))?;
            }
            if self.muscles[..i].iter().any(|o| o.name == m.name) {
                return Err(bad(
                    format!("{k}.name"),
                    format!("muscle `{}` is defined twice", m.name),
                ));
            }
        }
        let js = &self.joystick;
        for (name, key) in [
            (&js.body, "joystick.body"),
            (&js.paw_body, "joystick.paw_body"),
        ] {
            if !names.contains_key(name.as_str()) {
                return Err(bad(key, format!("unknown body `{name}`")));
            }
        }
        finite3(&js.grip_m, "joystick.grip_m")?;
        for (a, key) in [
            (js.pull_axis, "joystick.pull_axis"),
            (js.lateral_axis, "joystick.lateral_axis"),
        ] {
            finite3(&a, key)?;
            if (DVec3::from(a).length() - 1.0).abs() > 1e-6 {
                return Err(bad(key, "must be a unit vector"));
            }
        }
        self.task.validate()?;
        Ok(())
    }

    /// Pose of body `i` in the model frame at the reference configuration.
    pub fn reference_pose(&self, i: usize) -> DPose3 {
        let b = &self.bodies[i];
        let [r, p, y] = b.rpy_rad;
        DPose3::from_parts(
            DVec3::from(b.position_m),
            DQuat::from_euler(EulerRot::ZYX, y, p, r),
        )
    }
}

/// The text of `worlds/mouse_forelimb_joystick.toml`.
pub const MOUSE_FORELIMB_JOYSTICK: &str =
    include_str!("../../../worlds/mouse_forelimb_joystick.toml");

#[cfg(test)]
mod visual_tests {
    use super::*;

    fn err_of(from: &str, to: &str) -> String {
        assert!(MOUSE_FORELIMB_JOYSTICK.contains(from), "{from}");
        match WorldSpec::from_toml(&MOUSE_FORELIMB_JOYSTICK.replacen(from, to, 1)) {
            Ok(_) => panic!("accepted {to}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn shipped_visuals_load_and_bad_visuals_name_the_key() {
        let w = WorldSpec::mouse_forelimb_joystick();
        let visuals: Vec<(&str, &str)> = w
            .bodies
            .iter()
            .flat_map(|b| {
                b.visuals
                    .iter()
                    .map(move |v| (b.name.as_str(), v.name.as_str()))
            })
            .collect();
        assert_eq!(
            visuals,
            [
                ("humerus", "humerus"),
                ("radius", "radius"),
                ("foot", "metacarpus"),
                ("joystick", "lever")
            ]
        );
        let e = err_of("name = \"lever\"", "name = \"handle\"");
        assert!(
            e.contains("bodies[7].visuals[0].name") && e.contains("twice"),
            "{e}"
        );
        let e = err_of("radius_m = 0.0008\n  reflectance = 0.8", "radius_m = -1.0");
        assert!(e.contains("bodies[2].visuals[0].radius_m"), "{e}");
        let e = err_of("reflectance = 0.3", "reflectance = 1.5");
        assert!(e.contains("bodies[7].visuals[0].reflectance"), "{e}");
        let e = err_of("b_m = [0.0127, 0.0, 0.0]", "");
        assert!(
            e.contains("bodies[3].visuals[0].b_m") && e.contains("needs b_m"),
            "{e}"
        );
        let e = err_of("reflectance = 0.3", "reflectance = 0.3\ncolour = 1");
        assert!(e.contains("unknown field"), "{e}");
    }
}
