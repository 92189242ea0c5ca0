//! The body as a neuroloop engine (kind `body`): ports, configuration, per-trial records.

use std::path::PathBuf;

use neuroloop_core::engine::{
    Engine, EngineConfigError, EngineError, InitContext, Inputs, Outputs, ResolvedConfig,
    StepContext,
};
use neuroloop_core::port::payload_type::{Analog, Scalar};
use neuroloop_core::port::{Channel, PortId, PortSpec, PortsBuilder};
use rapier3d::glamx::DVec3;
use serde::Deserialize;

use crate::physics::{Body, CONTACT_FIELDS, MAX_CONTACTS};
use crate::task::{TaskSpec, TrialRecord};
use crate::world::{JointKind, WorldSpec};
use crate::BodyError;

/// The 7 values of one body's pose on the `body_poses` port (name suffix, unit): position, then the
/// unit quaternion. Sensors that read the poses (the event camera) take the layout from here.
pub const POSE_CHANNELS: [(&str, &str); 7] = [
    ("x", "m"),
    ("y", "m"),
    ("z", "m"),
    ("qw", "1"),
    ("qx", "1"),
    ("qy", "1"),
    ("qz", "1"),
];

/// Configuration of the `body` engine (the engine's `config` table).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BodyConfig {
    /// World file (TOML; in an experiment, relative to the experiment file); default: the shipped
    /// `worlds/mouse_forelimb_joystick.toml`.
    pub world_file: Option<PathBuf>,
    /// Physics step in ms; must divide the base step (default: the base step).
    pub physics_step_ms: Option<f64>,
    /// Replaces the world file's `[task]` table.
    pub task: Option<TaskSpec>,
    /// Where to write the per-trial records: JSON Lines, one [`TrialRecord`] per line, appended and
    /// flushed as each trial ends (so a crash loses none; `pandas.read_json(path, lines=True)` reads
    /// it). A relative path is taken from the run folder when `neuroloop run` started this engine
    /// (`NEUROLOOP_RUN_DIR`), else from the working directory. Default: `<engine name>.trials.jsonl`
    /// in the run folder; no file when there is no run folder.
    pub trials_path: Option<PathBuf>,
    /// Clamp excitations outside [0, 1] instead of failing the step (default false: fail, naming the
    /// muscle and value).
    pub clamp_excitations: bool,
}

/// Typed handles to the body engine's ports, each declared once in [`body_ports`] (the handle's index
/// is the port's position in [`Engine::ports`]).
#[derive(Clone, Copy, Debug)]
pub struct BodyPorts {
    /// In: muscle excitations, NRP order, in [0, 1].
    pub excitations: PortId<Analog>,
    /// In: extra joint torques, N m, one per joint.
    pub joint_torques: PortId<Analog>,
    /// Out: revolute joint angles, rad.
    pub joint_angles: PortId<Analog>,
    /// Out: revolute joint velocities, rad/s.
    pub joint_velocities: PortId<Analog>,
    /// Out: per muscle length_m, velocity_m_per_s, force_n, activation.
    pub muscles: PortId<Analog>,
    /// Out: paw grip point relative to rest, mm (x pull, y lateral, z = lateral x pull).
    pub paw_position_mm: PortId<Analog>,
    /// Out: joystick grip relative to rest, mm (x pull, y lateral).
    pub joystick_position_mm: PortId<Analog>,
    /// Out: per body x, y, z (m), qw, qx, qy, qz in the model frame.
    pub body_poses: PortId<Analog>,
    /// Out: contact slots (shape number 1-based or 0, x, y, z in the paw frame in m, normal force N).
    pub contacts: PortId<Analog>,
    /// Out: task state, trial index, last outcome, lateral pulse force N.
    pub task: PortId<Analog>,
    /// Out: reward (scalar): 1 for the step in which a trial was rewarded, else 0.
    pub reward: PortId<Scalar>,
}

/// The body engine.
pub struct BodyEngine {
    name: String,
    cfg: BodyConfig,
    spec: WorldSpec,
    body: Body,
    substeps_per_base: u32,
    revolute: Vec<usize>,
    ports: Vec<PortSpec>,
    port: BodyPorts,
    excitation: Vec<f64>,
    torques: Vec<f64>,
    trials_log: Option<TrialLog>,
}

