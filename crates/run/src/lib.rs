//! A run as a library: start the engines of an experiment, advance them in lockstep by base steps
//! or to a time, read the latest values of their output ports, and stop, getting the run report and a
//! complete run folder (recordings and `manifest.json`) whatever happened. The `neuroloop` CLI is glue
//! around this crate (arguments, progress bar, exit codes).
//!
//! ```no_run
//! use neuroloop_run::{Run, RunOptions};
//! # fn load() -> neuroloop_core::experiment::Experiment { unimplemented!() }
//! let exp = load(); // neuroloop_core::experiment::load(path, overrides, catalog of engine kinds)
//! let opts = RunOptions { engine_exe: Some("target/release/neuroloop".into()), ..Default::default() };
//! let mut run = Run::start(exp, opts).map_err(|f| f.error)?;
//! run.advance_to(500.0)?; // simulated ms
//! println!("x = {:?} at {} ms", run.output("plant.position")?, run.time_ms());
//! run.advance(u64::MAX)?; // to the end
//! run.reset()?; // episode 1: t = 0 again, new seeds
//! let report = run.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! How a run goes (the rules of who steps when and what each engine sees are in
//! `neuroloop_core::lockstep`; this crate applies them over zenoh):
//!
//! 1. **Start** ([`handshake`]): spawn every non-external engine (own process group, killed if we
//!    die; [`processes`]), wait for a `Hello` from each engine within the join time-out, send `Init`,
//!    wait for `Ready` with its ports and outputs at t = 0, check the ports against the links.
//! 2. **Rounds** ([`stepping`]), one per base step: send `Step` to every engine due, collect the
//!    `StepDone` of every engine whose step ends next (waiting at most the step time-out), feed their
//!    outputs to the links, record. Optionally paced to the wall clock (`realtime`).
//! 3. **Stop** ([`faults`], [`report`]): `Shutdown`, a short wait for `Bye`, kill whatever is left,
//!    finish the recordings and write `manifest.json`.

mod coordinator;
mod faults;
mod handshake;
pub mod network;
mod processes;
mod report;
mod stats;
mod stepping;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use neuroloop_core::experiment::{ConfigError, Experiment};
use neuroloop_core::payload::Payload;
use neuroloop_core::port::Direction;
use neuroloop_transport::TransportError;

use coordinator::Coordinator;
use report::{write_manifest, Failure};

pub use report::{percentiles_us, RunReport};
pub use stats::Histogram;

/// How to run an experiment.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The exact run folder (default: `<output_dir>/<name>-<UTC time>-<run id>`).
    pub run_dir: Option<PathBuf>,
    /// The run id (default: random); the zenoh key namespace of the run.
    pub run_id: Option<String>,
    /// Write no files at all (benchmarks).
    pub no_recording: bool,
    /// Set to stop the run (Ctrl-C).
    pub interrupt: Arc<AtomicBool>,
    /// Override of the experiment's `realtime`.
    pub realtime: Option<bool>,
    /// Keep the coupling overhead of every step in the report (benchmarks).
    pub keep_step_times: bool,
    /// The `neuroloop` binary that runs built-in engines (`neuroloop engine <kind>`); default: the
    /// running program, which is right for the `neuroloop` CLI itself. A program that embeds the run
    /// library (a test, a notebook's kernel) names the binary here.
    pub engine_exe: Option<PathBuf>,
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
    /// The run folder cannot be used: it is not empty, or another run is using it.
    #[error("{0}")]
    Folder(String),
    /// A port name that is not an output port of an engine of the run.
    #[error("{0}")]
    NoSuchPort(String),
    /// The run failed or was stopped before; it cannot go on.
    #[error("the run cannot go on: {0}")]
    Stopped(String),
}

/// A run that could not start: the error, and the report of what was done (its run folder holds a
/// manifest saying why).
#[derive(Debug)]
pub struct StartFailed {
    /// What was done (run id, run folder).
    pub report: RunReport,
    /// Why the run could not start.
    pub error: RunError,
}

/// A started run. Dropping it without [`Run::stop`] still stops every engine (their processes are
/// killed), but writes no manifest.
pub struct Run {
    coord: Coordinator,
    report: RunReport,
    started_utc: String,
    keep_step_times: bool,
    /// The first error of [`Run::advance`], kept for the manifest.
    failure: Option<Failure>,
}

