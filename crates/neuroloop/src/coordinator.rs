//! The coordinator: starts the engines of an experiment, owns simulated time, moves data along the
//! links, records, and stops everything cleanly whatever happens.
//!
//! The rules of who steps when and what each engine sees are in `neuroloop_core::lockstep`; this file
//! is the loop that applies them over the [`Hub`], plus the handshake and the fault handling:
//!
//! 1. **Start**: spawn every non-external engine (own process group, killed if we die), wait for a
//!    `Hello` from each engine (external ones included) within the join time-out, send `Init`, wait for
//!    `Ready` with its ports and outputs at t = 0, check the ports against the links.
//! 2. **Loop** over base-step boundaries: collect the `StepDone` of every engine whose step ends here
//!    (waiting at most the step time-out), feed their outputs to the links in engine order, record, and
//!    send `Step` to every engine due here. Optionally wait for the wall clock first (`realtime`).
//! 3. **Stop** (at the end, on an error, on Ctrl-C): send `Shutdown`, wait briefly for `Bye`, kill
//!    whatever is left, finish the recordings and write `manifest.json`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use neuroloop_core::experiment::{check_ports, ConfigError, EngineKind, Experiment, Problem};
use neuroloop_core::lockstep::{LinkDef, Lockstep};
use neuroloop_core::port::{Direction, PortSpec};
use neuroloop_core::time::Step;
use neuroloop_core::transfer::TransferChain;
use neuroloop_core::wire::{self, DataEntry, Message};
use neuroloop_record::{EngineTiming, ExitStatus as RunExit, Manifest, Recorder};
use neuroloop_transport::{free_tcp_endpoint, Hub, HubEvent, TransportError};

use crate::processes::{describe_exit, EngineProcess};

/// How to run an experiment.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The exact run folder (default: `<output_dir>/<name>-<UTC time>-<run id>`).
    pub run_dir: Option<PathBuf>,
    /// The run id (default: random); the zenoh key namespace of the run.
    pub run_id: Option<String>,
    /// Show a progress bar (only drawn on a terminal).
    pub progress: bool,
    /// Write no files at all (benchmarks).
    pub no_recording: bool,
    /// Set to stop the run (Ctrl-C).
    pub interrupt: Arc<AtomicBool>,
    /// Override of the experiment's `realtime`.
    pub realtime: Option<bool>,
    /// Keep the coupling overhead of every step in the report (benchmarks).
    pub keep_step_times: bool,
}

/// What a finished (or failed) run reports.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// The run folder, if one was written.
    pub run_dir: Option<PathBuf>,
    /// The run id.
    pub run_id: String,
    /// Base steps simulated.
    pub steps: u64,
    /// Simulated ms reached.
    pub sim_ms: f64,
    /// Wall seconds of the stepping loop.
    pub wall_s: f64,
    /// Simulated time / wall time.
    pub realtime_factor: f64,
    /// Per-engine timings.
    pub engines: Vec<EngineTiming>,
    /// Coupling overhead per base step, p50 and p99, in us.
    pub overhead_p50_us: f64,
    /// See `overhead_p50_us`.
    pub overhead_p99_us: f64,
    /// Wall time per base step, p50 and p99, in us.
    pub step_wall_p50_us: f64,
    /// See `step_wall_p50_us`.
    pub step_wall_p99_us: f64,
    /// Whether the run was paced to the wall clock.
    pub realtime: bool,
    /// Steps that started later than one base step behind the wall clock (real-time runs).
    pub late_steps: u64,
    /// Coupling overhead of every base step in ns (only with `keep_step_times`).
    pub overhead_ns: Vec<u64>,
    /// Files written.
    pub recordings: Vec<String>,
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// An engine's ports do not fit the experiment's links.
    #[error("{0}")]
    Ports(ConfigError),
    /// An engine crashed, hung, failed, disconnected or broke the protocol.
    #[error("{message}")]
    Engine {
        /// Engine name.
        engine: String,
        /// The full report (what happened, exit status, last stderr lines).
        message: String,
    },
    /// The run could not be set up.
    #[error("{0}")]
    Setup(String),
    /// Zenoh failed.
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// Ctrl-C or a termination signal.
    #[error("interrupted")]
    Interrupted,
}