/// The per-trial records file, appended as trials end: one JSON object per line, the episode of the
/// run first (`{"episode": 0, "index": 0, ...}`), then the [`TrialRecord`].
struct TrialLog {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    episode: u32,
}

/// One line of the trial records file.
#[derive(serde::Serialize)]
struct TrialLine<'a> {
    episode: u32,
    #[serde(flatten)]
    record: &'a TrialRecord,
}

impl TrialLog {
    /// Creates the file for episode 0; a later episode (the run was reset) appends to it.
    fn create(path: PathBuf, episode: u32) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(episode > 0)
            .truncate(episode == 0)
            .open(&path)?;
        Ok(TrialLog {
            path,
            file: std::io::BufWriter::new(file),
            episode,
        })
    }

    /// Appends `records` (the trials finished since the last call) and flushes them.
    fn append(&mut self, records: &[TrialRecord]) -> std::io::Result<()> {
        use std::io::Write;
        if records.is_empty() {
            return Ok(());
        }
        for record in records {
            let line = TrialLine {
                episode: self.episode,
                record,
            };
            serde_json::to_writer(&mut self.file, &line)?;
            self.file.write_all(b"\n")?;
        }
        self.file.flush()?;
        Ok(())
    }
}

/// Where the trial records go: `trials_path` (relative to `run_dir` when there is one), or
/// `<name>.trials.jsonl` in `run_dir`, or nowhere.
pub fn trials_file(
    name: &str,
    trials_path: Option<&std::path::Path>,
    run_dir: Option<&std::path::Path>,
) -> Option<PathBuf> {
    match (trials_path, run_dir) {
        (Some(p), Some(dir)) if p.is_relative() => Some(dir.join(p)),
        (Some(p), _) => Some(p.to_path_buf()),
        (None, Some(dir)) => Some(dir.join(format!("{name}.trials.jsonl"))),
        (None, None) => None,
    }
}

fn config_err(name: &str, e: BodyError) -> EngineError {
    EngineConfigError::config(name, "", e.to_string()).into()
}

/// The body engine's configuration, resolved: the world read and checked, the physics step in
/// substeps of the base step, and the ports. [`ResolvedBody::build_in`] then builds the rapier world.
pub struct ResolvedBody {
    cfg: BodyConfig,
    spec: WorldSpec,
    physics_step_ms: f64,
    substeps_per_base: u32,
    ports: Vec<PortSpec>,
    port: BodyPorts,
}

impl ResolvedBody {
    /// Reads the configuration and the world and checks them, without building the physics.
    pub fn resolve(ctx: &InitContext) -> Result<Self, EngineError> {
        let cfg: BodyConfig = ctx.config()?;
        let mut spec = match &cfg.world_file {
            Some(p) => WorldSpec::load(p).map_err(|e| config_err(&ctx.name, e))?,
            None => WorldSpec::mouse_forelimb_joystick(),
        };
        if let Some(t) = &cfg.task {
            spec.task = t.clone();
        }
        spec.validate().map_err(|e| config_err(&ctx.name, e))?;
        let step_ms = cfg.physics_step_ms.unwrap_or(ctx.base_step_ms);
        let sub = neuroloop_core::time::steps_in(ctx.base_step_ms, step_ms)
            .filter(|&s| s > 0 && step_ms > 0.0)
            .ok_or_else(|| {
                EngineConfigError::config(
                    &ctx.name,
                    "physics_step_ms",
                    format!(
                        "{step_ms} must be > 0 and divide the base step {} ms",
                        ctx.base_step_ms
                    ),
                )
            })?;
        if step_ms > 10.0 {
            return Err(EngineConfigError::config(
                &ctx.name,
                "physics_step_ms",
                format!("{step_ms} ms is too long (at most 10 ms)"),
            )
            .into());
        }
        let (port, ports) = body_ports(&spec);
        Ok(ResolvedBody {
            cfg,
            spec,
            physics_step_ms: step_ms,
            substeps_per_base: sub as u32,
            ports,
            port,
        })
    }