impl Run {
    /// Starts the engines of `exp` and brings them to t = 0 (handshake, port check, links, recorder).
    /// On failure the run folder holds a manifest saying why, and the error comes with the report.
    pub fn start(exp: Experiment, opts: RunOptions) -> Result<Run, Box<StartFailed>> {
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
            if let Err(error) = claim_folder(dir) {
                return Err(Box::new(StartFailed { report, error }));
            }
        }
        report.run_dir = run_dir.clone();
        // The manifest at the start: seed, experiment text, status `running` (what a coordinator that
        // dies leaves behind; `recover` finishes such a folder).
        write_manifest(&exp, &report, run_dir.as_ref(), &started_utc, None, true);
        match Coordinator::start(exp.clone(), &opts, &run_id, run_dir.as_ref()) {
            Ok(coord) => Ok(Run {
                coord,
                report,
                started_utc,
                keep_step_times: opts.keep_step_times,
                failure: None,
            }),
            Err((e, processes)) => {
                drop(processes);
                write_manifest(
                    &exp,
                    &report,
                    run_dir.as_ref(),
                    &started_utc,
                    Some(&Failure::from(&e)),
                    false,
                );
                Err(Box::new(StartFailed { report, error: e }))
            }
        }
    }

    /// Advances every engine by up to `n` base steps in lockstep, stopping at the end of the run;
    /// returns the steps taken (0 at the end). With lookahead windows (every link later than one step,
    /// see `neuroloop_core::lockstep`) the run moves by whole windows: up to a window minus one step
    /// more than `n`. After an error the run cannot go on: stop it (the manifest then records the
    /// error).
    pub fn advance(&mut self, n: u64) -> Result<u64, RunError> {
        if let Some(f) = &self.failure {
            return Err(RunError::Stopped(f.message.clone()));
        }
        self.coord.advance(n).inspect_err(|e| {
            self.failure = Some(Failure::from(e));
        })
    }

    /// Advances to the first base-step boundary (window boundary, with lookahead windows) at or after
    /// `t_ms` (simulated ms; at most the end).
    pub fn advance_to(&mut self, t_ms: f64) -> Result<u64, RunError> {
        let target = (t_ms / self.coord.exp.base_step_ms).ceil();
        let target = if target.is_finite() && target > 0.0 {
            target as u64
        } else {
            0
        };
        self.advance(target.saturating_sub(self.coord.reached.0))
    }

    /// Starts the next episode: every engine goes back to t = 0 as a fresh engine with the episode's
    /// seed would start ([`episode_seed`]; engines are rebuilt by their SDKs), links are emptied and
    /// their transfer functions seeded for the episode, and the recordings go on with the new value
    /// in their `episode` column (the body's trial records carry it too). Episode k is what a fresh
    /// run with `run.seed = episode_seed(run seed, k)` gives. Returns the new episode's index.
    pub fn reset(&mut self) -> Result<u32, RunError> {
        if let Some(f) = &self.failure {
            return Err(RunError::Stopped(f.message.clone()));
        }
        self.coord.reset().inspect_err(|e| {
            self.failure = Some(Failure::from(e));
        })
    }

    /// The episode: 0 until the first [`Run::reset`].
    pub fn episode(&self) -> u32 {
        self.coord.episode
    }

    /// Base steps done in this episode.
    pub fn steps(&self) -> u64 {
        self.coord.reached.0
    }

    /// Simulated time reached in this episode, ms.
    pub fn time_ms(&self) -> f64 {
        self.coord.reached.to_ms(self.coord.exp.base_step_ms)
    }

    /// Whether the run has reached its end (`run.duration_ms`).
    pub fn finished(&self) -> bool {
        self.coord.reached >= self.coord.exp.duration
    }

    /// The experiment being run.
    pub fn experiment(&self) -> &Experiment {
        &self.coord.exp
    }

    /// The run id (the run's zenoh key namespace).
    pub fn run_id(&self) -> &str {
        &self.report.run_id
    }

    /// The run folder, unless the run records nothing.
    pub fn run_dir(&self) -> Option<&Path> {
        self.report.run_dir.as_deref()
    }

    /// Every output port of the run's engines as `("engine.port", kind)`, engine by engine in the
    /// experiment's order.
    pub fn output_ports(&self) -> Vec<(String, neuroloop_core::port::PortKind)> {
        self.coord
            .engines
            .iter()
            .flat_map(|e| {
                e.ports
                    .iter()
                    .filter(|p| p.direction == Direction::Output)
                    .map(move |p| (format!("{}.{}", e.name, p.name), p.kind.clone()))
            })
            .collect()
    }

    /// The latest value of output port `"engine.port"`: what the engine sent at the end of the last
    /// step it finished (a spike or event port: that step's batch), or at t = 0 before its first step.
    pub fn output(&self, port: &str) -> Result<&Payload, RunError> {
        let (e, p) = self.locate(port)?;
        self.coord.latest[e]
            .iter()
            .find(|d| usize::from(d.port) == p)
            .map(|d| &d.payload)
            .ok_or_else(|| {
                RunError::NoSuchPort(format!(
                    "output port \"{port}\": the engine has not sent it yet"
                ))
            })
    }

    /// Keeps every step's value of output port `"engine.port"` from now on (a spike or event port:
    /// every batch, where [`Run::output`] gives only the last step's), up to `capacity` values (the
    /// oldest are dropped), until [`Run::take_tapped`] takes them. A copy of each value, made as the
    /// coordinator takes the outputs in; recordings and lockstep are unchanged. Tapping a port again
    /// only changes its capacity.
    pub fn tap(&mut self, port: &str, capacity: usize) -> Result<(), RunError> {
        let (e, p) = self.locate(port)?;
        let port = u16::try_from(p).map_err(|_| RunError::NoSuchPort(port.into()))?;
        let taps = &mut self.coord.taps[e];
        match taps.iter_mut().find(|t| t.port == port) {
            Some(t) => t.capacity = capacity.max(1),
            None => taps.push(coordinator::Tap {
                port,
                capacity: capacity.max(1),
                values: std::collections::VecDeque::new(),
            }),
        }
        Ok(())
    }

    /// The values of tapped port `"engine.port"` since the last call, oldest first, each with the
    /// simulated time (ms, in this episode) at the end of the step that sent it.
    pub fn take_tapped(&mut self, port: &str) -> Result<Vec<(f64, Payload)>, RunError> {
        let (e, p) = self.locate(port)?;
        let dt = self.coord.exp.base_step_ms;
        let tap = self.coord.taps[e]
            .iter_mut()
            .find(|t| usize::from(t.port) == p)
            .ok_or_else(|| RunError::NoSuchPort(format!("output port \"{port}\" is not tapped")))?;
        Ok(tap
            .values
            .drain(..)
            .map(|(s, v)| (s.to_ms(dt), v))
            .collect())
    }

    /// The engine index and port index of output port `"engine.port"`.
    fn locate(&self, port: &str) -> Result<(usize, usize), RunError> {
        let c = &self.coord;
        let no = |why: String| RunError::NoSuchPort(format!("output port \"{port}\": {why}"));
        let (engine, name) = port
            .split_once('.')
            .ok_or_else(|| no("expected \"engine.port\"".into()))?;
        let e = c
            .engines
            .iter()
            .position(|s| s.name == engine)
            .ok_or_else(|| no(format!("no engine \"{engine}\" in this run")))?;
        let p = c.engines[e]
            .ports
            .iter()
            .position(|s| s.name == name && s.direction == Direction::Output)
            .ok_or_else(|| {
                let outs: Vec<&str> = c.engines[e]
                    .ports
                    .iter()
                    .filter(|s| s.direction == Direction::Output)
                    .map(|s| s.name.as_str())
                    .collect();
                no(format!("engine \"{engine}\" has the output ports {outs:?}"))
            })?;
        Ok((e, p))
    }

    /// Stops every engine, finishes the recordings and writes `manifest.json` (with the error of a
    /// failed [`Run::advance`], if there was one); returns the report.
    pub fn stop(mut self) -> RunReport {
        let c = &mut self.coord;
        c.stop(self.failure.as_ref().map(|f| f.message.as_str()));
        c.fill_report(&mut self.report, self.keep_step_times);
        if let Some(rec) = c.recorder.take() {
            let (files, err) = rec.finish_all();
            self.report.recordings = files
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            if let Some(err) = err {
                tracing::error!("finishing the recordings failed: {err}");
            }
        }
        write_manifest(
            &c.exp,
            &self.report,
            self.report.run_dir.as_ref(),
            &self.started_utc,
            self.failure.as_ref(),
            false,
        );
        if let Some(dir) = &self.report.run_dir {
            let _ = std::fs::remove_file(dir.join(LOCK_FILE));
        }
        self.report
    }
}