/// Runs an experiment to its end. Recordings and the manifest are written whatever happens; the error,
/// if any, is returned with the report of what was done.
pub fn run(exp: &Experiment, opts: &RunOptions) -> (RunReport, Option<RunError>) {
    let run_id = opts.run_id.clone().unwrap_or_else(new_run_id);
    let mut report = RunReport {
        run_id: run_id.clone(),
        ..RunReport::default()
    };
    let started_utc = neuroloop_record::utc_now_rfc3339();
    let run_dir = if opts.no_recording {
        None
    } else {
        Some(opts.run_dir.clone().unwrap_or_else(|| {
            let stamp: String = started_utc
                .chars()
                .filter(|c| c.is_ascii_digit())
                .take(14)
                .collect();
            exp.output_dir.join(format!(
                "{}-{}-{}",
                exp.name,
                stamp,
                &run_id[run_id.len().saturating_sub(6)..]
            ))
        }))
    };
    if let Some(dir) = &run_dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return (
                report,
                Some(RunError::Setup(format!(
                    "cannot create run folder {}: {e}",
                    dir.display()
                ))),
            );
        }
    }
    report.run_dir = run_dir.clone();

    let mut c = match Coordinator::start(exp, opts, &run_id, run_dir.as_ref()) {
        Ok(c) => c,
        Err((e, processes)) => {
            drop(processes);
            write_manifest(exp, &report, run_dir.as_ref(), &started_utc, Some(&e));
            return (report, Some(e));
        }
    };
    let result = c.run_loop(opts);
    let error = result.err();
    c.stop();
    c.fill_report(&mut report, opts.keep_step_times);
    if let Some(rec) = c.recorder.take() {
        let (files, err) = rec.finish_all();
        report.recordings = files
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        if let Some(err) = err {
            tracing::error!("finishing the recordings failed: {err}");
        }
    }
    write_manifest(exp, &report, run_dir.as_ref(), &started_utc, error.as_ref());
    (report, error)
}

/// A fresh run id: 16 hex digits from the clock, the process id and a counter (run ids only name the
/// key namespace and the run folder; nothing in the models depends on them).
pub fn new_run_id() -> String {
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let x = neuroloop_core::seed::splitmix64(
        nanos ^ (u64::from(std::process::id()) << 32) ^ COUNTER.fetch_add(1, Ordering::Relaxed),
    );
    format!("{x:016x}")
}

struct EngineState {
    name: String,
    kind: String,
    external: bool,
    process: Option<EngineProcess>,
    ports: Vec<PortSpec>,
    /// The step it is computing: (start, when it was sent).
    busy: Option<(Step, Instant)>,
    /// Its finished step, not yet taken in: (start, outputs, compute ns).
    done: Option<(Step, Vec<DataEntry>, u64)>,
    compute_ns: Vec<u64>,
    joined: bool,
    said_bye: bool,
    /// Recorded output ports: (port index, recorder index).
    recorded: Vec<(u16, usize)>,
    /// Recorded input ports (what their links delivered): (port index, recorder index).
    recorded_inputs: Vec<(u16, usize)>,
    /// How the process ended, if not normally (filled when the run stops).
    exit: Option<String>,
}

struct Coordinator<'a> {
    exp: &'a Experiment,
    hub: Hub,
    engines: Vec<EngineState>,
    lockstep: Option<Lockstep>,
    recorder: Option<Recorder>,
    interrupt: Arc<AtomicBool>,
    step_timeout: Duration,
    /// Last boundary all engines reached.
    reached: Step,
    wall_s: f64,
    overhead_ns: Vec<u64>,
    step_wall_ns: Vec<u64>,
    late_steps: u64,
    realtime: bool,
}

type StartError = (RunError, Vec<EngineProcess>);