    /// Builds the physics; opens the per-trial records file (`trials_path`, taken from `run_dir` when
    /// relative, or `<engine name>.trials.jsonl` in `run_dir`).
    pub fn build_in(
        self,
        ctx: &InitContext,
        run_dir: Option<&std::path::Path>,
    ) -> Result<BodyEngine, EngineError> {
        let ResolvedBody {
            cfg,
            spec,
            physics_step_ms,
            substeps_per_base,
            ports,
            port,
        } = self;
        let body = Body::new(spec.clone(), physics_step_ms * 1e-3)
            .map_err(|e| config_err(&ctx.name, e))?;
        let revolute = revolute_joints(&spec);
        let n_m = spec.muscles.len();
        let n_j = spec.joints.len();
        let trials_log = trials_file(&ctx.name, cfg.trials_path.as_deref(), run_dir)
            .map(|path| {
                TrialLog::create(path.clone(), ctx.episode).map_err(|e| {
                    EngineConfigError::config(
                        &ctx.name,
                        "trials_path",
                        format!("cannot create {}: {e}", path.display()),
                    )
                })
            })
            .transpose()?;
        Ok(BodyEngine {
            name: ctx.name.clone(),
            cfg,
            spec,
            body,
            substeps_per_base,
            revolute,
            ports,
            port,
            excitation: vec![0.0; n_m],
            torques: vec![0.0; n_j],
            trials_log,
        })
    }
}

impl ResolvedConfig for ResolvedBody {
    fn ports(&self) -> Vec<PortSpec> {
        self.ports.clone()
    }

    fn build(self: Box<Self>, ctx: &InitContext) -> Result<Box<dyn Engine>, EngineError> {
        let run_dir = std::env::var_os("NEUROLOOP_RUN_DIR").map(PathBuf::from);
        Ok(Box::new(self.build_in(ctx, run_dir.as_deref())?))
    }
}

/// Indices (world order) of the revolute joints: the channels of `joint_angles` and
/// `joint_velocities`.
fn revolute_joints(spec: &WorldSpec) -> Vec<usize> {
    spec.joints
        .iter()
        .enumerate()
        .filter(|(_, j)| j.kind == JointKind::Revolute)
        .map(|(i, _)| i)
        .collect()
}

impl BodyEngine {
    /// Builds the engine from its configuration (both stages: [`ResolvedBody`]).
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        let run_dir = std::env::var_os("NEUROLOOP_RUN_DIR").map(PathBuf::from);
        ResolvedBody::resolve(ctx)?.build_in(ctx, run_dir.as_deref())
    }

    /// Typed handles to the engine's ports (`outputs.analog(engine.port_ids().task)`).
    pub fn port_ids(&self) -> BodyPorts {
        self.port
    }

    /// The simulated body (for inspection in tests and tools).
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The per-trial records not yet written: all of them when the engine writes no trials file;
    /// with a file, each record goes there as its trial ends and is not kept (a session of any
    /// length keeps none in memory).
    pub fn trials(&self) -> &[TrialRecord] {
        self.body.trials()
    }

    fn write_outputs(&self, outputs: &mut Outputs) {
        let b = &self.body;
        {
            let o = outputs.analog_mut(self.port.joint_angles);
            for (k, &j) in self.revolute.iter().enumerate() {
                o[k] = b.joint_angle(j);
            }
        }
        {
            let o = outputs.analog_mut(self.port.joint_velocities);
            for (k, &j) in self.revolute.iter().enumerate() {
                o[k] = b.joint_velocity(j);
            }
        }
        {
            let o = outputs.analog_mut(self.port.muscles);
            for (k, m) in b.muscle_state().iter().enumerate() {
                o[4 * k..4 * k + 4].copy_from_slice(&[
                    m.length_m,
                    m.velocity_m_per_s,
                    m.force_n,
                    m.activation,
                ]);
            }
        }
        let js = &self.spec.joystick;
        let (pull, lat) = (DVec3::from(js.pull_axis), DVec3::from(js.lateral_axis));
        let up = lat.cross(pull);
        let d = (b.paw_grip_m() - self.paw_rest()) * 1e3;
        outputs
            .analog_mut(self.port.paw_position_mm)
            .copy_from_slice(&[d.dot(pull), d.dot(lat), d.dot(up)]);
        outputs
            .analog_mut(self.port.joystick_position_mm)
            .copy_from_slice(&b.joystick_position_mm());
        {
            let o = outputs.analog_mut(self.port.body_poses);
            for i in 0..self.spec.bodies.len() {
                let p = b.pose(i);
                let (t, q) = (p.translation, p.rotation);
                o[7 * i..7 * i + 7].copy_from_slice(&[t.x, t.y, t.z, q.w, q.x, q.y, q.z]);
            }
        }
        {
            let o = outputs.analog_mut(self.port.contacts);
            o.fill(0.0);
            for (k, c) in b.contacts().iter().enumerate() {
                let p = c.point_paw_m;
                o[CONTACT_FIELDS * k..CONTACT_FIELDS * (k + 1)].copy_from_slice(&[
                    (c.shape + 1) as f64,
                    p.x,
                    p.y,
                    p.z,
                    c.normal_force_n,
                ]);
            }
        }
    }

    fn paw_rest(&self) -> DVec3 {
        // The grip point on the paw at the reference pose is the joystick's grip point.
        let j = self
            .spec
            .body_index(&self.spec.joystick.body)
            .expect("validated");
        self.spec
            .reference_pose(j)
            .transform_point(DVec3::from(self.spec.joystick.grip_m))
    }
}

