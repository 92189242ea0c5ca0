//! `neuroloop`: the command line. Glue only: experiment files come from `neuroloop_core::experiment`,
//! runs are driven by the run library `neuroloop_run`, engines are served by `neuroloop_transport::serve`.
//!
//! Exit codes: 0 success, 1 a run failed, 2 an experiment file or the command line is wrong,
//! 130 interrupted. `check` (and `run --check`): 0 every expected result passes, 1 one fails, 2 the
//! run folder or an expectation cannot be measured. `report`: 0 written, 1 cannot be written, 2 the
//! folder is not a usable run folder.

mod bench;
mod control;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use neuroloop::{catalog, check, report, view};
use neuroloop_core::experiment;
use neuroloop_run::{Run, RunError, RunOptions, RunReport};

/// Closed-loop neurorobotics: run experiments of engines in lockstep simulated time over zenoh.
#[derive(Parser, Debug)]
#[command(name = "neuroloop", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an experiment file: start its engines, step them in lockstep, record, summarize.
    Run {
        /// The experiment file (TOML).
        file: PathBuf,
        /// Override a key of the file, e.g. `--set engines.brain.seed=3` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Pace simulated time to the wall clock (overrides run.realtime).
        #[arg(long)]
        realtime: bool,
        /// Write the run into exactly this folder (default: run.output_dir/<name>-<time>-<id>).
        #[arg(long, value_name = "DIR")]
        output: Option<PathBuf>,
        /// Use this run id (zenoh key namespace) instead of a random one.
        #[arg(long)]
        run_id: Option<String>,
        /// No progress bar and no summary.
        #[arg(long, short)]
        quiet: bool,
        /// After the run, check the expected results (`[[expect]]`) and exit 1 if one fails, 2 if one
        /// cannot be measured (without it they are printed, unless --quiet, and do not change the exit
        /// code).
        #[arg(long)]
        check: bool,
        /// After the run, write report.html into its run folder (also after a failed or interrupted
        /// run; see `neuroloop report`).
        #[arg(long)]
        report: bool,
        /// Serve a live view of the run on localhost (the address is printed): the arm and joystick
        /// in 3D, a spike raster, the event-camera frame, trials and success rate, the real-time
        /// factor. It samples between steps and never changes what the run records.
        #[arg(long)]
        view: bool,
    },
    /// Write RUN_DIR/report.html: the expected results, figures of what the run folder holds (task,
    /// spike rasters and rates, afferents, camera frames, signals, timings) and the manifest; figure
    /// files in RUN_DIR/report/. Works on failed or interrupted runs (the page says what is missing).
    /// Exit 0 written, 1 cannot be written, 2 not a usable run folder.
    Report {
        /// The run folder (holds manifest.json and the recordings).
        run_dir: PathBuf,
    },
    /// Measure the expected results (`[[expect]]`) of the experiment run in RUN_DIR from its
    /// recordings; print each with its value and bound. Exit 0 all pass, 1 one fails, 2 bad input.
    Check {
        /// The run folder (holds manifest.json and the recordings).
        run_dir: PathBuf,
    },
    /// Finish the run folder of a run whose coordinator died (its manifest says `running`): merge each
    /// recording's part files into its usual file and mark the manifest `error`. Exit 2 if RUN_DIR is
    /// not such a folder.
    Recover {
        /// The run folder.
        run_dir: PathBuf,
    },
    /// Export a run folder to another format.
    Export {
        #[command(subcommand)]
        format: ExportFormat,
    },
    /// Check an experiment file and report every problem with its line and key.
    Validate {
        /// The experiment file (TOML).
        file: PathBuf,
        /// Override a key of the file (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Serve one built-in engine as a process of a run (what `run` starts for each built-in engine; use
    /// it to start an engine by hand for an experiment that marks it `external = true`).
    Engine {
        /// Built-in engine kind (see `neuroloop engines`).
        kind: String,
        /// Run id (default: $NEUROLOOP_RUN_ID).
        #[arg(long)]
        run_id: Option<String>,
        /// Engine name in the experiment (default: $NEUROLOOP_ENGINE).
        #[arg(long)]
        name: Option<String>,
        /// Coordinator endpoint (default: $NEUROLOOP_CONNECT).
        #[arg(long)]
        connect: Option<String>,
    },
    /// Serve runs to another process over zenoh (start, advance, read, reset, stop: JSON requests as
    /// zenoh queries on neuroloop/control/ID; see docs/protocol.md). Prints one JSON line with the key
    /// and the endpoint to connect to, then serves until a `quit` request or Ctrl-C.
    Control {
        /// The server's id (part of its key: neuroloop/control/ID).
        #[arg(long)]
        id: String,
        /// The zenoh endpoint to listen on (default: a free loopback TCP port).
        #[arg(long)]
        listen: Option<String>,
    },
    /// List the built-in engines and their ports (with default configuration).
    Engines,
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        which: bench::Which,
    },
    /// The raw zenoh echo peer of `bench coupling` (internal).
    #[command(hide = true)]
    BenchPong {
        #[arg(long)]
        run_id: String,
        #[arg(long)]
        connect: String,
    },
}