impl<'a> Coordinator<'a> {
    fn start(
        exp: &'a Experiment,
        opts: &RunOptions,
        run_id: &str,
        run_dir: Option<&PathBuf>,
    ) -> Result<Self, StartError> {
        let names: Vec<String> = exp.engines.iter().map(|e| e.name.clone()).collect();
        let listen = match &exp.zenoh.listen {
            Some(l) => l.clone(),
            None => free_tcp_endpoint().map_err(|e| (e.into(), vec![]))?,
        };
        let hub = Hub::open(
            run_id,
            &names,
            std::slice::from_ref(&listen),
            &exp.zenoh.connect,
            exp.zenoh.lowlatency,
        )
        .map_err(|e| (e.into(), vec![]))?;
        let connect = listen
            .replace("0.0.0.0", "127.0.0.1")
            .replace("[::]", "[::1]");
        let mut engines = Vec::with_capacity(exp.engines.len());
        for spec in &exp.engines {
            let (kind, process) = match (&spec.kind, spec.external) {
                (EngineKind::Builtin(k), true) => (k.clone(), None),
                (EngineKind::Executable(p), true) => (p.display().to_string(), None),
                (kind, false) => {
                    let (program, mut args, kind) = match kind {
                        EngineKind::Builtin(k) => {
                            let exe = std::env::current_exe().map_err(|e| {
                                (
                                    RunError::Setup(format!(
                                        "cannot find the neuroloop binary: {e}"
                                    )),
                                    vec![],
                                )
                            })?;
                            (exe, vec!["engine".to_string(), k.clone()], k.clone())
                        }
                        EngineKind::Executable(p) => (p.clone(), vec![], p.display().to_string()),
                    };
                    args.extend(spec.args.iter().cloned());
                    let mut env = vec![
                        ("NEUROLOOP_RUN_ID", run_id.to_string()),
                        ("NEUROLOOP_ENGINE", spec.name.clone()),
                        ("NEUROLOOP_CONNECT", connect.clone()),
                        (
                            "NEUROLOOP_ZENOH_LOWLATENCY",
                            if exp.zenoh.lowlatency { "1" } else { "0" }.to_string(),
                        ),
                    ];
                    // Engines may write files of their own into the run folder (the body's trials).
                    if let Some(dir) = run_dir {
                        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
                        env.push(("NEUROLOOP_RUN_DIR", dir.display().to_string()));
                    }
                    let p =
                        EngineProcess::spawn(&spec.name, &program, &args, &env).map_err(|e| {
                            let err = RunError::Setup(format!(
                                "cannot start engine '{}' ({}): {e}",
                                spec.name,
                                program.display()
                            ));
                            (
                                err,
                                engines
                                    .iter_mut()
                                    .filter_map(|s: &mut EngineState| s.process.take())
                                    .collect::<Vec<_>>(),
                            )
                        })?;
                    (kind, Some(p))
                }
            };
            engines.push(EngineState {
                name: spec.name.clone(),
                kind,
                external: spec.external,
                process,
                ports: vec![],
                busy: None,
                done: None,
                compute_ns: Vec::new(),
                joined: false,
                said_bye: false,
                recorded: vec![],
                recorded_inputs: vec![],
                exit: None,
            });
        }
        for e in engines.iter().filter(|e| e.external) {
            eprintln!(
                "waiting up to {:.0} s for external engine '{}': start it with NEUROLOOP_RUN_ID={run_id} NEUROLOOP_ENGINE={} NEUROLOOP_CONNECT={connect}{}",
                exp.join_timeout_ms as f64 / 1000.0,
                e.name,
                e.name,
                if exp.zenoh.lowlatency {
                    " NEUROLOOP_ZENOH_LOWLATENCY=1"
                } else {
                    ""
                }
            );
        }
        let mut c = Coordinator {
            exp,
            hub,
            engines,
            lockstep: None,
            recorder: None,
            interrupt: opts.interrupt.clone(),
            step_timeout: Duration::from_millis(exp.step_timeout_ms),
            reached: Step(0),
            wall_s: 0.0,
            overhead_ns: Vec::new(),
            step_wall_ns: Vec::new(),
            late_steps: 0,
            realtime: opts.realtime.unwrap_or(exp.realtime),
        };
        match c.handshake(run_dir) {
            Ok(()) => Ok(c),
            Err(e) => {
                c.stop();
                let procs = c
                    .engines
                    .iter_mut()
                    .filter_map(|s| s.process.take())
                    .collect();
                Err((e, procs))
            }
        }
    }

    /// Hello -> Init -> Ready for every engine, then the port check and the link and recorder set-up.
    fn handshake(&mut self, run_dir: Option<&PathBuf>) -> Result<(), RunError> {
        let deadline = Instant::now() + Duration::from_millis(self.exp.join_timeout_ms);
        // Hello from everyone.
        while let Some(missing) = self.engines.iter().position(|e| !e.joined) {
            match self
                .hub
                .recv_until(deadline.min(Instant::now() + Duration::from_millis(50)))
            {
                Some(HubEvent::Message { engine, bytes }) => match self.decode(engine, &bytes)? {
                    Message::Hello { engine: name, .. } if name == self.engines[engine].name => {
                        self.engines[engine].joined = true;
                    }
                    Message::Hello { engine: name, .. } => {
                        return Err(
                            self.engine_error(engine, format!("said Hello as engine '{name}'"))
                        );
                    }
                    Message::Error { message } => {
                        return Err(self.engine_error(engine, format!("failed: {message}")))
                    }
                    other => {
                        return Err(self.engine_error(
                            engine,
                            format!("sent {} before Hello", other.kind_name()),
                        ))
                    }
                },
                Some(HubEvent::Stray { key }) => {
                    tracing::warn!("ignoring a message on {key}: no such engine in this run")
                }
                Some(_) => {}
                None => {
                    self.check_alive()?;
                    if Instant::now() >= deadline {
                        let e = &self.engines[missing];
                        let how = if e.external {
                            "external engine: was it started with this run's NEUROLOOP_RUN_ID and NEUROLOOP_CONNECT?"
                        } else {
                            "its process is running but never connected"
                        };
                        return Err(self.engine_error(
                            missing,
                            format!(
                                "did not join within {} ms (run.join_timeout_ms; {how})",
                                self.exp.join_timeout_ms
                            ),
                        ));
                    }
                }
            }
        }
        // Init to everyone.
        for i in 0..self.engines.len() {
            self.wait_listening(i, deadline)?;
            let spec = &self.exp.engines[i];
            let init = Message::Init {
                base_step_ms: self.exp.base_step_ms,
                period: spec.period,
                seed: spec.seed,
                config_json: spec.config.to_string(),
            };
            self.hub.send(i, &init)?;
        }
        // Ready from everyone.
        let mut initial: Vec<Option<Vec<DataEntry>>> = vec![None; self.engines.len()];
        while initial.iter().any(Option::is_none) {
            match self
                .hub
                .recv_until(deadline.min(Instant::now() + Duration::from_millis(50)))
            {
                Some(HubEvent::Message { engine, bytes }) => match self.decode(engine, &bytes)? {
                    Message::Ready { ports, outputs } => {
                        self.engines[engine].ports = ports;
                        self.check_outputs(engine, &outputs)?;
                        initial[engine] = Some(outputs);
                    }
                    Message::Error { message } => {
                        return Err(
                            self.engine_error(engine, format!("failed to initialize: {message}"))
                        )
                    }
                    other => {
                        return Err(self.engine_error(
                            engine,
                            format!("sent {} instead of Ready", other.kind_name()),
                        ))
                    }
                },
                Some(HubEvent::Left { engine }) => {
                    return Err(self.lost(engine, "while initializing"))
                }
                Some(_) => {}
                None => {
                    self.check_alive()?;
                    if Instant::now() >= deadline {
                        let i = initial.iter().position(Option::is_none).unwrap_or(0);
                        return Err(self.engine_error(
                            i,
                            format!("did not answer Init within {} ms", self.exp.join_timeout_ms),
                        ));
                    }
                }
            }
        }
        self.check_ports()?;
        self.build_links()?;
        if let Some(dir) = run_dir {
            self.create_recorder(dir)?;
        }
        // t = 0: everyone's initial outputs.
        for (e, outs) in initial.into_iter().enumerate() {
            let outs = outs.unwrap_or_default();
            if let Some(l) = self.lockstep.as_mut() {
                l.push_outputs(e, Step(0), &outs);
            }
            self.record(e, Step(0), &outs)?;
        }
        Ok(())
    }