/// The lock file a run keeps in its run folder while it runs.
const LOCK_FILE: &str = ".neuroloop.lock";

/// Creates the run folder, or takes an existing empty one, and locks it for this run: a folder that
/// holds anything (another run's files, or its lock while it runs) is refused, so that two runs never
/// write into one folder.
fn claim_folder(dir: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| RunError::Setup(format!("cannot create run folder {}: {e}", dir.display())))?;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| RunError::Setup(format!("cannot read run folder {}: {e}", dir.display())))?;
    let names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.iter().any(|n| n == LOCK_FILE) {
        return Err(RunError::Folder(format!(
            "run folder {} is in use by another run (it holds {LOCK_FILE}; if no run is using it, its run crashed: choose another folder)",
            dir.display()
        )));
    }
    if !names.is_empty() {
        let mut shown = names.clone();
        shown.sort();
        shown.truncate(3);
        return Err(RunError::Folder(format!(
            "run folder {} is not empty (it holds {}{}): give a new or empty folder",
            dir.display(),
            shown.join(", "),
            if names.len() > 3 { ", ..." } else { "" }
        )));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join(LOCK_FILE))
        .map(|_| ())
        .map_err(|e| {
            RunError::Folder(format!(
                "run folder {} is in use by another run (cannot create its lock file: {e})",
                dir.display()
            ))
        })
}

