//! The simulated body: the rapier world built from a [`WorldSpec`], the muscles that act on it, the
//! joystick task, and one [`Body::step`] that advances them together.
//!
//! Units: SI, with the limb's real masses and the reference's inertias. The tiny masses need no unit
//! scaling: the multibody (reduced-coordinate) solver integrates joint damping and springs implicitly,
//! and rapier's `length_unit` is set to 1 mm so that its contact and joint tolerances suit a
//! millimetre-sized limb (the default of 1 m would tolerate errors of 1 mm).
//!
//! Structure: tree joints become one rapier multibody per fixed root (the arm from the `mouse`, the
//! joystick gimbal from its base); a joint with `closes_loop` (the paw grip) becomes an impulse joint
//! between the two multibodies, which also keeps paw-handle contacts enabled (contacts inside one
//! multibody are off by default).

use rapier3d::glamx::{DQuat, DVec3};

use crate::math::DPose3;
use rapier3d::prelude::*;

use crate::muscle::MuscleParams;
use crate::task::{Task, TaskOutput};
use crate::world::{JointKind, ShapeFrame, ShapeKind, WorldSpec};
use crate::BodyError;

/// Maximum number of contact points reported per step.
pub const MAX_CONTACTS: usize = 16;
/// Values per contact slot: shape number (1-based, 0 = unused), x, y, z in the paw frame (m), normal
/// force (N).
pub const CONTACT_FIELDS: usize = 5;

/// A joint as the body keeps it: frames in both bodies, so angles can be measured from body poses.
#[derive(Clone, Debug)]
pub struct JointInfo {
    /// Name.
    pub name: String,
    /// Revolute or ball.
    pub kind: JointKind,
    /// Parent body index.
    pub parent: usize,
    /// Child body index.
    pub child: usize,
    /// Joint frame in the parent's body frame (x is the revolute axis).
    pub frame1: DPose3,
    /// Joint frame in the child's body frame.
    pub frame2: DPose3,
    /// Limits, rad.
    pub limits: Option<[f64; 2]>,
    multibody: Option<MultibodyJointHandle>,
    damping: f64,
    armature: f64,
}

/// A muscle as the body keeps it.
#[derive(Clone, Debug)]
pub struct MuscleInfo {
    /// Name.
    pub name: String,
    /// Constants.
    pub params: MuscleParams,
    /// Path points: (body index, point in the body frame).
    pub path: Vec<(usize, DVec3)>,
}

/// The state of one muscle after a step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MuscleState {
    /// Path length (fiber + rigid tendon), m.
    pub length_m: f64,
    /// Lengthening velocity, m/s.
    pub velocity_m_per_s: f64,
    /// Tendon force, N.
    pub force_n: f64,
    /// Activation.
    pub activation: f64,
}

/// One contact point on the paw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PawContact {
    /// Index of the paw shape in the world's shape list (0-based).
    pub shape: usize,
    /// Contact point in the paw body's frame, m.
    pub point_paw_m: DVec3,
    /// Normal force, N.
    pub normal_force_n: f64,
}

/// The whole simulated body.
pub struct Body {
    spec: WorldSpec,
    world: PhysicsWorld,
    handles: Vec<RigidBodyHandle>,
    joints: Vec<JointInfo>,
    muscles: Vec<MuscleInfo>,
    muscle_state: Vec<MuscleState>,
    /// Collider handle, body index, shape name (world order).
    shapes: Vec<(ColliderHandle, usize, String)>,
    paw: usize,
    joystick: usize,
    grip_local: DVec3,
    grip_rest: DVec3,
    task: Task,
    steps: u64,
    dt_s: f64,
    contacts: Vec<PawContact>,
    /// Per-step scratch: body poses, and the (body, point, force) triples applied.
    pose_buf: Vec<DPose3>,
    force_buf: Vec<(usize, DVec3, DVec3)>,
}

fn v32(v: DVec3) -> Vector {
    v.as_vec3()
}

fn pose32(p: &DPose3) -> Pose {
    Pose::from_parts(p.translation.as_vec3(), p.rotation.as_quat())
}

fn pose64(p: &Pose) -> DPose3 {
    DPose3::from_parts(p.translation.as_dvec3(), p.rotation.as_dquat())
}