fn main() -> ExitCode {
    // Before any thread starts (see the function).
    neuroloop_transport::use_runtime_layout();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            file,
            overrides,
            realtime,
            output,
            run_id,
            quiet,
            check,
            report,
            view,
        } => cmd_run(
            &file,
            &overrides,
            realtime,
            output,
            run_id,
            RunFlags {
                quiet,
                check,
                report,
                view,
            },
        ),
        Command::Check { run_dir } => ExitCode::from(check::check(&run_dir).code()),
        Command::Export {
            format: ExportFormat::Nwb { run_dir, output },
        } => export_nwb(&run_dir, output.as_deref()),
        Command::Report { run_dir } => match write_report(&run_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => ExitCode::from(code),
        },
        Command::Recover { run_dir } => match neuroloop_run::recover(&run_dir) {
            Ok(files) => {
                for f in &files {
                    eprintln!("merged {}", f.display());
                }
                eprintln!(
                    "{}: recovered; manifest.json says how the run ended",
                    run_dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Validate { file, overrides } => {
            match experiment::load_with_warnings(&file, &overrides, &catalog::Builtins) {
                Ok((exp, _)) if check::trial_error(&exp).is_some() => {
                    eprintln!("{}", check::trial_error(&exp).expect("checked"));
                    ExitCode::from(2)
                }
                Ok((exp, warnings)) => {
                    for w in &warnings {
                        let sep = if w.line.is_some() { ":" } else { ": " };
                        eprintln!("warning: {}{sep}{w}", file.display());
                    }
                    println!(
                        "{}: ok ({} engines, {} links, {} recorded ports, {} ms in steps of {} ms)",
                        file.display(),
                        exp.engines.len(),
                        exp.links.len(),
                        exp.record.len(),
                        exp.duration.to_ms(exp.base_step_ms),
                        exp.base_step_ms
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Engine {
            kind,
            run_id,
            name,
            connect,
        } => cmd_engine(&kind, run_id, name, connect),
        Command::Control { id, listen } => {
            let interrupt = Arc::new(AtomicBool::new(false));
            watch_signals(interrupt.clone());
            control::serve(&id, listen, interrupt)
        }
        Command::Engines => cmd_engines(),
        Command::Bench { which } => match bench::run(which) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::BenchPong { run_id, connect } => match bench::pong(&run_id, &connect) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Sets `flag` on Ctrl-C or SIGTERM (tokio's signal handling, on a small background runtime).
fn watch_signals(flag: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            flag.store(true, Ordering::SeqCst);
        });
    });
}

/// Writes the report of `run_dir`, printing where (stderr) and what is missing; the exit code when it
/// cannot be written.
fn write_report(run_dir: &std::path::Path) -> Result<(), u8> {
    match report::write(run_dir, &report::Limits::default()) {
        Ok(w) => {
            for p in &w.problems {
                eprintln!("report: {p}");
            }
            eprintln!(
                "report: {} ({} figures in {})",
                w.html.display(),
                w.figures.len(),
                run_dir.join(report::FIGURES_DIR).display()
            );
            write_summary(run_dir);
            Ok(())
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(e.exit_code())
        }
    }
}

/// Writes the run folder's `summary.txt`; a failure is printed, not fatal.
fn write_summary(run_dir: &std::path::Path) {
    if let Err(e) = report::write_summary(run_dir) {
        eprintln!("warning: no {}: {e}", report::SUMMARY_FILE);
    }
}

/// Counts the trials and rewarded trials of a body engine's trial records (JSON Lines) as the file
/// grows, reading only what was appended since the last call.
struct TrialCounter {
    path: PathBuf,
    read: u64,
    partial: Vec<u8>,
    trials: usize,
    successes: usize,
}

impl TrialCounter {
    fn new(path: PathBuf) -> Self {
        TrialCounter {
            path,
            read: 0,
            partial: Vec::new(),
            trials: 0,
            successes: 0,
        }
    }

    /// Reads the lines appended since the last call (a missing file counts as empty).
    fn poll(&mut self) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.read)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        let Ok(n) = f.read_to_end(&mut buf) else {
            return;
        };
        self.read += n as u64;
        self.partial.extend_from_slice(&buf);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            self.trials += 1;
            if v.get("outcome").and_then(|o| o.as_str()) == Some("success") {
                self.successes += 1;
            }
        }
    }

    /// `N trials, S % rewarded`, or nothing before the first trial ends.
    fn message(&self) -> String {
        if self.trials == 0 {
            return String::new();
        }
        format!(
            ", {} trials, {:.0} % rewarded",
            self.trials,
            100.0 * self.successes as f64 / self.trials as f64
        )
    }
}

/// The switches of `run` that decide what happens around the run.
struct RunFlags {
    quiet: bool,
    check: bool,
    report: bool,
    view: bool,
}

fn cmd_run(
    file: &std::path::Path,
    overrides: &[String],
    realtime: bool,
    output: Option<PathBuf>,
    run_id: Option<String>,
    flags: RunFlags,
) -> ExitCode {
    let RunFlags {
        quiet,
        check: check_after,
        report: report_after,
        view: live_view,
    } = flags;
    let exp = match experiment::load(file, overrides, &catalog::Builtins) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(e) = check::trial_error(&exp) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    if let Some(id) = &run_id {
        if !neuroloop_transport::keys::valid_run_id(id) {
            eprintln!("error: --run-id {id:?} must match [A-Za-z0-9_-]+");
            return ExitCode::from(2);
        }
    }
    let interrupt = Arc::new(AtomicBool::new(false));
    watch_signals(interrupt.clone());
    let opts = RunOptions {
        run_dir: output,
        run_id,
        interrupt,
        realtime: realtime.then_some(true),
        ..Default::default()
    };
    // The view's server lives until the command ends, so that the page shows the run's end.
    let server = if live_view {
        match view::Server::start() {
            Ok(s) => {
                eprintln!("live view: {}", s.url());
                Some(s)
            }
            Err(e) => {
                eprintln!("error: cannot serve the live view: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let (report, error) = run_with_progress(&exp, opts, !quiet, server.as_ref());
    // A run that never started has nothing to summarize.
    let never_started = error.is_some() && report.steps == 0;
    if !quiet && !never_started {
        print_summary(&exp, &report);
    }
    if let Some(dir) = &report.run_dir {
        eprintln!("run folder: {}", dir.display());
    }
    let code = run_exit(&exp, &report, error, quiet, check_after);
    let report_failed = match (&report.run_dir, report_after) {
        (Some(dir), true) => write_report(dir).err(),
        (None, true) => {
            eprintln!("error: --report needs a run folder, and this run wrote none");
            Some(2)
        }
        (Some(dir), false) => {
            write_summary(dir);
            None
        }
        (None, false) => None,
    };
    match report_failed {
        Some(c) if code == ExitCode::SUCCESS => ExitCode::from(c),
        _ => code,
    }
}

/// The exit code of `run` (and the check after it).
fn run_exit(
    exp: &experiment::Experiment,
    report: &RunReport,
    error: Option<RunError>,
    quiet: bool,
    check_after: bool,
) -> ExitCode {
    match error {
        None => match &report.run_dir {
            Some(dir) if check_after || (!quiet && !exp.expect.is_empty()) => {
                let outcome = check::check(dir);
                if check_after {
                    ExitCode::from(outcome.code())
                } else {
                    ExitCode::SUCCESS
                }
            }
            None if check_after => {
                eprintln!("error: --check needs a run folder, and this run wrote none");
                ExitCode::from(2)
            }
            _ => ExitCode::SUCCESS,
        },
        Some(RunError::Interrupted) => {
            eprintln!(
                "interrupted at {} ms; recordings are finalized",
                report.sim_ms
            );
            ExitCode::from(130)
        }
        Some(e @ (RunError::Ports(_) | RunError::Folder(_))) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        // A wrong zenoh setting (a TLS file that cannot be used, an endpoint that is not TLS).
        Some(e @ RunError::Transport(neuroloop_transport::TransportError::Setting(_))) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Some(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `exp` to its end on the run library, with a progress bar on a terminal unless `progress` is
/// false, and the live view's snapshots published to `view` (between two `advance` calls, at most
/// every 100 ms of wall time).
fn run_with_progress(
    exp: &experiment::Experiment,
    opts: RunOptions,
    progress: bool,
    view: Option<&view::Server>,
) -> (RunReport, Option<RunError>) {
    let mut run = match Run::start(exp.clone(), opts) {
        Ok(r) => r,
        Err(f) => return (f.report, Some(f.error)),
    };
    let bar = (progress && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(exp.duration.0);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% {msg} (ETA {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let mut sampler = view.map(|_| view::Sampler::new(&mut run));
    // The first body engine's trial records, counted for the progress bar and the view.
    let mut trials = (bar.is_some() || view.is_some())
        .then(|| {
            let dir = run.run_dir()?;
            let (_, source) = check::trial_sources(exp, dir).into_iter().next()?;
            Some(TrialCounter::new(source.path))
        })
        .flatten();
    let (start, mut last_ui, mut last_view) = (Instant::now(), Instant::now(), None::<Instant>);
    let mut error = None;
    let publish = |run: &mut Run,
                   sampler: &mut view::Sampler,
                   trials: &mut Option<TrialCounter>,
                   error: Option<&RunError>,
                   ended: bool| {
        let rtf = run.time_ms() * 1e-3 / start.elapsed().as_secs_f64().max(1e-9);
        let (n, ok) = trials.as_mut().map_or((0, 0), |t| {
            t.poll();
            (t.trials, t.successes)
        });
        let p = view::Progress {
            realtime_factor: rtf,
            trials: n,
            successes: ok,
            ended,
            error: error.map(|e| e.to_string()),
        };
        sampler.sample(run, &p)
    };
    while !run.finished() {
        if let Err(e) = run.advance(64) {
            error = Some(e);
            break;
        }
        if let (Some(server), Some(sampler)) = (view, sampler.as_mut()) {
            if last_view.is_none_or(|t| t.elapsed() > Duration::from_millis(100)) {
                last_view = Some(Instant::now());
                server.publish(publish(&mut run, sampler, &mut trials, None, false));
            }
        }
        if let Some(pb) = &bar {
            let now = Instant::now();
            if now.duration_since(last_ui) > Duration::from_millis(200) {
                last_ui = now;
                let sim_s = run.time_ms() * 1e-3;
                let rtf = sim_s / now.duration_since(start).as_secs_f64().max(1e-9);
                pb.set_position(run.steps());
                let trial_text = trials.as_mut().map_or(String::new(), |t| {
                    t.poll();
                    t.message()
                });
                pb.set_message(format!(
                    "{sim_s:.2} s simulated, {rtf:.2}x real time{trial_text}"
                ));
            }
        }
    }
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    if let (Some(server), Some(sampler)) = (view, sampler.as_mut()) {
        server.publish(publish(
            &mut run,
            sampler,
            &mut trials,
            error.as_ref(),
            true,
        ));
    }
    (run.stop(), error)
}

fn print_summary(exp: &experiment::Experiment, r: &RunReport) {
    println!(
        "{}: {} ms simulated in {:.3} s wall ({:.2}x real time), {} base steps of {} ms",
        exp.name, r.sim_ms, r.wall_s, r.realtime_factor, r.steps, exp.base_step_ms
    );
    if r.window_steps > 1 {
        println!(
            "coupling overhead per exchange (every {} ms, the links' shortest delay): p50 {:.1} us, p99 {:.1} us; {:.3} s in all",
            f64::from(r.window_steps) * exp.base_step_ms,
            r.overhead_p50_us,
            r.overhead_p99_us,
            r.coupling_s
        );
    } else {
        println!(
            "coupling overhead per step: p50 {:.1} us, p99 {:.1} us; {:.3} s in all",
            r.overhead_p50_us, r.overhead_p99_us, r.coupling_s
        );
    }
    if r.realtime {
        println!(
            "paced to the wall clock: {} of {} steps started more than one base step late",
            r.late_steps, r.steps
        );
    }
    println!(
        "{:<16} {:>8} {:>8} {:>12} {:>12} {:>12}",
        "engine", "step ms", "steps", "compute s", "p50 us", "p99 us"
    );
    for e in &r.engines {
        println!(
            "{:<16} {:>8} {:>8} {:>12.4} {:>12.1} {:>12.1}",
            e.name,
            e.period_steps as f64 * exp.base_step_ms,
            e.steps,
            e.compute_s,
            e.compute_p50_us,
            e.compute_p99_us
        );
    }
    if !r.recordings.is_empty() {
        println!("recorded: {}", r.recordings.join(", "));
    }
}

fn cmd_engine(
    kind: &str,
    run_id: Option<String>,
    name: Option<String>,
    connect: Option<String>,
) -> ExitCode {
    let Some(builtin) = catalog::builtin(kind) else {
        eprintln!(
            "error: no built-in engine {kind:?} (built-in: {})",
            catalog::names().join(", ")
        );
        return ExitCode::from(2);
    };
    let env = |k: &str| std::env::var(k).ok();
    let link = match neuroloop_transport::LinkOptions::from_env() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let args = neuroloop_transport::EngineArgs {
        run_id: run_id
            .or_else(|| env("NEUROLOOP_RUN_ID"))
            .unwrap_or_default(),
        name: name.or_else(|| env("NEUROLOOP_ENGINE")).unwrap_or_default(),
        connect: connect
            .or_else(|| env("NEUROLOOP_CONNECT"))
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        join_timeout: std::time::Duration::from_secs(60),
        lowlatency: link.lowlatency,
        lease_ms: link.lease_ms,
        tls: link.tls,
    };
    // Ctrl-C in a terminal: the coordinator stops the run; the engine follows its Shutdown.
    match neuroloop_transport::serve(&args, |ctx| builtin.construct(ctx)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("engine {}: {e}", args.name);
            match e {
                neuroloop_transport::TransportError::CoordinatorGone(_) => {
                    ExitCode::from(neuroloop_transport::EXIT_COORDINATOR_GONE)
                }
                // A wrong setting (run id, name, TLS file): exit 2, as for a wrong command line.
                neuroloop_transport::TransportError::Setting(_) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn cmd_engines() -> ExitCode {
    for kind in catalog::names() {
        let ctx = neuroloop_core::engine::InitContext {
            name: kind.to_string(),
            config: catalog::sample_config(kind),
            seed: 0,
            base_step_ms: 1.0,
            period: 1,
            episode: 0,
        };
        let builtin = catalog::builtin(kind).expect("listed");
        match (builtin.resolve)(&ctx) {
            Ok(resolved) => {
                println!("{kind}");
                for p in resolved.ports() {
                    let d = if p.direction == neuroloop_core::port::Direction::Input {
                        "in "
                    } else {
                        "out"
                    };
                    let detail = match &p.kind {
                        neuroloop_core::port::PortKind::Analog { channels } => {
                            let c: Vec<String> = channels
                                .iter()
                                .map(|c| format!("{} [{}]", c.name, c.unit))
                                .collect();
                            format!("analog: {}", c.join(", "))
                        }
                        k => k.describe(),
                    };
                    println!("  {d} {:<12} {detail}", p.name);
                }
            }
            Err(e) => println!("{kind}: {e}"),
        }
    }
    ExitCode::SUCCESS
}

/// Formats of `neuroloop export`.
#[derive(Subcommand, Debug)]
enum ExportFormat {
    /// Write an NWB 2.x file (pynwb in the project's virtual environment, `scripts/setup_python.sh`):
    /// brain spikes as units with population and group, trajectories, the trials table, task and
    /// reward events. Exit 0 written, 2 bad input (not a run folder, a broken file), 3 pynwb missing.
    Nwb {
        /// The run folder.
        run_dir: PathBuf,
        /// The file to write (default: RUN_DIR/run.nwb).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// Runs `python -m neuroloop.nwb` (bridges/python/neuroloop/nwb.py) with the project's Python
/// ($NEUROLOOP_PYTHON, else the repository's .venv) and passes its exit status on.
fn export_nwb(run_dir: &std::path::Path, output: Option<&std::path::Path>) -> ExitCode {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var_os("NEUROLOOP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    if !python.exists() {
        eprintln!(
            "error: {} not found: run scripts/setup_python.sh first (or set NEUROLOOP_PYTHON)",
            python.display()
        );
        return ExitCode::from(3);
    }
    let mut cmd = std::process::Command::new(&python);
    cmd.args(["-m", "neuroloop.nwb"]).arg(run_dir);
    if let Some(o) = output {
        cmd.arg("--output").arg(o);
    }
    let mut path = std::ffi::OsString::from(root.join("bridges/python"));
    if let Some(old) = std::env::var_os("PYTHONPATH") {
        path.push(":");
        path.push(old);
    }
    cmd.env("PYTHONPATH", path);
    match cmd.status() {
        Ok(s) => ExitCode::from(s.code().map_or(1, |c| u8::try_from(c).unwrap_or(1))),
        Err(e) => {
            eprintln!("error: cannot start {}: {e}", python.display());
            ExitCode::from(3)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_are_counted_as_the_file_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body.trials.jsonl");
        let mut c = TrialCounter::new(path.clone());
        c.poll();
        assert_eq!(c.message(), "");
        std::fs::write(&path, "{\"outcome\":\"success\"}\n{\"outcome\":\"time").unwrap();
        c.poll();
        assert_eq!((c.trials, c.successes), (1, 1));
        // The rest of the half-written line arrives.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, b"out\"}\n").unwrap();
        c.poll();
        assert_eq!((c.trials, c.successes), (2, 1));
        assert_eq!(c.message(), ", 2 trials, 50 % rewarded");
    }
}