/// The body engine's ports, from its world: the typed handles and the port list, each port declared once.
fn body_ports(spec: &WorldSpec) -> (BodyPorts, Vec<PortSpec>) {
    let muscles: Vec<&str> = spec.muscles.iter().map(|m| m.name.as_str()).collect();
    let rev: Vec<&str> = revolute_joints(spec)
        .iter()
        .map(|&j| spec.joints[j].name.as_str())
        .collect();
    let ch = |name: String, unit: &str| Channel {
        name,
        unit: unit.into(),
    };
    let mut muscle_ch = Vec::new();
    for m in &muscles {
        muscle_ch.push(ch(format!("{m}.length_m"), "m"));
        muscle_ch.push(ch(format!("{m}.velocity_m_per_s"), "m/s"));
        muscle_ch.push(ch(format!("{m}.force_n"), "N"));
        muscle_ch.push(ch(format!("{m}.activation"), "1"));
    }
    let mut pose_ch = Vec::new();
    for b in &spec.bodies {
        for (f, u) in POSE_CHANNELS {
            pose_ch.push(ch(format!("{}.{f}", b.name), u));
        }
    }
    let mut contact_ch = Vec::new();
    for k in 0..MAX_CONTACTS {
        for (f, u) in [
            ("shape", "1"),
            ("x", "m"),
            ("y", "m"),
            ("z", "m"),
            ("normal_force_n", "N"),
        ] {
            contact_ch.push(ch(format!("c{k}.{f}"), u));
        }
    }
    let fixed = |fields: &[(&str, &str)]| fields.iter().map(|&(f, u)| ch(f.into(), u)).collect();
    let mut b = PortsBuilder::new();
    let port = BodyPorts {
        excitations: b.analog_input(
            "excitations",
            muscles.iter().map(|m| ch(m.to_string(), "1")).collect(),
        ),
        joint_torques: b.analog_input(
            "joint_torques",
            spec.joints
                .iter()
                .map(|j| ch(j.name.clone(), "N m"))
                .collect(),
        ),
        joint_angles: b.analog_output(
            "joint_angles",
            rev.iter().map(|j| ch(j.to_string(), "rad")).collect(),
        ),
        joint_velocities: b.analog_output(
            "joint_velocities",
            rev.iter().map(|j| ch(j.to_string(), "rad/s")).collect(),
        ),
        muscles: b.analog_output("muscles", muscle_ch),
        paw_position_mm: b.analog_output(
            "paw_position_mm",
            fixed(&[("x", "mm"), ("y", "mm"), ("z", "mm")]),
        ),
        joystick_position_mm: b
            .analog_output("joystick_position_mm", fixed(&[("x", "mm"), ("y", "mm")])),
        body_poses: b.analog_output("body_poses", pose_ch),
        contacts: b.analog_output("contacts", contact_ch),
        task: b.analog_output(
            "task",
            fixed(&[
                ("state", "1"),
                ("trial", "1"),
                ("outcome", "1"),
                ("lateral_force_n", "N"),
            ]),
        ),
        reward: b.scalar_output("reward", "1"),
    };
    (port, b.build())
}