impl Body {
    /// Builds the body from a validated world with a physics step of `dt_s`.
    pub fn new(spec: WorldSpec, dt_s: f64) -> Result<Self, BodyError> {
        spec.validate()?;
        if !(dt_s > 0.0 && dt_s <= 0.01) {
            return Err(BodyError::World {
                key: "dt".into(),
                why: format!(
                    "the physics step must be in (0, 10] ms, got {} ms",
                    dt_s * 1e3
                ),
            });
        }
        let mut world = PhysicsWorld::new();
        world.gravity = v32(DVec3::from(spec.physics.gravity_m_per_s2));
        let ip = &mut world.integration_parameters;
        ip.dt = dt_s as Real;
        ip.length_unit = spec.physics.length_unit_m as Real;
        ip.num_solver_iterations = spec.physics.solver_iterations;
        ip.num_internal_pgs_iterations = spec.physics.pgs_iterations;
        ip.warmstart_joints = spec.physics.warmstart_joints;
        // No continuous collision detection: the fastest shapes (digits, 0.25 mm radius) move well under
        // 0.1 mm per step, so nothing can tunnel, and CCD's per-step sweep is saved.
        ip.max_ccd_substeps = 0;

        let mut handles = Vec::with_capacity(spec.bodies.len());
        let mut shapes = Vec::new();
        for (i, b) in spec.bodies.iter().enumerate() {
            let pose = spec.reference_pose(i);
            let builder = if b.fixed {
                RigidBodyBuilder::fixed()
            } else {
                RigidBodyBuilder::dynamic()
                    .additional_mass_properties(MassProperties::new(
                        v32(DVec3::from(b.com_m)),
                        b.mass_kg as Real,
                        v32(DVec3::from(b.inertia_kg_m2)),
                    ))
                    .can_sleep(false)
            };
            let h = world.insert_body(builder.pose(pose32(&pose)));
            handles.push(h);
            for s in &b.shapes {
                let to_body = |p: [f64; 3]| match s.frame {
                    ShapeFrame::Body => DVec3::from(p),
                    ShapeFrame::Model => pose.inverse_transform_point(DVec3::from(p)),
                };
                let a = to_body(s.a_m);
                let cb = match s.kind {
                    ShapeKind::Ball => ColliderBuilder::ball(s.radius_m as Real)
                        .position(Pose::from_translation(v32(a))),
                    ShapeKind::Capsule => ColliderBuilder::capsule_from_endpoints(
                        v32(a),
                        v32(to_body(s.b_m.unwrap_or(s.a_m))),
                        s.radius_m as Real,
                    ),
                };
                let ch =
                    world.insert_collider(cb.density(0.0).friction(s.friction as Real), Some(h));
                shapes.push((ch, i, s.name.clone()));
            }
        }

        let mut joints = Vec::with_capacity(spec.joints.len());
        for j in &spec.joints {
            let pi = spec.body_index(&j.parent).expect("validated");
            let ci = spec.body_index(&j.child).expect("validated");
            let rot = match j.axis {
                Some(a) => DQuat::from_rotation_arc(DVec3::X, DVec3::from(a).normalize()),
                None => DQuat::IDENTITY,
            };
            let frame2 = DPose3::from_parts(DVec3::from(j.anchor_m), rot);
            let frame1 = spec.reference_pose(pi).inverse() * spec.reference_pose(ci) * frame2;
            let mut builder = GenericJointBuilder::new(match j.kind {
                JointKind::Revolute => JointAxesMask::LOCKED_REVOLUTE_AXES,
                JointKind::Ball => JointAxesMask::LOCKED_SPHERICAL_AXES,
            })
            .local_frame1(pose32(&frame1))
            .local_frame2(pose32(&frame2))
            .contacts_enabled(true);
            if let Some([lo, hi]) = j.limits_rad {
                builder = builder.limits(JointAxis::AngX, [lo as Real, hi as Real]);
            }
            let mut multibody = None;
            if j.closes_loop {
                if j.damping_n_m_s_per_rad > 0.0 {
                    let axes: &[JointAxis] = match j.kind {
                        JointKind::Revolute => &[JointAxis::AngX],
                        JointKind::Ball => &[JointAxis::AngX, JointAxis::AngY, JointAxis::AngZ],
                    };
                    for &ax in axes {
                        builder = builder
                            .motor_model(ax, MotorModel::ForceBased)
                            .motor_velocity(ax, 0.0, j.damping_n_m_s_per_rad as Real);
                    }
                }
                world.insert_impulse_joint(handles[pi], handles[ci], builder.build());
            } else {
                let h = world
                    .insert_multibody_joint(handles[pi], handles[ci], builder.build())
                    .ok_or_else(|| BodyError::World {
                        key: format!("joints.{}", j.name),
                        why: "rapier refused this joint as a multibody joint".into(),
                    })?;
                if j.stiffness_n_m_per_rad > 0.0 {
                    if let Some((mb, link)) = world.multibody_joints.get_mut(h) {
                        if let Some(l) = mb.link_mut(link) {
                            // Angular x is spatial axis 3 (0..3 linear, 3..6 angular).
                            l.joint.set_spring(
                                3,
                                j.stiffness_n_m_per_rad as Real,
                                j.rest_rad as Real,
                            );
                        }
                    }
                }
                multibody = Some(h);
            }
            joints.push(JointInfo {
                name: j.name.clone(),
                kind: j.kind,
                parent: pi,
                child: ci,
                frame1,
                frame2,
                limits: j.limits_rad,
                multibody,
                damping: j.damping_n_m_s_per_rad,
                armature: j.armature_kg_m2,
            });
        }

        let muscles: Vec<MuscleInfo> = spec
            .muscles
            .iter()
            .map(|m| MuscleInfo {
                name: m.name.clone(),
                params: MuscleParams::from(m),
                path: m
                    .path
                    .iter()
                    .map(|p| {
                        (
                            spec.body_index(&p.body).expect("validated"),
                            DVec3::from(p.point_m),
                        )
                    })
                    .collect(),
            })
            .collect();
        let paw = spec.body_index(&spec.joystick.paw_body).expect("validated");
        let joystick = spec.body_index(&spec.joystick.body).expect("validated");
        let grip_local = DVec3::from(spec.joystick.grip_m);
        let grip_rest = spec.reference_pose(joystick).transform_point(grip_local);
        let task = Task::new(spec.task.clone());
        let n_muscles = muscles.len();
        let mut body = Body {
            spec,
            world,
            handles,
            joints,
            muscle_state: vec![MuscleState::default(); n_muscles],
            muscles,
            shapes,
            paw,
            joystick,
            grip_local,
            grip_rest,
            task,
            steps: 0,
            dt_s,
            contacts: Vec::new(),
            pose_buf: Vec::new(),
            force_buf: Vec::new(),
        };
        let poses = body.poses();
        for (i, m) in body.muscles.iter().enumerate() {
            let (len, vel) = body.path_length_velocity(m, &poses);
            let a = m.params.min_activation;
            body.muscle_state[i] = MuscleState {
                length_m: len,
                velocity_m_per_s: vel,
                force_n: m.params.force_n(len, vel, a),
                activation: a,
            };
        }
        body.set_joint_damping();
        Ok(body)
    }