    fn wait_listening(&mut self, engine: usize, deadline: Instant) -> Result<(), RunError> {
        // The engine declared its subscriber before saying Hello, and zenoh keeps declarations and data
        // of one connection in order, so this is normally true at once; it is checked all the same.
        while !self.hub.is_listening(engine)? {
            if Instant::now() >= deadline {
                return Err(self.engine_error(
                    engine,
                    "said Hello but its subscriber never appeared".into(),
                ));
            }
            if let Some(HubEvent::Left { engine }) = self.hub.recv_timeout(Duration::from_millis(1))
            {
                return Err(self.lost(engine, "while joining"));
            }
        }
        Ok(())
    }

    fn check_ports(&self) -> Result<(), RunError> {
        let mut problems = Vec::new();
        let mut by_name = BTreeMap::new();
        for (e, spec) in self.engines.iter().zip(&self.exp.engines) {
            if let Some(declared) = &spec.declared_ports {
                if declared != &e.ports {
                    problems.push(Problem {
                        path: format!("engines.{}.ports", e.name),
                        line: None,
                        column: None,
                        message: format!(
                            "the engine declared other ports than the file: it has {}",
                            describe_ports(&e.ports)
                        ),
                    });
                }
            }
            by_name.insert(e.name.clone(), e.ports.clone());
        }
        problems.extend(check_ports(self.exp, &by_name));
        if problems.is_empty() {
            return Ok(());
        }
        let file = self
            .exp
            .source
            .as_ref()
            .map_or("<experiment>".into(), |p| p.display().to_string());
        for p in &mut problems {
            if p.line.is_none() {
                if let Some((l, c)) = neuroloop_core::experiment::locate(&self.exp.text, &p.path) {
                    p.line = Some(l);
                    p.column = Some(c);
                }
            }
        }
        Err(RunError::Ports(ConfigError { file, problems }))
    }

    /// The index of `engine`'s port named `port`, preferring one of direction `want` (an input and an
    /// output may share a name).
    fn port_index(&self, engine: usize, port: &str, want: Direction) -> Option<u16> {
        let ports = &self.engines[engine].ports;
        ports
            .iter()
            .position(|p| p.name == port && p.direction == want)
            .or_else(|| ports.iter().position(|p| p.name == port))
            .map(|i| i as u16)
    }

    fn engine_index(&self, name: &str) -> Option<usize> {
        self.engines.iter().position(|e| e.name == name)
    }

