//! The run report (timings, coupling overhead, what was recorded) and the run folder's
//! `manifest.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use neuroloop_core::experiment::Experiment;
use neuroloop_core::wire;
use neuroloop_record::{EngineTiming, ExitStatus as RunExit, Manifest};

use crate::coordinator::Coordinator;
use crate::RunError;

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
    /// The exchange window in base steps (1: an exchange at every step).
    pub window_steps: u32,
    /// Coupling overhead of the whole run (wall time of the rounds minus their slowest engine's
    /// compute), s.
    pub coupling_s: f64,
    /// Coupling overhead per exchange round (per base step without windows), p50 and p99, in us.
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

/// How a run failed, as the manifest keeps it.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    /// Stopped by Ctrl-C or a termination signal.
    pub interrupted: bool,
    /// The error text.
    pub message: String,
}

impl From<&RunError> for Failure {
    fn from(e: &RunError) -> Self {
        Failure {
            interrupted: matches!(e, RunError::Interrupted),
            message: e.to_string(),
        }
    }
}

impl Coordinator {
    pub(crate) fn fill_report(&self, r: &mut RunReport, keep_step_times: bool) {
        // Every episode's steps (one episode unless the run was reset).
        r.steps = self.steps_before + self.reached.0;
        r.sim_ms = r.steps as f64 * self.exp.base_step_ms;
        r.wall_s = self.wall_s;
        r.realtime_factor = if self.wall_s > 0.0 {
            r.sim_ms * 1e-3 / self.wall_s
        } else {
            f64::NAN
        };
        r.window_steps = self.lockstep.as_ref().map_or(1, |l| l.window());
        r.coupling_s = self.overhead.sum_s();
        let (p50, p99) = self.overhead.p50_p99_us();
        r.overhead_p50_us = p50;
        r.overhead_p99_us = p99;
        let (w50, w99) = self.step_wall.p50_p99_us();
        r.step_wall_p50_us = w50;
        r.step_wall_p99_us = w99;
        r.late_steps = self.late_steps;
        r.realtime = self.realtime;
        if keep_step_times {
            r.overhead_ns = self.overhead_ns.clone().unwrap_or_default();
        }
        r.engines = self
            .engines
            .iter()
            .zip(&self.exp.engines)
            .map(|(e, spec)| {
                let (p50, p99) = e.compute.p50_p99_us();
                EngineTiming {
                    name: e.name.clone(),
                    kind: e.kind.clone(),
                    period_steps: u64::from(spec.period),
                    steps: e.compute.count(),
                    compute_s: e.compute.sum_s(),
                    compute_p50_us: p50,
                    compute_p99_us: p99,
                    exit: e.exit.clone(),
                }
            })
            .collect();
    }
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

/// Writes `manifest.json` into the run folder (if any): what ran, with which seed and versions, how it
/// ended (`failure`: interrupted or not, and the error text; `running`: the manifest written at the
/// start, which a coordinator that dies leaves behind) and the report's figures.
pub(crate) fn write_manifest(
    exp: &Experiment,
    r: &RunReport,
    dir: Option<&PathBuf>,
    started_utc: &str,
    failure: Option<&Failure>,
    running: bool,
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
        ended_utc: if running {
            String::new()
        } else {
            neuroloop_record::utc_now_rfc3339()
        },
        exit_status: match failure {
            None if running => RunExit::Running,
            None => RunExit::Ok,
            Some(f) if f.interrupted => RunExit::Interrupted,
            Some(_) => RunExit::Error,
        },
        error: failure.map(|f| f.message.clone()),
        duration_ms: r.sim_ms,
        steps: r.steps,
        wall_s: r.wall_s,
        realtime_factor: r.realtime_factor,
        engines: r.engines.clone(),
        coupling_overhead_p50_us: r.overhead_p50_us,
        coupling_overhead_p99_us: r.overhead_p99_us,
        coupling_s: r.coupling_s,
        exchange_window_ms: f64::from(r.window_steps) * exp.base_step_ms,
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