    /// Writes the joints' damping and armature into the multibodies' per-DoF vectors (rapier's default
    /// damping of 0.1 N m s/rad would swamp this limb's 1e-3 N m muscle torques). Once, after the
    /// multibodies are built: rapier resets these vectors only when a multibody's structure changes.
    fn set_joint_damping(&mut self) {
        for j in &self.joints {
            let Some(h) = j.multibody else { continue };
            if let Some((mb, link)) = self.world.multibody_joints.get_mut(h) {
                let Some(id) = mb.link(link).map(|l| l.assembly_id()) else {
                    continue;
                };
                if id < mb.damping().len() {
                    mb.damping_mut()[id] = j.damping as Real;
                    mb.armature_mut()[id] = j.armature as Real;
                }
            }
        }
    }

    /// The world this body was built from.
    pub fn spec(&self) -> &WorldSpec {
        &self.spec
    }

    /// The joints (world order).
    pub fn joints(&self) -> &[JointInfo] {
        &self.joints
    }

    /// The muscles (world order).
    pub fn muscles(&self) -> &[MuscleInfo] {
        &self.muscles
    }

    /// The muscles' state after the last step.
    pub fn muscle_state(&self) -> &[MuscleState] {
        &self.muscle_state
    }

    /// Names of the collision shapes, in world order (contact shape numbers index this list, 1-based).
    pub fn shape_names(&self) -> Vec<&str> {
        self.shapes.iter().map(|(_, _, n)| n.as_str()).collect()
    }