    fn build_links(&mut self) -> Result<(), RunError> {
        let mut defs = Vec::new();
        for (i, link) in self.exp.links.iter().enumerate() {
            let find = |r: &neuroloop_core::experiment::PortRef, want| {
                let e = self.engine_index(&r.engine)?;
                Some((e, self.port_index(e, &r.port, want)?))
            };
            let (Some((fe, fp)), Some((te, tp))) = (
                find(&link.from, Direction::Output),
                find(&link.to, Direction::Input),
            ) else {
                return Err(RunError::Setup(format!(
                    "links[{i}]: {} -> {} does not resolve",
                    link.from, link.to
                )));
            };
            let from_kind = self.engines[fe].ports[usize::from(fp)].kind.clone();
            // Each step's random stream comes from the link's endpoints (not its place in the file).
            let transfer = match &link.transfer {
                Some(chain) => Some(
                    TransferChain::new(chain, &from_kind, |k| link.transfer_seed(self.exp.seed, k))
                        .map_err(|e| {
                            RunError::Setup(format!(
                                "links[{i}].{}: {}",
                                chain.step_key(e.step),
                                e.message
                            ))
                        })?,
                ),
                None => None,
            };
            defs.push(LinkDef {
                from_engine: fe,
                from_port: fp,
                to_engine: te,
                to_port: tp,
                from_kind,
                transfer,
            });
        }
        let periods = self.exp.engines.iter().map(|e| e.period).collect();
        self.lockstep = Some(Lockstep::new(
            periods,
            self.exp.duration,
            self.exp.base_step_ms,
            defs,
        ));
        Ok(())
    }

    /// One recording per `[record]` entry, `<engine>.<port>.parquet`: an output port records what the
    /// engine produced, an input port what its link delivered (after the transfer chain), with the
    /// input port's own kind. An entry names the output when an input and an output share the name, so
    /// the file names cannot collide.
    fn create_recorder(&mut self, dir: &std::path::Path) -> Result<(), RunError> {
        let mut rec = Recorder::new(dir);
        for r in &self.exp.record {
            let Some(e) = self.engine_index(&r.engine) else {
                continue;
            };
            let Some(p) = self.port_index(e, &r.port, Direction::Output) else {
                continue;
            };
            let port = &self.engines[e].ports[usize::from(p)];
            let (kind, input) = (port.kind.clone(), port.direction == Direction::Input);
            let idx = rec
                .create(&r.engine, &r.port, &kind)
                .map_err(|err| RunError::Setup(format!("cannot record {r}: {err}")))?;
            if input {
                self.engines[e].recorded_inputs.push((p, idx));
            } else {
                self.engines[e].recorded.push((p, idx));
            }
        }
        self.recorder = Some(rec);
        Ok(())
    }

    /// Records what the links delivered into `engine`'s recorded input ports for its step starting at
    /// `start` (stamped with the step's start).
    fn record_inputs(
        &mut self,
        engine: usize,
        start: Step,
        inputs: &[DataEntry],
    ) -> Result<(), RunError> {
        let Some(rec) = self.recorder.as_mut() else {
            return Ok(());
        };
        let t_ms = start.to_ms(self.exp.base_step_ms);
        for &(port, idx) in &self.engines[engine].recorded_inputs {
            if let Some(entry) = inputs.iter().find(|d| d.port == port) {
                rec.push(idx, start, t_ms, &entry.payload).map_err(|e| {
                    RunError::Setup(format!("recording {}: {e}", self.engines[engine].name))
                })?;
            }
        }
        Ok(())
    }

    fn record(&mut self, engine: usize, end: Step, outputs: &[DataEntry]) -> Result<(), RunError> {
        let Some(rec) = self.recorder.as_mut() else {
            return Ok(());
        };
        let t_ms = end.to_ms(self.exp.base_step_ms);
        for &(port, idx) in &self.engines[engine].recorded {
            if let Some(entry) = outputs.iter().find(|d| d.port == port) {
                rec.push(idx, end, t_ms, &entry.payload).map_err(|e| {
                    RunError::Setup(format!("recording {}: {e}", self.engines[engine].name))
                })?;
            }
        }
        Ok(())
    }

    /// The stepping loop over base-step boundaries.
    fn run_loop(&mut self, opts: &RunOptions) -> Result<(), RunError> {
        let mut lockstep = self
            .lockstep
            .take()
            .ok_or_else(|| RunError::Setup("no lockstep".into()))?;
        let result = self.step_all(&mut lockstep, opts);
        self.lockstep = Some(lockstep);
        result
    }

    /// Steps every round; the wall time is kept whether the run ends or fails (the manifest and the
    /// summary report it either way).
    fn step_all(&mut self, lockstep: &mut Lockstep, opts: &RunOptions) -> Result<(), RunError> {
        let start = Instant::now();
        let result = self.step_rounds(lockstep, opts, start);
        self.wall_s = start.elapsed().as_secs_f64();
        result
    }

