//! N forelimbs stepped in-process: each one the `body` engine ([`BodyEngine`], built from the same
//! configuration table as the `body` engine of the gym's experiment file) and, optionally, sensor
//! engines of `neuroloop-sensors` fed by it, reduced to per-control-step summaries.
//!
//! Timing, as in a run of the gym's experiment (`bridges/gym/neuroloop_gym/experiment.py`):
//! - the excitations given to [`Limbs::step`] act during the *next* control step (the link from the
//!   agent to the body is one control step late); during the first control step of an episode the
//!   muscles get the initial excitation;
//! - the body is stepped by its engine's `step` with the control step's base steps, exactly as a run's
//!   `Window` steps it (the excitations are held over the window, so one call of `n` base steps and
//!   `n` calls of one base step give the same bits);
//! - a sensor engine steps every base step and sees the body's outputs at the start of its step (a
//!   link with the default delay of one base step; at t = 0 the body's initial outputs); the body is
//!   then stepped one base step at a time too.
//!
//! What one limb reports after each control step (one row of `f64`): the values of the requested
//! body output ports in order (analog ports all their channels, scalar ports one value), then the
//! sensors' summaries over the control step just taken ([`Limbs::summary_names`]):
//! - `skin`: SA-I and RA-I rates per collision shape of the paw (spikes of the step / (taxels on the
//!   shape x step length), Hz), from the skin engine's `sa1` and `ra1` spikes;
//! - `spindles`: spindle Ia and II rates per muscle (Hz), the mean over the step's base steps of the
//!   proprioception engine's `rates` output (the Prochazka rate model; its spikes are not used);
//! - `camera`: ON and OFF event counts of the event camera in a coarse grid of `grid = [columns,
//!   rows]` cells over the sensor (row-major, cell `(c, r)` spans columns `[c W / columns, (c + 1) W
//!   / columns)`).

use neuroloop_body::engine::BodyEngine;
use neuroloop_core::engine::{Engine, EngineError, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::payload::Payload;
use neuroloop_core::port::{Direction, PortKind, PortSpec};
use neuroloop_core::seed::derive_seed;
use neuroloop_core::time::Step;
use rayon::prelude::*;
use serde::Deserialize;

/// Base step, ms (the gym's experiment runs at 1 ms).
pub const BASE_STEP_MS: f64 = 1.0;

/// What the limbs are built from (JSON, keys as named here; unknown keys are refused).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimbSpec {
    /// The `config` table of the body engine (as in the experiment file: `world_file`,
    /// `clamp_excitations`, `task`, ...).
    pub body: serde_json::Value,
    /// Base steps per control step.
    pub control_step_ms: u32,
    /// The body output ports reported, in order.
    pub ports: Vec<String>,
    /// Excitations during the first control step of an episode (one per muscle).
    pub initial_excitation: Vec<f64>,
    /// The skin engine's `config` table; absent: no skin.
    #[serde(default)]
    pub skin: Option<serde_json::Value>,
    /// The proprioception engine's `config` table; absent: no spindles.
    #[serde(default)]
    pub spindles: Option<serde_json::Value>,
    /// The event camera; absent: none.
    #[serde(default)]
    pub camera: Option<CameraSpec>,
}

/// The event camera and its summary grid.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraSpec {
    /// The event camera engine's `config` table.
    #[serde(default)]
    pub config: serde_json::Value,
    /// Grid cells: columns, rows (default 4 x 4).
    #[serde(default = "default_grid")]
    pub grid: [u16; 2],
}

fn default_grid() -> [u16; 2] {
    [4, 4]
}

/// An error of the limbs: a bad specification (the Python side raises `ValueError`) or a failed
/// engine (`RuntimeError`).
#[derive(Debug, Clone, PartialEq)]
pub enum LimbError {
    /// The specification or an argument is wrong; the text names it.
    Spec(String),
    /// An engine failed.
    Engine(String),
}