    /// The task.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// Physics step, s.
    pub fn dt_s(&self) -> f64 {
        self.dt_s
    }

    /// Simulated time, s.
    pub fn time_s(&self) -> f64 {
        self.steps as f64 * self.dt_s
    }

    /// Pose of body `i` in the model frame.
    pub fn pose(&self, i: usize) -> DPose3 {
        pose64(self.world.bodies[self.handles[i]].position())
    }

    fn point_velocity(&self, i: usize, p: DVec3) -> DVec3 {
        self.world.bodies[self.handles[i]]
            .velocity_at_point(v32(p))
            .as_dvec3()
    }

    /// Path length (m) and lengthening velocity (m/s) of muscle `m` with the bodies at `poses` (the
    /// current ones): velocities from the bodies' rigid motion at each path point.
    fn path_length_velocity(&self, m: &MuscleInfo, poses: &[DPose3]) -> (f64, f64) {
        let mut len = 0.0;
        let mut vel = 0.0;
        for w in m.path.windows(2) {
            let ((b0, p0), (b1, p1)) = (w[0], w[1]);
            let (w0, w1) = (poses[b0].transform_point(p0), poses[b1].transform_point(p1));
            let d = w1 - w0;
            let l = d.length();
            len += l;
            if l > 1e-12 && b0 != b1 {
                let dv = self.point_velocity(b1, w1) - self.point_velocity(b0, w0);
                vel += d.dot(dv) / l;
            }
        }
        (len, vel)
    }

    /// Angle of revolute joint `j`, rad (0 at the reference pose); NaN for a ball joint.
    pub fn joint_angle(&self, j: usize) -> f64 {
        let info = &self.joints[j];
        if info.kind != JointKind::Revolute {
            return f64::NAN;
        }
        let f1 = self.pose(info.parent) * info.frame1;
        let f2 = self.pose(info.child) * info.frame2;
        let q = f1.rotation.inverse() * f2.rotation;
        let q = if q.w < 0.0 { -q } else { q };
        2.0 * q.x.atan2(q.w)
    }

    /// Angular velocity of revolute joint `j` (child relative to parent about the axis), rad/s.
    pub fn joint_velocity(&self, j: usize) -> f64 {
        let info = &self.joints[j];
        if info.kind != JointKind::Revolute {
            return f64::NAN;
        }
        let axis = (self.pose(info.child) * info.frame2).rotation * DVec3::X;
        let w = |i: usize| self.world.bodies[self.handles[i]].angvel().as_dvec3();
        (w(info.child) - w(info.parent)).dot(axis)
    }

    /// Grip position relative to rest, mm: (pull along `pull_axis`, lateral along `lateral_axis`).
    pub fn joystick_position_mm(&self) -> [f64; 2] {
        let g = self.pose(self.joystick).transform_point(self.grip_local) - self.grip_rest;
        let js = &self.spec.joystick;
        [
            g.dot(DVec3::from(js.pull_axis)) * 1e3,
            g.dot(DVec3::from(js.lateral_axis)) * 1e3,
        ]
    }

    /// Grip velocity, mm/s: (pull, lateral).
    pub fn joystick_velocity_mm_per_s(&self) -> [f64; 2] {
        let g = self.pose(self.joystick).transform_point(self.grip_local);
        let v = self.point_velocity(self.joystick, g);
        let js = &self.spec.joystick;
        [
            v.dot(DVec3::from(js.pull_axis)) * 1e3,
            v.dot(DVec3::from(js.lateral_axis)) * 1e3,
        ]
    }

    /// Paw grip point in the model frame, m.
    pub fn paw_grip_m(&self) -> DVec3 {
        let j = self
            .joints
            .iter()
            .find(|j| j.child == self.joystick && j.parent == self.paw)
            .map(|j| self.pose(j.parent) * j.frame1);
        match j {
            Some(f) => f.translation,
            None => self.pose(self.paw).translation,
        }
    }