    fn step_rounds(
        &mut self,
        lockstep: &mut Lockstep,
        opts: &RunOptions,
        start: Instant,
    ) -> Result<(), RunError> {
        let n = self.engines.len();
        let duration = self.exp.duration;
        let base = self.exp.base_step_ms;
        let realtime = self.realtime;
        let progress = make_progress(opts.progress, duration);
        let mut inputs = Vec::new();
        let mut buf = Vec::with_capacity(256);
        self.overhead_ns.reserve(duration.0 as usize);
        self.step_wall_ns.reserve(duration.0 as usize);
        let mut last_ui = start;
        let mut round_start = start;
        for t in 0..=duration.0 {
            let now_step = Step(t);
            if t > 0 {
                self.wait_for(|c, e| lockstep.ends_at(e, now_step) && c.engines[e].done.is_none())?;
                let round_end = Instant::now();
                let mut max_compute = 0;
                for e in 0..n {
                    if !lockstep.ends_at(e, now_step) {
                        continue;
                    }
                    let (_, outs, compute) = self.engines[e].done.take().expect("waited for");
                    max_compute = max_compute.max(compute);
                    self.engines[e].compute_ns.push(compute);
                    lockstep.push_outputs(e, now_step, &outs);
                    self.record(e, now_step, &outs)?;
                }
                let wall = round_end.duration_since(round_start).as_nanos() as u64;
                self.step_wall_ns.push(wall);
                self.overhead_ns.push(wall.saturating_sub(max_compute));
                self.reached = now_step;
            }
            if t == duration.0 {
                break;
            }
            if self.interrupt.load(Ordering::Relaxed) {
                return Err(RunError::Interrupted);
            }
            if realtime {
                let target = start + Duration::from_secs_f64(t as f64 * base * 1e-3);
                let now = Instant::now();
                if now < target {
                    std::thread::sleep(target - now);
                } else if now.duration_since(target) > Duration::from_secs_f64(base * 1e-3) {
                    self.late_steps += 1;
                }
            }
            round_start = Instant::now();
            for e in 0..n {
                if !lockstep.is_due(e, now_step) {
                    continue;
                }
                inputs.clear();
                lockstep.take_inputs(e, now_step, &mut inputs);
                if !self.engines[e].recorded_inputs.is_empty() {
                    self.record_inputs(e, now_step, &inputs)?;
                }
                let msg = Message::Step {
                    step: now_step,
                    n_steps: lockstep.period(e),
                    inputs: std::mem::take(&mut inputs),
                };
                wire::encode_into(&msg, &mut buf);
                if let Message::Step { inputs: i, .. } = msg {
                    inputs = i;
                }
                self.hub.send_bytes(e, &buf)?;
                self.engines[e].busy = Some((now_step, round_start));
            }
            if t % 64 == 0 {
                let now = Instant::now();
                if now.duration_since(last_ui) > Duration::from_millis(200) {
                    last_ui = now;
                    if let Some(rec) = self.recorder.as_mut() {
                        rec.flush_if_due(now)
                            .map_err(|e| RunError::Setup(format!("recording: {e}")))?;
                    }
                    if let Some(pb) = &progress {
                        let sim_s = t as f64 * base * 1e-3;
                        let rtf = sim_s / now.duration_since(start).as_secs_f64().max(1e-9);
                        pb.set_position(t);
                        pb.set_message(format!("{sim_s:.2} s simulated, {rtf:.2}x real time"));
                    }
                }
            }
        }
        if let Some(pb) = progress {
            pb.finish_and_clear();
        }
        Ok(())
    }

    /// Handles events until no engine satisfies `missing`; fails on a time-out, a dead engine, a
    /// malformed message or Ctrl-C.
    fn wait_for(&mut self, missing: impl Fn(&Self, usize) -> bool) -> Result<(), RunError> {
        let mut events = Vec::with_capacity(self.engines.len());
        loop {
            let mut waiting = (0..self.engines.len()).filter(|&e| missing(self, e));
            let Some(first) = waiting.next() else {
                return Ok(());
            };
            let want = 1 + waiting.count();
            let sent = self.engines[first]
                .busy
                .map_or_else(Instant::now, |(_, at)| at);
            let deadline = sent + self.step_timeout;
            self.hub.recv_many(
                want,
                deadline.min(Instant::now() + Duration::from_millis(50)),
                &mut events,
            );
            if events.is_empty() {
                self.check_alive()?;
                if self.interrupt.load(Ordering::Relaxed) {
                    return Err(RunError::Interrupted);
                }
                if Instant::now() >= deadline {
                    let at = self.engines[first]
                        .busy
                        .map_or(0.0, |(s, _)| s.to_ms(self.exp.base_step_ms));
                    let err = self.engine_error(
                        first,
                        format!(
                            "did not finish its step starting at {at} ms within {} ms (run.step_timeout_ms): it hangs or is far too slow",
                            self.exp.step_timeout_ms
                        ),
                    );
                    if let Some(p) = self.engines[first].process.as_mut() {
                        p.kill();
                    }
                    return Err(err);
                }
            }
            for ev in events.drain(..) {
                self.handle(ev)?;
            }
        }
    }