impl Engine for BodyEngine {
    fn ports(&self) -> Vec<PortSpec> {
        self.ports.clone()
    }

    fn initial_outputs(&mut self, outputs: &mut Outputs) {
        self.write_outputs(outputs);
        let t = self.body.task();
        outputs.analog_mut(self.port.task).copy_from_slice(&[
            t.state() as u8 as f64,
            f64::from(t.trial()),
            t.last_outcome(),
            0.0,
        ]);
    }

    fn step(
        &mut self,
        ctx: &StepContext,
        inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        let u = inputs.analog(self.port.excitations);
        for (k, (&x, slot)) in u.iter().zip(self.excitation.iter_mut()).enumerate() {
            let ok = (0.0..=1.0).contains(&x);
            if !ok && (!self.cfg.clamp_excitations || x.is_nan()) {
                return Err(EngineError::Model(format!(
                    "{}: excitation of {} is {x} at {} ms; it must be in [0, 1] (or set clamp_excitations = true)",
                    self.name,
                    self.spec.muscles[k].name,
                    ctx.t_ms()
                )));
            }
            *slot = x.clamp(0.0, 1.0);
        }
        for (k, (&x, slot)) in inputs
            .analog(self.port.joint_torques)
            .iter()
            .zip(self.torques.iter_mut())
            .enumerate()
        {
            if !x.is_finite() {
                return Err(EngineError::Model(format!(
                    "{}: joint torque of {} is {x} at {} ms",
                    self.name,
                    self.spec.joints[k].name,
                    ctx.t_ms()
                )));
            }
            *slot = x;
        }
        let mut reward = 0.0;
        let mut lateral = 0.0;
        for _ in 0..ctx.n_steps * self.substeps_per_base {
            let out = self
                .body
                .step(&self.excitation, &self.torques)
                .map_err(|e| EngineError::Model(format!("{}: {e}", self.name)))?;
            reward += out.reward;
            lateral = out.lateral_force_n;
        }
        if let Some(log) = &mut self.trials_log {
            log.append(&self.body.take_trials()).map_err(|e| {
                EngineError::Model(format!(
                    "{}: cannot write the trial records to {}: {e}",
                    self.name,
                    log.path.display()
                ))
            })?;
        }
        self.write_outputs(outputs);
        let t = self.body.task();
        outputs.analog_mut(self.port.task).copy_from_slice(&[
            t.state() as u8 as f64,
            f64::from(t.trial()),
            t.last_outcome(),
            lateral,
        ]);
        outputs.set_scalar(self.port.reward, reward);
        Ok(())
    }

    fn reset(&mut self) -> Result<(), EngineError> {
        // The trials file goes on across resets: the new body's records start again at index 0.
        if let Some(log) = &mut self.trials_log {
            log.append(&self.body.take_trials())
                .map_err(|e| EngineError::Model(format!("{}: {e}", self.name)))?;
        }
        self.body = Body::new(self.spec.clone(), self.body.dt_s())
            .map_err(|e| EngineError::Model(format!("{}: {e}", self.name)))?;
        self.excitation.fill(0.0);
        self.torques.fill(0.0);
        Ok(())
    }

    fn shutdown(&mut self) {
        if let Some(log) = &mut self.trials_log {
            if let Err(e) = log.append(&self.body.take_trials()) {
                eprintln!("{}: cannot write {}: {e}", self.name, log.path.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::trials_file;
    use std::path::{Path, PathBuf};

    #[test]
    fn trials_file_is_in_the_run_folder_unless_given_absolute() {
        let run = Some(Path::new("/runs/r1"));
        assert_eq!(
            trials_file("body", None, run),
            Some(PathBuf::from("/runs/r1/body.trials.jsonl"))
        );
        assert_eq!(
            trials_file("body", Some(Path::new("t.jsonl")), run),
            Some(PathBuf::from("/runs/r1/t.jsonl"))
        );
        assert_eq!(
            trials_file("body", Some(Path::new("/tmp/t.jsonl")), run),
            Some(PathBuf::from("/tmp/t.jsonl"))
        );
        assert_eq!(
            trials_file("body", Some(Path::new("t.jsonl")), None),
            Some(PathBuf::from("t.jsonl"))
        );
        assert_eq!(trials_file("body", None, None), None);
    }
}