    /// Contact points on the paw after the last step (at most [`MAX_CONTACTS`], in shape order).
    pub fn contacts(&self) -> &[PawContact] {
        &self.contacts
    }

    /// Current poses of all bodies in the model frame.
    pub fn poses(&self) -> Vec<DPose3> {
        (0..self.handles.len()).map(|i| self.pose(i)).collect()
    }

    /// Poses of all bodies for tree-joint angles `q` (one per joint in world order; loop-closing and
    /// ball joints are ignored), by forward kinematics from the fixed bodies: the open chains only, the
    /// loop is not closed.
    pub fn kinematic_poses(&self, q: &[f64]) -> Vec<DPose3> {
        let n = self.handles.len();
        let mut poses: Vec<Option<DPose3>> = (0..n)
            .map(|i| {
                self.spec.bodies[i]
                    .fixed
                    .then(|| self.spec.reference_pose(i))
            })
            .collect();
        let tree: Vec<(usize, &JointInfo)> = self
            .joints
            .iter()
            .enumerate()
            .filter(|(k, _)| !self.spec.joints[*k].closes_loop)
            .collect();
        // The tree is validated: at most n passes place every body.
        for _ in 0..n {
            for &(k, j) in &tree {
                if poses[j.child].is_some() {
                    continue;
                }
                if let Some(pp) = poses[j.parent] {
                    let angle = if j.kind == JointKind::Revolute {
                        q[k]
                    } else {
                        0.0
                    };
                    let rot = DPose3::from_parts(DVec3::ZERO, DQuat::from_rotation_x(angle));
                    poses[j.child] = Some(pp * j.frame1 * rot * j.frame2.inverse());
                }
            }
        }
        poses
            .into_iter()
            .enumerate()
            .map(|(i, p)| p.unwrap_or_else(|| self.spec.reference_pose(i)))
            .collect()
    }

    /// Path length of muscle `m` with the bodies at `poses`, m.
    pub fn path_length_at(&self, m: usize, poses: &[DPose3]) -> f64 {
        let path = &self.muscles[m].path;
        path.windows(2)
            .map(|w| {
                (poses[w[1].0].transform_point(w[1].1) - poses[w[0].0].transform_point(w[0].1))
                    .length()
            })
            .sum()
    }

    /// Forces (body, point, force) that muscle `m` with tension `force_n` exerts with the bodies at
    /// `poses`: along every path segment that spans two bodies, +F toward the next point on the first
    /// body and the opposite on the second; segments within one body cancel and are skipped.
    pub fn muscle_point_forces_at(
        &self,
        m: usize,
        force_n: f64,
        poses: &[DPose3],
    ) -> Vec<(usize, DVec3, DVec3)> {
        let mut out = Vec::new();
        self.push_muscle_point_forces(m, force_n, poses, &mut out);
        out
    }

    fn push_muscle_point_forces(
        &self,
        m: usize,
        force_n: f64,
        poses: &[DPose3],
        out: &mut Vec<(usize, DVec3, DVec3)>,
    ) {
        for w in self.muscles[m].path.windows(2) {
            let ((b0, p0), (b1, p1)) = (w[0], w[1]);
            if b0 == b1 {
                continue;
            }
            let w0 = poses[b0].transform_point(p0);
            let w1 = poses[b1].transform_point(p1);
            let d = w1 - w0;
            let l = d.length();
            if l < 1e-12 {
                continue;
            }
            let f = d / l * force_n;
            out.push((b0, w0, f));
            out.push((b1, w1, -f));
        }
    }