    fn handle(&mut self, ev: HubEvent) -> Result<(), RunError> {
        match ev {
            HubEvent::Message { engine, bytes } => match self.decode(engine, &bytes)? {
                Message::StepDone {
                    step,
                    compute_ns,
                    outputs,
                } => {
                    match self.engines[engine].busy {
                        Some((s, _)) if s == step => {}
                        other => {
                            let expected = other.map_or("no step".into(), |(s, _)| {
                                format!("the step starting at {}", s.0)
                            });
                            return Err(self.engine_error(
                                engine,
                                format!("sent StepDone for the step starting at {} while {expected} was running", step.0),
                            ));
                        }
                    }
                    self.check_outputs(engine, &outputs)?;
                    let st = &mut self.engines[engine];
                    st.busy = None;
                    st.done = Some((step, outputs, compute_ns));
                    Ok(())
                }
                Message::Error { message } => {
                    Err(self.engine_error(engine, format!("failed: {message}")))
                }
                other => Err(self.engine_error(
                    engine,
                    format!("sent an unexpected {} message", other.kind_name()),
                )),
            },
            HubEvent::Left { engine } => Err(self.lost(engine, "during the run")),
            HubEvent::Joined { .. } => Ok(()),
            HubEvent::Stray { key } => {
                tracing::warn!("ignoring a message on {key}: no such engine in this run");
                Ok(())
            }
        }
    }

    fn decode(&self, engine: usize, bytes: &[u8]) -> Result<Message, RunError> {
        wire::decode(bytes).map_err(|e| {
            self.engine_error(
                engine,
                format!("sent a malformed message ({} bytes): {e}", bytes.len()),
            )
        })
    }

    fn check_outputs(&self, engine: usize, outputs: &[DataEntry]) -> Result<(), RunError> {
        let ports = &self.engines[engine].ports;
        for d in outputs {
            let Some(p) = ports.get(usize::from(d.port)) else {
                return Err(self.engine_error(
                    engine,
                    format!(
                        "sent data for port index {}, which it does not have",
                        d.port
                    ),
                ));
            };
            if p.direction != Direction::Output {
                return Err(
                    self.engine_error(engine, format!("sent data for its input port '{}'", p.name))
                );
            }
            if let Err(why) = d.payload.check_against(&p.kind) {
                return Err(
                    self.engine_error(engine, format!("sent bad data on port '{}': {why}", p.name))
                );
            }
        }
        Ok(())
    }

    /// Fails if a started engine process has ended or Ctrl-C was pressed.
    fn check_alive(&mut self) -> Result<(), RunError> {
        if self.interrupt.load(Ordering::Relaxed) {
            return Err(RunError::Interrupted);
        }
        for i in 0..self.engines.len() {
            let exited = self.engines[i].process.as_mut().and_then(|p| p.exited());
            if let Some(status) = exited {
                return Err(self.engine_error(
                    i,
                    format!("exited unexpectedly ({})", describe_exit(status)),
                ));
            }
        }
        Ok(())
    }

    /// An engine's liveliness token went away: report its exit status if it is our process.
    fn lost(&mut self, engine: usize, when: &str) -> RunError {
        let status = self.engines[engine]
            .process
            .as_mut()
            .and_then(|p| p.wait_for_exit(Duration::from_secs(1)));
        let what = match status {
            Some(s) => format!("crashed {when} ({})", describe_exit(s)),
            None => format!("disconnected {when}"),
        };
        self.engine_error(engine, what)
    }

    fn engine_error(&self, engine: usize, what: String) -> RunError {
        let e = &self.engines[engine];
        let mut message = format!("engine '{}' ({}", e.name, e.kind);
        if let Some(p) = &e.process {
            message.push_str(&format!(", pid {}", p.pid()));
        }
        message.push_str(&format!(") {what}"));
        message.push_str(&format!(
            " [simulated time reached: {} ms]",
            self.reached.to_ms(self.exp.base_step_ms)
        ));
        if let Some(p) = &e.process {
            let tail = p.stderr_tail();
            if !tail.is_empty() {
                message.push_str(&format!("\nlast stderr lines of '{}':", e.name));
                for l in tail {
                    message.push_str("\n  | ");
                    message.push_str(&l);
                }
            }
        }
        RunError::Engine {
            engine: e.name.clone(),
            message,
        }
    }