impl std::fmt::Display for LimbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimbError::Spec(s) | LimbError::Engine(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for LimbError {}

fn engine_err(e: EngineError) -> LimbError {
    match e {
        EngineError::Config(e) => LimbError::Spec(e.to_string()),
        e => LimbError::Engine(e.to_string()),
    }
}

fn port_index(ports: &[PortSpec], name: &str, dir: Direction) -> Option<usize> {
    ports
        .iter()
        .position(|p| p.name == name && p.direction == dir)
}

/// Values a port contributes to a row.
fn port_width(kind: &PortKind) -> Option<usize> {
    match kind {
        PortKind::Analog { channels } => Some(channels.len()),
        PortKind::Scalar { .. } => Some(1),
        _ => None,
    }
}

/// How a sensor's outputs become its summary.
#[derive(Clone, Debug)]
enum Summary {
    /// Spike counts per region of `neurons_in`, per port, as rates.
    SpikeRates {
        ports: Vec<usize>,
        region_of: Vec<usize>,
        neurons_in: Vec<usize>,
    },
    /// Mean over the base steps of some channels of an analog port.
    MeanAnalog { port: usize, channels: Vec<usize> },
    /// ON and OFF event counts per grid cell.
    EventGrid {
        port: usize,
        width: u16,
        height: u16,
        grid: [u16; 2],
    },
}

impl Summary {
    fn len(&self) -> usize {
        match self {
            Summary::SpikeRates {
                ports, neurons_in, ..
            } => ports.len() * neurons_in.len(),
            Summary::MeanAnalog { channels, .. } => channels.len(),
            Summary::EventGrid { grid, .. } => 2 * usize::from(grid[0]) * usize::from(grid[1]),
        }
    }

    /// Adds one base step's outputs to `acc`.
    fn accumulate(&self, outputs: &Outputs, acc: &mut [f64]) {
        match self {
            Summary::SpikeRates {
                ports,
                region_of,
                neurons_in,
            } => {
                let nr = neurons_in.len();
                for (k, &p) in ports.iter().enumerate() {
                    if let Payload::Spikes(b) = outputs.get(p) {
                        for &n in &b.neuron {
                            acc[k * nr + region_of[n as usize]] += 1.0;
                        }
                    }
                }
            }
            Summary::MeanAnalog { port, channels } => {
                let x = outputs.analog(*port);
                for (a, &c) in acc.iter_mut().zip(channels) {
                    *a += x[c];
                }
            }
            Summary::EventGrid {
                port,
                width,
                height,
                grid,
            } => {
                let Payload::Events(ev) = outputs.get(*port) else {
                    return;
                };
                let (gx, gy) = (usize::from(grid[0]), usize::from(grid[1]));
                let cells = gx * gy;
                for i in 0..ev.len() {
                    let cx = usize::from(ev.x[i]) * gx / usize::from(*width);
                    let cy = usize::from(ev.y[i]) * gy / usize::from(*height);
                    let off = if ev.polarity[i] { 0 } else { cells };
                    acc[off + cy * gx + cx] += 1.0;
                }
            }
        }
    }

    /// Turns the sums of `n_base` base steps into the summary.
    fn finish(&self, acc: &mut [f64], n_base: u32) {
        let step_s = f64::from(n_base) * BASE_STEP_MS * 1e-3;
        match self {
            Summary::SpikeRates { neurons_in, .. } => {
                let nr = neurons_in.len();
                for (i, a) in acc.iter_mut().enumerate() {
                    *a /= neurons_in[i % nr] as f64 * step_s;
                }
            }
            Summary::MeanAnalog { .. } => {
                for a in acc.iter_mut() {
                    *a /= f64::from(n_base);
                }
            }
            Summary::EventGrid { .. } => {}
        }
    }
}

/// One sensor engine of a limb.
struct Sensor {
    name: &'static str,
    engine: Box<dyn Engine>,
    inputs: Inputs,
    outputs: Outputs,
    /// (body output port, sensor input port) pairs: the ports of the same name.
    links: Vec<(usize, usize)>,
    summary: Summary,
}

/// One forelimb: its body engine, its sensors and their buffers.
struct Limb {
    body: BodyEngine,
    body_inputs: Inputs,
    body_outputs: Outputs,
    sensors: Vec<Sensor>,
    /// Base steps taken in this episode.
    step: u64,
    /// The excitations of the next control step.
    next: Vec<f64>,
    /// Summary sums of the current control step.
    acc: Vec<f64>,
}

/// The shared, validated part of the specification: what every limb is built from.
struct Plan {
    spec: LimbSpec,
    body_ports: Vec<PortSpec>,
    /// (body port index, width) of each reported port.
    reported: Vec<(usize, usize)>,
    n_muscles: usize,
    summary_names: Vec<String>,
    excitations_port: usize,
}

/// N forelimbs (see the [module docs](self)).
pub struct Limbs {
    plan: Plan,
    limbs: Vec<Limb>,
    row: usize,
}

fn init_context(name: &str, config: &serde_json::Value, seed: u64, episode: u32) -> InitContext {
    InitContext {
        name: name.to_string(),
        config: config.clone(),
        seed,
        base_step_ms: BASE_STEP_MS,
        period: 1,
        episode,
    }
}

fn new_body(spec: &LimbSpec, seed: u64) -> Result<BodyEngine, LimbError> {
    BodyEngine::new(&init_context(
        "body",
        &spec.body,
        derive_seed(seed, "body"),
        0,
    ))
    .map_err(engine_err)
}

/// The sensor engines a spec asks for, built with seeds derived from `seed` and their names (as a run
/// derives its engines' seeds from the run seed), and their summaries' channel names.
fn new_sensors(
    spec: &LimbSpec,
    body_ports: &[PortSpec],
    seed: u64,
) -> Result<(Vec<Sensor>, Vec<String>), LimbError> {
    let mut sensors = Vec::new();
    let mut names = Vec::new();
    if let Some(cfg) = &spec.skin {
        let ctx = init_context("skin", cfg, derive_seed(seed, "skin"), 0);
        let skin = neuroloop_sensors::skin::Skin::with_run_dir(&ctx, None).map_err(engine_err)?;
        let map = skin.afferent_map("skin");
        let ports = skin.ports();
        let mut regions: Vec<String> = Vec::new();
        let mut region_of = Vec::new();
        for a in &map.ports["sa1"] {
            let shape = a.shape.clone().unwrap_or_default();
            let r = match regions.iter().position(|s| *s == shape) {
                Some(r) => r,
                None => {
                    regions.push(shape);
                    regions.len() - 1
                }
            };
            region_of.push(r);
        }
        let mut neurons_in = vec![0usize; regions.len()];
        for &r in &region_of {
            neurons_in[r] += 1;
        }
        let mut out_ports = Vec::new();
        for class in ["sa1", "ra1"] {
            out_ports.push(port_index(&ports, class, Direction::Output).ok_or_else(|| {
                LimbError::Spec(format!("the skin engine has no `{class}` output"))
            })?);
            names.extend(regions.iter().map(|r| format!("skin.{class}_hz.{r}")));
        }
        sensors.push(Sensor::new(
            "skin",
            Box::new(skin),
            body_ports,
            Summary::SpikeRates {
                ports: out_ports,
                region_of,
                neurons_in,
            },
        )?);
    }
    if let Some(cfg) = &spec.spindles {
        let ctx = init_context("spindles", cfg, derive_seed(seed, "spindles"), 0);
        let engine = neuroloop_sensors::proprio::Proprioception::with_run_dir(&ctx, None)
            .map_err(engine_err)?;
        let ports = engine.ports();
        let port = port_index(&ports, "rates", Direction::Output).ok_or_else(|| {
            LimbError::Spec("the proprioception engine has no `rates` output".into())
        })?;
        let PortKind::Analog { channels } = &ports[port].kind else {
            return Err(LimbError::Spec("`rates` is not analog".into()));
        };
        let mut picked = Vec::new();
        for class in ["ia", "ii"] {
            for (c, ch) in channels.iter().enumerate() {
                if let Some(m) = ch.name.strip_suffix(&format!(".{class}")) {
                    picked.push(c);
                    names.push(format!("spindle.{class}_hz.{m}"));
                }
            }
        }
        sensors.push(Sensor::new(
            "spindles",
            Box::new(engine),
            body_ports,
            Summary::MeanAnalog {
                port,
                channels: picked,
            },
        )?);
    }
    if let Some(cam) = &spec.camera {
        let [gx, gy] = cam.grid;
        let ctx = init_context("camera", &cam.config, derive_seed(seed, "camera"), 0);
        let engine = neuroloop_sensors::camera::EventCamera::new(&ctx).map_err(engine_err)?;
        let ports = engine.ports();
        let port = port_index(&ports, "events", Direction::Output)
            .ok_or_else(|| LimbError::Spec("the event camera has no `events` output".into()))?;
        let PortKind::Events { width, height } = ports[port].kind else {
            return Err(LimbError::Spec("`events` is not an event port".into()));
        };
        if gx == 0 || gy == 0 || gx > width || gy > height {
            return Err(LimbError::Spec(format!(
                "camera.grid: {gx} x {gy} cells must be at least 1 x 1 and at most the sensor's {width} x {height} pixels"
            )));
        }
        for pol in ["on", "off"] {
            for r in 0..gy {
                for c in 0..gx {
                    names.push(format!("camera.{pol}.r{r}c{c}"));
                }
            }
        }
        sensors.push(Sensor::new(
            "camera",
            Box::new(engine),
            body_ports,
            Summary::EventGrid {
                port,
                width,
                height,
                grid: [gx, gy],
            },
        )?);
    }
    Ok((sensors, names))
}

impl Sensor {
    fn new(
        name: &'static str,
        engine: Box<dyn Engine>,
        body_ports: &[PortSpec],
        summary: Summary,
    ) -> Result<Self, LimbError> {
        let ports = engine.ports();
        let mut links = Vec::new();
        for (i, p) in ports.iter().enumerate() {
            if p.direction != Direction::Input {
                continue;
            }
            let b = port_index(body_ports, &p.name, Direction::Output).ok_or_else(|| {
                LimbError::Spec(format!(
                    "{name}: its input `{}` is not an output of the body engine",
                    p.name
                ))
            })?;
            let body_kind = &body_ports[b].kind;
            if p.kind.port_type() != body_kind.port_type()
                || port_width(&p.kind) != port_width(body_kind)
            {
                return Err(LimbError::Spec(format!(
                    "{name}: its input `{}` ({}) does not fit the body's output ({})",
                    p.name,
                    p.kind.describe(),
                    body_ports[b].kind.describe()
                )));
            }
            links.push((b, i));
        }
        Ok(Sensor {
            name,
            inputs: Inputs::for_ports(&ports),
            outputs: Outputs::for_ports(&ports),
            engine,
            links,
            summary,
        })
    }
}

impl Plan {
    fn new(spec: LimbSpec) -> Result<Self, LimbError> {
        if spec.control_step_ms == 0 {
            return Err(LimbError::Spec("control_step_ms must be >= 1".into()));
        }
        if let Some(CameraSpec { grid, .. }) = &spec.camera {
            if grid[0] == 0 || grid[1] == 0 {
                return Err(LimbError::Spec(format!(
                    "camera.grid: {} x {} cells: both must be >= 1",
                    grid[0], grid[1]
                )));
            }
        }
        let body = new_body(&spec, 0)?;
        let body_ports = body.ports();
        let mut reported = Vec::new();
        for name in &spec.ports {
            let i = port_index(&body_ports, name, Direction::Output).ok_or_else(|| {
                LimbError::Spec(format!(
                    "ports: `{name}` is not an output of the body engine (outputs: {})",
                    body_ports
                        .iter()
                        .filter(|p| p.direction == Direction::Output)
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            let w = port_width(&body_ports[i].kind).ok_or_else(|| {
                LimbError::Spec(format!(
                    "ports: `{name}` is a {} port; only analog and scalar ports can be reported",
                    body_ports[i].kind.describe()
                ))
            })?;
            reported.push((i, w));
        }
        let excitations_port = port_index(&body_ports, "excitations", Direction::Input)
            .ok_or_else(|| LimbError::Spec("the body engine has no `excitations` input".into()))?;
        let n_muscles = port_width(&body_ports[excitations_port].kind).unwrap_or(0);
        if spec.initial_excitation.len() != n_muscles {
            return Err(LimbError::Spec(format!(
                "initial_excitation has {} values; the body has {n_muscles} muscles",
                spec.initial_excitation.len()
            )));
        }
        let (_, summary_names) = new_sensors(&spec, &body_ports, 0)?;
        Ok(Plan {
            spec,
            body_ports,
            reported,
            n_muscles,
            summary_names,
            excitations_port,
        })
    }

    fn new_limb(&self, seed: u64) -> Result<Limb, LimbError> {
        let body = new_body(&self.spec, seed)?;
        let (sensors, _) = new_sensors(&self.spec, &self.body_ports, seed)?;
        let mut limb = Limb {
            body,
            body_inputs: Inputs::for_ports(&self.body_ports),
            body_outputs: Outputs::for_ports(&self.body_ports),
            sensors,
            step: 0,
            next: self.spec.initial_excitation.clone(),
            acc: vec![0.0; self.summary_names.len()],
        };
        limb.body.initial_outputs(&mut limb.body_outputs);
        for s in &mut limb.sensors {
            s.engine.initial_outputs(&mut s.outputs);
        }
        Ok(limb)
    }
}

impl Limb {
    /// Takes one control step of `n` base steps driven by `self.next`, then holds `next` for the next.
    fn step(&mut self, plan: &Plan, n: u32, next: &[f64]) -> Result<(), LimbError> {
        self.body_inputs
            .set(
                plan.excitations_port,
                Payload::Analog(self.next.clone()),
                Some(Step(self.step)),
            )
            .map_err(LimbError::Engine)?;
        if self.sensors.is_empty() {
            let ctx = StepContext {
                step: Step(self.step),
                n_steps: n,
                base_step_ms: BASE_STEP_MS,
            };
            self.body_outputs.begin_step();
            self.body
                .step(&ctx, &self.body_inputs, &mut self.body_outputs)
                .map_err(|e| LimbError::Engine(e.to_string()))?;
            self.step += u64::from(n);
        } else {
            self.acc.fill(0.0);
            for _ in 0..n {
                let ctx = StepContext {
                    step: Step(self.step),
                    n_steps: 1,
                    base_step_ms: BASE_STEP_MS,
                };
                // The sensors first: they see the body's outputs at the start of the step.
                let mut off = 0;
                for s in &mut self.sensors {
                    s.inputs.begin_step();
                    for &(b, i) in &s.links {
                        s.inputs
                            .set(i, self.body_outputs.get(b).clone(), Some(Step(self.step)))
                            .map_err(|e| LimbError::Engine(format!("{}: {e}", s.name)))?;
                    }
                    s.outputs.begin_step();
                    s.engine
                        .step(&ctx, &s.inputs, &mut s.outputs)
                        .map_err(|e| LimbError::Engine(format!("{}: {e}", s.name)))?;
                    let len = s.summary.len();
                    s.summary
                        .accumulate(&s.outputs, &mut self.acc[off..off + len]);
                    off += len;
                }
                self.body_outputs.begin_step();
                self.body
                    .step(&ctx, &self.body_inputs, &mut self.body_outputs)
                    .map_err(|e| LimbError::Engine(e.to_string()))?;
                self.step += 1;
            }
            let mut off = 0;
            for s in &self.sensors {
                let len = s.summary.len();
                s.summary.finish(&mut self.acc[off..off + len], n);
                off += len;
            }
        }
        self.next.copy_from_slice(next);
        Ok(())
    }

    /// Writes the reported ports and the summaries into `row`.
    fn write_row(&self, plan: &Plan, row: &mut [f64]) {
        let mut k = 0;
        for &(p, w) in &plan.reported {
            match self.body_outputs.get(p) {
                Payload::Analog(v) => row[k..k + w].copy_from_slice(v),
                Payload::Scalar(x) => row[k] = *x,
                _ => unreachable!("only analog and scalar ports are reported"),
            }
            k += w;
        }
        row[k..].copy_from_slice(&self.acc);
    }
}

impl Limbs {
    /// Builds `n` limbs from a specification; limb `i` starts an episode with seed `seed + i`.
    pub fn new(spec: LimbSpec, n: usize, seed: u64) -> Result<Self, LimbError> {
        if n == 0 {
            return Err(LimbError::Spec("the number of limbs must be >= 1".into()));
        }
        let plan = Plan::new(spec)?;
        let limbs = (0..n)
            .map(|i| plan.new_limb(seed.wrapping_add(i as u64)))
            .collect::<Result<Vec<_>, _>>()?;
        let row = plan.reported.iter().map(|&(_, w)| w).sum::<usize>() + plan.summary_names.len();
        Ok(Limbs { plan, limbs, row })
    }

    /// Builds from the specification's JSON text.
    pub fn from_json(json: &str, n: usize, seed: u64) -> Result<Self, LimbError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let spec: LimbSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            LimbError::Spec(format!("limb specification: {}: {}", e.path(), e.inner()))
        })?;
        Self::new(spec, n, seed)
    }

    /// Number of limbs.
    pub fn len(&self) -> usize {
        self.limbs.len()
    }

    /// Whether there are no limbs (never: [`Limbs::new`] refuses 0).
    pub fn is_empty(&self) -> bool {
        self.limbs.is_empty()
    }

    /// Values per limb in a row.
    pub fn row_len(&self) -> usize {
        self.row
    }

    /// Muscles per limb (excitations per limb).
    pub fn n_muscles(&self) -> usize {
        self.plan.n_muscles
    }

    /// Names of the summary values at the end of a row.
    pub fn summary_names(&self) -> &[String] {
        &self.plan.summary_names
    }

    /// Base steps per control step.
    pub fn control_step_ms(&self) -> u32 {
        self.plan.spec.control_step_ms
    }

    /// Starts a new episode of limb `i` with `seed` (the body built anew, the sensors anew with
    /// seeds derived from `seed`) and writes its row at t = 0 (summaries 0) into `row`.
    pub fn reset(&mut self, i: usize, seed: u64, row: &mut [f64]) -> Result<(), LimbError> {
        self.check_index(i)?;
        self.check_row(row.len(), 1)?;
        self.limbs[i] = self.plan.new_limb(seed)?;
        self.limbs[i].write_row(&self.plan, row);
        Ok(())
    }

    /// The current row of limb `i` (after its last reset or step).
    pub fn observe(&self, i: usize, row: &mut [f64]) -> Result<(), LimbError> {
        self.check_index(i)?;
        self.check_row(row.len(), 1)?;
        self.limbs[i].write_row(&self.plan, row);
        Ok(())
    }

    /// One control step of every limb: each one is driven by the excitations given at the previous
    /// call (or the initial ones after a reset) and then holds its row of `next` (`len` x muscles,
    /// row-major) for the next step; writes the rows (`len` x [`row_len`](Self::row_len)) into
    /// `rows`. The limbs step in parallel (rayon) when there is more than one.
    pub fn step(&mut self, next: &[f64], rows: &mut [f64]) -> Result<(), LimbError> {
        let m = self.plan.n_muscles;
        let n = self.limbs.len();
        if next.len() != n * m {
            return Err(LimbError::Spec(format!(
                "excitations: {} values given; {n} limbs x {m} muscles = {} expected",
                next.len(),
                n * m
            )));
        }
        self.check_row(rows.len(), n)?;
        let plan = &self.plan;
        let steps = plan.spec.control_step_ms;
        let row = self.row;
        let one = |(limb, (u, out)): (&mut Limb, (&[f64], &mut [f64]))| {
            limb.step(plan, steps, u)?;
            limb.write_row(plan, out);
            Ok::<(), LimbError>(())
        };
        if n == 1 {
            one((&mut self.limbs[0], (next, rows)))
        } else {
            self.limbs
                .par_iter_mut()
                .zip(next.par_chunks(m).zip(rows.par_chunks_mut(row)))
                .try_for_each(one)
        }
    }

    fn check_index(&self, i: usize) -> Result<(), LimbError> {
        if i < self.limbs.len() {
            Ok(())
        } else {
            Err(LimbError::Spec(format!(
                "limb {i} does not exist ({} limbs)",
                self.limbs.len()
            )))
        }
    }

    fn check_row(&self, len: usize, n: usize) -> Result<(), LimbError> {
        if len == n * self.row {
            Ok(())
        } else {
            Err(LimbError::Spec(format!(
                "output buffer of {len} values; {n} x {} expected",
                self.row
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> String {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../worlds/mouse_forelimb_joystick.toml"
        )
        .to_string()
    }

    fn spec(extra: serde_json::Value) -> LimbSpec {
        let mut v = serde_json::json!({
            "body": {"world_file": world(), "clamp_excitations": true, "task": {"iti_ms": 0.0}},
            "control_step_ms": 5,
            "ports": ["joint_angles", "joystick_position_mm", "muscles", "task", "reward"],
            "initial_excitation": vec![0.05; 8],
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    fn err(r: Result<Limbs, LimbError>) -> String {
        match r {
            Err(LimbError::Spec(s)) => s,
            Err(e) => panic!("not a spec error: {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn a_bad_specification_is_refused_naming_what_is_wrong() {
        let e = err(Limbs::from_json(
            r#"{"body": {}, "control_step_ms": 1, "ports": [], "initial_excitation": [], "extra": 1}"#,
            1,
            0,
        ));
        assert!(e.contains("unknown field `extra`"), "{e}");
        let e = err(Limbs::new(
            spec(serde_json::json!({"ports": ["no_such_port"]})),
            1,
            0,
        ));
        assert!(
            e.contains("`no_such_port` is not an output of the body engine"),
            "{e}"
        );
        let e = err(Limbs::new(
            spec(serde_json::json!({"ports": ["contacts", "excitations"]})),
            1,
            0,
        ));
        assert!(e.contains("`excitations` is not an output"), "{e}");
        let e = err(Limbs::new(
            spec(serde_json::json!({"initial_excitation": [0.0]})),
            1,
            0,
        ));
        assert!(e.contains("initial_excitation has 1 values"), "{e}");
        let e = err(Limbs::new(
            spec(serde_json::json!({"camera": {"grid": [0, 3]}})),
            1,
            0,
        ));
        assert!(e.contains("camera.grid"), "{e}");
        let e = err(Limbs::new(
            spec(serde_json::json!({"body": {"world_file": world(), "task": {"hold_ms": -1.0}}})),
            1,
            0,
        ));
        assert!(e.contains("engines.body.config"), "{e}");
        let e = err(Limbs::new(spec(serde_json::json!({})), 0, 0));
        assert!(e.contains(">= 1"), "{e}");
        let mut l = Limbs::new(spec(serde_json::json!({})), 2, 0).unwrap();
        let mut rows = vec![0.0; l.row_len()];
        match l.step(&[0.0; 16], &mut rows) {
            Err(LimbError::Spec(e)) => assert!(e.contains("output buffer"), "{e}"),
            r => panic!("{r:?}"),
        }
        match l.step(&[0.0; 8], &mut vec![0.0; 2 * l.row_len()]) {
            Err(LimbError::Spec(e)) => assert!(e.contains("16 expected"), "{e}"),
            r => panic!("{r:?}"),
        }
    }

    /// What a run of the gym's experiment does: the body engine stepped by its `step` through the
    /// control steps, the excitations of each one being those given one control step before (the
    /// initial ones first).
    #[test]
    fn a_limb_is_the_body_engine_with_one_control_step_of_latency() {
        let s = spec(serde_json::json!({}));
        let mut limbs = Limbs::new(s.clone(), 1, 0).unwrap();
        let mut row = vec![0.0; limbs.row_len()];
        limbs.reset(0, 3, &mut row).unwrap();
        let mut body = new_body(&s, 3).unwrap();
        let ports = body.ports();
        let mut inputs = Inputs::for_ports(&ports);
        let mut outputs = Outputs::for_ports(&ports);
        body.initial_outputs(&mut outputs);
        let flat = |o: &Outputs| -> Vec<f64> {
            let mut v = Vec::new();
            for name in &s.ports {
                let i = port_index(&ports, name, Direction::Output).unwrap();
                match o.get(i) {
                    Payload::Analog(x) => v.extend_from_slice(x),
                    Payload::Scalar(x) => v.push(*x),
                    _ => unreachable!(),
                }
            }
            v
        };
        assert_eq!(row, flat(&outputs));
        let mut acting = s.initial_excitation.clone();
        for k in 0..60u64 {
            let u: Vec<f64> = (0..8)
                .map(|m| if (k / 10 + m) % 3 == 0 { 0.8 } else { 0.02 })
                .collect();
            limbs.step(&u, &mut row).unwrap();
            // By hand: base step by base step, as a run's Window does.
            inputs
                .set(0, Payload::Analog(acting.clone()), Some(Step(5 * k)))
                .unwrap();
            for b in 0..5 {
                let ctx = StepContext {
                    step: Step(5 * k + b),
                    n_steps: 1,
                    base_step_ms: 1.0,
                };
                outputs.begin_step();
                body.step(&ctx, &inputs, &mut outputs).unwrap();
            }
            let want = flat(&outputs);
            // The reward port sums a control step's rewards; a run's body reports each base step's.
            let n = want.len() - 1;
            assert_eq!(row[..n], want[..n], "control step {k}");
            acting = u;
        }
        // The limb moved: the check is not of a limb at rest.
        assert!(row[6].abs() > 0.05, "pull {} mm", row[6]);
    }

    #[test]
    fn limbs_stepped_together_equal_limbs_stepped_alone() {
        let s = spec(serde_json::json!({"spindles": {"world_file": world()}}));
        let mut both = Limbs::new(s.clone(), 2, 0).unwrap();
        let row = both.row_len();
        let mut rows = vec![0.0; 2 * row];
        let mut alone = [
            Limbs::new(s.clone(), 1, 0).unwrap(),
            Limbs::new(s, 1, 0).unwrap(),
        ];
        let mut single = vec![vec![0.0; row]; 2];
        for i in 0..2 {
            both.reset(i, 10 + i as u64, &mut rows[i * row..(i + 1) * row])
                .unwrap();
            alone[i].reset(0, 10 + i as u64, &mut single[i]).unwrap();
        }
        for k in 0..20 {
            let u: Vec<f64> = (0..16).map(|j| ((k * 7 + j) % 10) as f64 / 10.0).collect();
            both.step(&u, &mut rows).unwrap();
            for i in 0..2 {
                alone[i].step(&u[8 * i..8 * i + 8], &mut single[i]).unwrap();
                assert_eq!(rows[i * row..(i + 1) * row], single[i][..], "step {k}");
            }
        }
        assert_eq!(both.summary_names().len(), 16);
        assert!(rows[row - 16..row].iter().all(|&r| r > 0.0));
    }

    #[test]
    fn a_failing_body_is_an_engine_error() {
        let mut l = Limbs::new(spec(serde_json::json!({})), 1, 0).unwrap();
        let mut row = vec![0.0; l.row_len()];
        let mut u = [0.1; 8];
        u[2] = f64::NAN;
        l.step(&u, &mut row).unwrap(); // NaN held for the next step
        match l.step(&[0.1; 8], &mut row) {
            Err(LimbError::Engine(e)) => assert!(e.contains("excitation of Radius1 is NaN"), "{e}"),
            r => panic!("{r:?}"),
        }
    }
}