    /// Advances one physics step with muscle excitations `u` (in [0, 1], one per muscle) and extra joint
    /// torques (N m, one per joint; ball joints ignore theirs). Returns the task's output of the step.
    pub fn step(&mut self, u: &[f64], joint_torques: &[f64]) -> Result<TaskOutput, BodyError> {
        let dt = self.dt_s;
        if u.len() != self.muscles.len() || joint_torques.len() > self.joints.len() {
            return Err(BodyError::Input(format!(
                "{} excitations and {} joint torques given; the world has {} muscles and {} joints",
                u.len(),
                joint_torques.len(),
                self.muscles.len(),
                self.joints.len()
            )));
        }
        // Stage 1: activation dynamics, then muscle force at the current pose.
        let mut poses = std::mem::take(&mut self.pose_buf);
        poses.clear();
        poses.extend((0..self.handles.len()).map(|i| self.pose(i)));
        for (i, &ui) in u.iter().enumerate() {
            let m = &self.muscles[i];
            let a = m
                .params
                .advance_activation(self.muscle_state[i].activation, ui, dt);
            let (len, vel) = self.path_length_velocity(m, &poses);
            self.muscle_state[i] = MuscleState {
                length_m: len,
                velocity_m_per_s: vel,
                force_n: m.params.force_n(len, vel, a),
                activation: a,
            };
        }
        // Stage 2: external forces (user forces persist in rapier until reset).
        for &h in &self.handles {
            let rb = &mut self.world.bodies[h];
            rb.reset_forces(false);
            rb.reset_torques(false);
        }
        let mut applied = std::mem::take(&mut self.force_buf);
        applied.clear();
        for i in 0..self.muscles.len() {
            self.push_muscle_point_forces(i, self.muscle_state[i].force_n, &poses, &mut applied);
        }
        self.pose_buf = poses;
        let t_ms = self.steps as f64 * dt * 1e3;
        let [pull, lat] = self.joystick_position_mm();
        let task_out = self.task.step(t_ms, pull, lat);
        if task_out.lateral_force_n != 0.0 {
            let g = self.pose(self.joystick).transform_point(self.grip_local);
            let dir = DVec3::from(self.spec.joystick.lateral_axis);
            applied.push((self.joystick, g, dir * task_out.lateral_force_n));
        }
        for &(b, p, f) in &applied {
            if self.spec.bodies[b].fixed {
                continue;
            }
            self.world.bodies[self.handles[b]].add_force_at_point(v32(f), v32(p), true);
        }
        self.force_buf = applied;
        for (j, &tau) in joint_torques.iter().enumerate() {
            let info = &self.joints[j];
            if tau == 0.0 || info.kind != JointKind::Revolute {
                continue;
            }
            let axis = (self.pose(info.child) * info.frame2).rotation * DVec3::X;
            for (b, s) in [(info.child, 1.0), (info.parent, -1.0)] {
                if !self.spec.bodies[b].fixed {
                    self.world.bodies[self.handles[b]].add_torque(v32(axis * tau * s), true);
                }
            }
        }
        // Stage 3: physics.
        self.world.step();
        self.steps += 1;
        // Stage 4: NaN check at the chokepoint, then contacts.
        for (i, &h) in self.handles.iter().enumerate() {
            let rb = &self.world.bodies[h];
            if !(rb.translation().is_finite() && rb.linvel().is_finite() && rb.angvel().is_finite())
            {
                return Err(BodyError::Unstable(format!(
                    "body `{}` is not finite at t = {} ms",
                    self.spec.bodies[i].name,
                    self.time_s() * 1e3
                )));
            }
        }
        self.collect_contacts();
        Ok(task_out)
    }

    fn collect_contacts(&mut self) {
        self.contacts.clear();
        let paw_pose = self.pose(self.paw);
        let inv_dt = 1.0 / self.dt_s;
        for (si, (ch, bi, _)) in self.shapes.iter().enumerate() {
            if *bi != self.paw {
                continue;
            }
            for pair in self.world.contact_pairs_with(*ch) {
                let first = pair.collider1 == *ch;
                let cpos = pose64(self.world.colliders[*ch].position());
                for man in pair.manifolds() {
                    for pt in &man.points {
                        let imp = pt.data.impulse as f64;
                        if imp <= 0.0 || self.contacts.len() >= MAX_CONTACTS {
                            continue;
                        }
                        let local = if first { pt.local_p1 } else { pt.local_p2 };
                        let world_p = cpos.transform_point(local.as_dvec3());
                        self.contacts.push(PawContact {
                            shape: si,
                            point_paw_m: paw_pose.inverse_transform_point(world_p),
                            normal_force_n: imp * inv_dt,
                        });
                    }
                }
            }
        }
    }

    /// Per-trial records so far (since the last [`Body::take_trials`]).
    pub fn trials(&self) -> &[crate::task::TrialRecord] {
        self.task.records()
    }