    /// Shuts every engine down: `Shutdown`, a short wait for `Bye` or exit, then SIGKILL.
    fn stop(&mut self) {
        for i in 0..self.engines.len() {
            let joined = self.engines[i].joined;
            let alive = self.engines[i]
                .process
                .as_mut()
                .map_or(joined, |p| p.exited().is_none());
            if alive && joined {
                let _ = self.hub.send(i, &Message::Shutdown);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let waiting = self.engines.iter_mut().any(|e| match e.process.as_mut() {
                Some(p) => p.exited().is_none(),
                None => e.joined && !e.said_bye,
            });
            if !waiting {
                break;
            }
            if let Some(HubEvent::Message { engine, bytes }) =
                self.hub.recv_timeout(Duration::from_millis(10))
            {
                if let Ok(Message::Bye) = wire::decode(&bytes) {
                    self.engines[engine].said_bye = true;
                }
            }
        }
        for e in &mut self.engines {
            if let Some(p) = e.process.as_mut() {
                if p.exited().is_none() {
                    tracing::warn!(
                        "engine '{}' did not stop within 2 s of Shutdown: killing it",
                        e.name
                    );
                }
                e.exit = p.kill().filter(|s| !s.success()).map(describe_exit);
            }
        }
    }

    fn fill_report(&self, r: &mut RunReport, keep_step_times: bool) {
        r.steps = self.reached.0;
        r.sim_ms = self.reached.to_ms(self.exp.base_step_ms);
        r.wall_s = self.wall_s;
        r.realtime_factor = if self.wall_s > 0.0 {
            r.sim_ms * 1e-3 / self.wall_s
        } else {
            f64::NAN
        };
        let (p50, p99) = percentiles_us(&self.overhead_ns);
        r.overhead_p50_us = p50;
        r.overhead_p99_us = p99;
        let (w50, w99) = percentiles_us(&self.step_wall_ns);
        r.step_wall_p50_us = w50;
        r.step_wall_p99_us = w99;
        r.late_steps = self.late_steps;
        r.realtime = self.realtime;
        if keep_step_times {
            r.overhead_ns = self.overhead_ns.clone();
        }
        r.engines = self
            .engines
            .iter()
            .zip(&self.exp.engines)
            .map(|(e, spec)| {
                let (p50, p99) = percentiles_us(&e.compute_ns);
                EngineTiming {
                    name: e.name.clone(),
                    kind: e.kind.clone(),
                    period_steps: u64::from(spec.period),
                    steps: e.compute_ns.len() as u64,
                    compute_s: e.compute_ns.iter().sum::<u64>() as f64 * 1e-9,
                    compute_p50_us: p50,
                    compute_p99_us: p99,
                    exit: e.exit.clone(),
                }
            })
            .collect();
    }
}

fn describe_ports(ports: &[PortSpec]) -> String {
    let v: Vec<String> = ports
        .iter()
        .map(|p| {
            let d = if p.direction == Direction::Input {
                "input"
            } else {
                "output"
            };
            format!("{} ({d} {})", p.name, p.kind.describe())
        })
        .collect();
    v.join(", ")
}

/// p50 and p99 of durations in ns, in us (NaN when empty).
pub fn percentiles_us(ns: &[u64]) -> (f64, f64) {
    if ns.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut v = ns.to_vec();
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    (at(0.50), at(0.99))
}

fn make_progress(enabled: bool, duration: Step) -> Option<indicatif::ProgressBar> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(duration.0);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% {msg} (ETA {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(pb)
}

fn write_manifest(
    exp: &Experiment,
    r: &RunReport,
    dir: Option<&PathBuf>,
    started_utc: &str,
    error: Option<&RunError>,
) {
    let Some(dir) = dir else { return };
    let mut versions = BTreeMap::new();
    versions.insert(
        "neuroloop".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    for pair in env!("NEUROLOOP_DEP_VERSIONS")
        .split(',')
        .filter(|p| !p.is_empty())
    {
        if let Some((name, version)) = pair.split_once('=') {
            versions.insert(name.to_string(), version.to_string());
        }
    }
    versions.insert("protocol".to_string(), wire::PROTOCOL_VERSION.to_string());
    let m = Manifest {
        experiment_file: exp
            .source
            .as_ref()
            .map_or_else(String::new, |p| p.display().to_string()),
        experiment_text: exp.text.clone(),
        overrides: exp.overrides.clone(),
        seed: exp.seed,
        run_id: r.run_id.clone(),
        git_commit: option_env!("NEUROLOOP_GIT_COMMIT").map(String::from),
        versions,
        host: hostname(),
        started_utc: started_utc.to_string(),
        ended_utc: neuroloop_record::utc_now_rfc3339(),
        exit_status: match error {
            None => RunExit::Ok,
            Some(RunError::Interrupted) => RunExit::Interrupted,
            Some(_) => RunExit::Error,
        },
        error: error.map(|e| e.to_string()),
        duration_ms: r.sim_ms,
        steps: r.steps,
        wall_s: r.wall_s,
        realtime_factor: r.realtime_factor,
        engines: r.engines.clone(),
        coupling_overhead_p50_us: r.overhead_p50_us,
        coupling_overhead_p99_us: r.overhead_p99_us,
        realtime: r.realtime,
        late_steps: r.late_steps,
        recordings: r.recordings.clone(),
    };
    if let Err(e) = m.write(dir) {
        tracing::error!("cannot write the manifest: {e}");
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