/// Finishes the run folder of a run whose coordinator died (killed, crashed: its manifest still says
/// `running`, its recordings are part files under `.parts/`): merges every recording's parts into its
/// usual file, marks the manifest `error` with what happened, and removes the lock. Returns the
/// recordings it merged. A folder whose run finished is left as it is (an error says so).
pub fn recover(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut m = neuroloop_record::Manifest::read(dir).map_err(|e| e.to_string())?;
    if m.exit_status != neuroloop_record::ExitStatus::Running {
        return Err(format!(
            "{}: the run ended ({:?}): nothing to recover",
            dir.display(),
            m.exit_status
        ));
    }
    let parts = dir.join(neuroloop_record::PARTS_DIR);
    let mut labels: Vec<String> = match std::fs::read_dir(&parts) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    labels.sort();
    let (mut merged, mut unflushed) = (Vec::new(), Vec::new());
    for label in &labels {
        match neuroloop_record::recover_parts(dir, label).map_err(|e| e.to_string())? {
            Some(path) => merged.push(path),
            None => unflushed.push(label.clone()),
        }
    }
    for p in &merged {
        if let Some(name) = p.file_name().map(|n| n.to_string_lossy().into_owned()) {
            if !m.recordings.contains(&name) {
                m.recordings.push(name);
            }
        }
    }
    m.exit_status = neuroloop_record::ExitStatus::Error;
    let mut error = "the coordinator stopped without finishing the run (killed or crashed); its recordings were merged from their parts by `neuroloop recover` (the rows up to the last flush, about a second before)".to_string();
    if !unflushed.is_empty() {
        error.push_str(&format!(
            "; no rows of {} had been flushed",
            unflushed.join(", ")
        ));
    }
    m.error = Some(error);
    m.ended_utc = neuroloop_record::utc_now_rfc3339();
    m.write(dir).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(dir.join(LOCK_FILE));
    Ok(merged)
}

/// The run seed of episode `episode` of a run with seed `run_seed`: the run seed itself for episode 0,
/// then derived from it and the episode index. Every engine and link seed of the episode is derived
/// from it as the first episode's are from the run seed (a seed set in the file stays as it is).
pub fn episode_seed(run_seed: u64, episode: u32) -> u64 {
    if episode == 0 {
        run_seed
    } else {
        neuroloop_core::seed::derive_seed(run_seed, &format!("episode {episode}"))
    }
}

/// Runs an experiment to its end: [`Run::start`], [`Run::advance`] to the end, [`Run::stop`].
/// Recordings and the manifest are written whatever happens; the error, if any, is returned with the
/// report of what was done.
pub fn run(exp: &Experiment, opts: &RunOptions) -> (RunReport, Option<RunError>) {
    let mut r = match Run::start(exp.clone(), opts.clone()) {
        Ok(r) => r,
        Err(f) => return (f.report, Some(f.error)),
    };
    let error = r.advance(u64::MAX).err();
    (r.stop(), error)
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