    /// Takes the records of the trials finished since the last call (see [`Task::take_records`]).
    pub fn take_trials(&mut self) -> Vec<crate::task::TrialRecord> {
        self.task.take_records()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Body {
        Body::new(WorldSpec::mouse_forelimb_joystick(), 1e-3).unwrap()
    }

    /// Virtual work: the torque that the applied segment forces exert about a joint equals the tension
    /// times the moment arm -dL/dq (path length derivative by central differences).
    #[test]
    fn muscle_torque_is_force_times_moment_arm() {
        let b = body();
        let nj = b.joints().len();
        let q0 = vec![0.0; nj];
        let f = 0.7;
        let mut checked = 0;
        for (k, j) in b.joints().iter().enumerate() {
            if j.kind != JointKind::Revolute || b.spec().joints[k].closes_loop {
                continue;
            }
            // Bodies distal to this joint.
            let mut distal = vec![false; b.spec().bodies.len()];
            distal[j.child] = true;
            for _ in 0..nj {
                for o in b.joints() {
                    if distal[o.parent] && o.kind == JointKind::Revolute {
                        distal[o.child] = true;
                    }
                }
            }
            for m in 0..b.muscles().len() {
                // A pose away from the reference so that the check is generic.
                let mut q = q0.clone();
                q[0] = 0.05;
                q[2] = -0.1;
                let h = 1e-6;
                let mut qp = q.clone();
                qp[k] += h;
                let mut qm = q.clone();
                qm[k] -= h;
                let dl = (b.path_length_at(m, &b.kinematic_poses(&qp))
                    - b.path_length_at(m, &b.kinematic_poses(&qm)))
                    / (2.0 * h);
                let poses = b.kinematic_poses(&q);
                let frame = poses[j.parent] * j.frame1;
                let (o, axis) = (frame.translation, frame.rotation * DVec3::X);
                let torque: f64 = b
                    .muscle_point_forces_at(m, f, &poses)
                    .iter()
                    .filter(|(bi, _, _)| distal[*bi])
                    .map(|(_, p, fv)| (*p - o).cross(*fv).dot(axis))
                    .sum();
                let expect = -f * dl;
                assert!(
                    (torque - expect).abs() < 1e-6 * f * 1e-3 + 1e-4 * expect.abs(),
                    "joint {} muscle {}: torque {torque} vs F * moment arm {expect}",
                    j.name,
                    b.muscles()[m].name
                );
                checked += usize::from(expect.abs() > 1e-6);
            }
        }
        assert!(
            checked >= 10,
            "only {checked} muscle-joint pairs had a moment arm"
        );
    }

    /// The moment arms at the reference pose against the RoboBrain model's (reference table, mm).
    #[test]
    fn moment_arms_match_the_reference_model() {
        let b = body();
        let nj = b.joints().len();
        let arm = |m: usize, k: usize| {
            let h = 1e-6;
            let mut qp = vec![0.0; nj];
            qp[k] = h;
            let mut qm = vec![0.0; nj];
            qm[k] = -h;
            -(b.path_length_at(m, &b.kinematic_poses(&qp))
                - b.path_length_at(m, &b.kinematic_poses(&qm)))
                / (2.0 * h)
                * 1e3
        };
        // (muscle, joint, reference moment arm in mm); joints: 0 shoulder1, 1 shoulder2, 2 elbow, 3 wrist.
        let table = [
            (0, 3, 0.79),
            (1, 3, -0.36),
            (2, 2, -1.90),
            (3, 2, 1.65),
            (4, 0, -1.24),
            (4, 1, -0.80),
            (5, 0, 0.87),
            (5, 1, 0.79),
            (6, 0, -0.06),
            (6, 1, -0.93),
            (7, 0, -0.24),
            (7, 1, 1.06),
        ];
        for (m, k, r) in table {
            let got = arm(m, k);
            println!(
                "{} about {}: {got:.3} mm (reference {r})",
                b.muscles()[m].name,
                b.joints()[k].name
            );
        }
        for (m, k, r) in table {
            let got = arm(m, k);
            // The table gives two decimals: the sign and the value must match to rounding.
            assert!((got - r).abs() < 0.006, "{m} {k}: {got} vs {r}");
        }
    }
}
