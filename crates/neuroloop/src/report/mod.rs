//! `neuroloop report RUN_DIR`: turns a run folder into `report.html`, one page a person can open in
//! a browser, with the figures of what the folder holds. Its one job is presentation: the expected
//! results come from [`crate::check::evaluate`] (the numbers `neuroloop check` prints), the data from
//! `neuroloop_record`.
//!
//! The page, top to bottom: the run's status and what is missing or broken; the expected results;
//! the task (learning curve, lateral displacement per trial beside Mathis et al. 2017, trajectories
//! per block) for each body engine with trial records; spike rasters and population rates of each
//! spike recording (populations and groups from `<engine>.neurons.json`, afferents from
//! `<engine>.afferents.json`); event-camera frames; the other recorded signals; per-engine compute,
//! coupling and the real-time factor; the manifest (seed, commit, versions, host, experiment text).
//!
//! Figures are SVG (drawn by [`svg`], text left to the browser's fonts) and PNG (the camera frames,
//! and the raster's spikes, a pixel image inside its SVG figure). Each is written to `report/` beside
//! `report.html` and also embedded in the page (inline SVG, base64 PNG), so the page is one
//! self-contained file. Only what exists is drawn; large recordings are read chunk by chunk and cut to
//! [`Limits`] (the page says what was cut). Nothing in a broken file panics: its section names the file
//! and says what is wrong, and the rest of the page is written.

pub mod signals;
pub mod spikes;
pub mod svg;
pub mod task;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use neuroloop_core::experiment::{EngineKind, Experiment};
use neuroloop_record::{ExitStatus, Manifest, RecordedData, Recording, MANIFEST_FILE, PARTS_DIR};

use crate::check::{self, fmt_value, Status, LEARNING_BLOCK};
use svg::esc;

/// File name of the page in the run folder.
pub const REPORT_FILE: &str = "report.html";
/// Folder of the figure files, beside the page.
pub const FIGURES_DIR: &str = "report";

/// How much of a large run is drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Neurons shown per population in a raster (every k-th; default 200).
    pub neurons_per_population: usize,
    /// Raster rows in all, shared among the populations of a port (default 1200).
    pub raster_rows: usize,
    /// The raster shows the last this many ms of the run (default 2000).
    pub raster_window_ms: f64,
    /// Raster columns (pixels over the window; default 1000).
    pub raster_columns: usize,
    /// Rate bins over the run (default 400), each at least `min_rate_bin_ms` (default 10 ms).
    pub rate_bins: usize,
    /// See `rate_bins`.
    pub min_rate_bin_ms: f64,
    /// Bins of an analog signal over the run (default 600).
    pub signal_bins: usize,
    /// Channels drawn of an analog recording (default 8).
    pub channels: usize,
    /// Camera frames over the run (default 6).
    pub camera_frames: usize,
    /// Trajectories drawn per block (default 30).
    pub trajectories_per_block: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            neurons_per_population: 200,
            raster_rows: 1200,
            raster_window_ms: 2000.0,
            raster_columns: 1000,
            rate_bins: 400,
            min_rate_bin_ms: 10.0,
            signal_bins: 600,
            channels: 8,
            camera_frames: 6,
            trajectories_per_block: 30,
        }
    }
}

/// Why no report could be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The folder is not a run folder (missing, no manifest, a manifest that cannot be read).
    #[error("{path}: not a usable run folder: {reason}")]
    NotARunFolder {
        /// The folder.
        path: PathBuf,
        /// Why, naming the file.
        reason: String,
    },
    /// A file of the report could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ReportError {
    /// The exit code of `neuroloop report`: 2 for unusable input, 1 when writing failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReportError::NotARunFolder { .. } => 2,
            ReportError::Write { .. } => 1,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// The page.
    pub html: PathBuf,
    /// The figure files.
    pub figures: Vec<PathBuf>,
    /// What is missing or could not be read (also on the page).
    pub problems: Vec<String>,
}

/// One figure of the page.
struct Figure {
    /// File name without extension.
    name: String,
    caption: String,
    svg: Option<String>,
    png: Option<Vec<u8>>,
}

/// A section of the page: HTML fragments and figures, in order.
struct Section {
    title: String,
    parts: Vec<Part>,
}

enum Part {
    Html(String),
    Figure(Figure),
}

impl Section {
    fn new(title: &str) -> Self {
        Section {
            title: title.to_string(),
            parts: Vec::new(),
        }
    }
    fn html(&mut self, s: String) {
        self.parts.push(Part::Html(s));
    }
    fn note(&mut self, s: &str) {
        self.parts
            .push(Part::Html(format!("<p class=\"note\">{}</p>", esc(s))));
    }
    fn figure(&mut self, name: &str, caption: String, svg: Option<String>, png: Option<Vec<u8>>) {
        self.parts.push(Part::Figure(Figure {
            name: sanitize(name),
            caption,
            svg,
            png,
        }));
    }
}

/// A file name made of `[A-Za-z0-9._-]` only.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A recording of the folder: `<engine>.<port>.parquet`.
struct RecordingFile {
    engine: String,
    port: String,
    path: PathBuf,
}

/// Everything the sections read, gathered once.
struct Run {
    dir: PathBuf,
    manifest: Manifest,
    experiment: Result<Experiment, String>,
    t_end: f64,
    recordings: Vec<RecordingFile>,
    problems: Vec<String>,
}

/// Writes `report.html` and its figures into the run folder `dir`.
pub fn write(dir: &Path, limits: &Limits) -> Result<Written, ReportError> {
    let mut run = open(dir)?;
    let mut sections = Vec::new();
    sections.push(checks_section(&mut run));
    sections.extend(task_sections(&mut run, limits));
    sections.extend(spike_sections(&mut run, limits));
    sections.extend(camera_sections(&mut run, limits));
    sections.extend(signal_sections(&mut run, limits));
    sections.push(timing_section(&run));
    sections.push(manifest_section(&run));
    render(&run, sections)
}

/// File name of the run's short summary in the run folder.
pub const SUMMARY_FILE: &str = "summary.txt";

/// Writes `summary.txt` into the run folder `dir`: what ran, how it ended, the headline figures (trials
/// and success, the expected results, speed) and how to open the report. Returns its path.
pub fn write_summary(dir: &Path) -> Result<PathBuf, ReportError> {
    let run = open(dir)?;
    let m = &run.manifest;
    let mut t = String::new();
    let name = run
        .experiment
        .as_ref()
        .map(|e| e.name.clone())
        .unwrap_or_else(|_| "?".into());
    let _ = writeln!(t, "neuroloop run {} of experiment {name}", m.run_id);
    let _ = writeln!(
        t,
        "  file {}{}",
        m.experiment_file,
        if m.overrides.is_empty() {
            String::new()
        } else {
            format!(" with --set {}", m.overrides.join(" --set "))
        }
    );
    let _ = writeln!(
        t,
        "  seed {}, commit {}, host {}, started {}",
        m.seed,
        m.git_commit.as_deref().unwrap_or("unknown"),
        m.host,
        m.started_utc
    );
    let _ = writeln!(
        t,
        "status: {}{}",
        format!("{:?}", m.exit_status).to_lowercase(),
        m.error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        t,
        "speed: {} ms simulated in {:.1} s wall, {:.2}x real time; coupling overhead p50 {:.1} us {}",
        fmt_value(m.duration_ms),
        m.wall_s,
        m.realtime_factor,
        m.coupling_overhead_p50_us,
        per_exchange(m)
    );
    let engines: Vec<String> = m
        .engines
        .iter()
        .map(|e| {
            format!(
                "{} ({}, {:.1} us {} p50)",
                e.name,
                e.kind,
                e.compute_p50_us,
                per_exchange(m)
            )
        })
        .collect();
    let _ = writeln!(t, "engines: {}", engines.join(", "));
    match check::evaluate(dir) {
        Ok(c) => {
            for (engine, curve) in &c.learning_curves {
                if let Ok(blocks) = curve {
                    let n: usize = blocks.iter().map(|b| b.1).sum();
                    let ok: f64 = blocks.iter().map(|b| b.0 * b.1 as f64).sum();
                    let rates: Vec<String> = blocks.iter().map(|b| format!("{:.2}", b.0)).collect();
                    let _ = writeln!(
                        t,
                        "{engine}: {n} trials, {:.0} rewarded; success per {LEARNING_BLOCK} trials: {}",
                        ok,
                        rates.join(" ")
                    );
                }
            }
            if c.expectations.is_empty() {
                let _ = writeln!(t, "expected results: none stated");
            } else {
                let count = |st: Status| c.expectations.iter().filter(|e| e.status == st).count();
                let _ = writeln!(
                    t,
                    "expected results: {} pass, {} fail, {} cannot be measured",
                    count(Status::Pass),
                    count(Status::Fail),
                    count(Status::Error)
                );
                for e in &c.expectations {
                    let _ = writeln!(
                        t,
                        "  {:<5} {}: {} ({})",
                        e.status.word(),
                        e.name,
                        e.value.map(fmt_value).unwrap_or_else(|| "-".into()),
                        e.bounds
                    );
                }
            }
        }
        Err(e) => {
            let _ = writeln!(t, "expected results: cannot be measured: {e}");
        }
    }
    let _ = writeln!(t, "recordings: {}", m.recordings.join(", "));
    let report = dir.join(REPORT_FILE);
    if report.exists() {
        let _ = writeln!(
            t,
            "report: open {} in a browser (figures also in {}/)",
            report.display(),
            dir.join(FIGURES_DIR).display()
        );
    } else {
        let _ = writeln!(
            t,
            "report: not written; `neuroloop report {}` writes report.html here (or `neuroloop run --report`)",
            dir.display()
        );
    }
    let _ = writeln!(t, "check again: neuroloop check {}", dir.display());
    let path = dir.join(SUMMARY_FILE);
    std::fs::write(&path, t).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

fn open(dir: &Path) -> Result<Run, ReportError> {
    let bad = |reason: String| ReportError::NotARunFolder {
        path: dir.to_path_buf(),
        reason,
    };
    if !dir.is_dir() {
        return Err(bad("no such folder".into()));
    }
    if !dir.join(MANIFEST_FILE).exists() {
        return Err(bad(format!(
            "it has no {MANIFEST_FILE} (a run folder holds the manifest, the recordings and the trial records)"
        )));
    }
    let manifest = Manifest::read(dir).map_err(|e| bad(e.to_string()))?;
    let mut problems = Vec::new();
    let experiment = check::read_run(dir).map(|(_, e)| e);
    if let Err(e) = &experiment {
        problems.push(e.clone());
    }
    match manifest.exit_status {
        ExitStatus::Ok => {}
        ExitStatus::Running => problems.push(format!(
            "{}: the run never finished (status running: its coordinator was killed or crashed); `neuroloop recover {}` merges its recordings' parts and marks it failed",
            dir.join(MANIFEST_FILE).display(),
            dir.display()
        )),
        s => problems.push(format!(
            "the run ended with status {s:?}{}: everything below is what was recorded before it stopped",
            manifest.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
        )),
    }
    if dir.join(PARTS_DIR).exists() {
        problems.push(format!(
            "{} holds unmerged recording parts: run `neuroloop recover {}` to make them recordings",
            dir.join(PARTS_DIR).display(),
            dir.display()
        ));
    }
    let mut recordings = Vec::new();
    let mut names: Vec<String> = manifest.recordings.clone();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut found: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".parquet"))
            .collect();
        found.sort();
        for n in found {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    for name in names {
        let path = dir.join(&name);
        if !path.exists() {
            problems.push(format!(
                "{}: listed in the manifest's recordings but missing",
                path.display()
            ));
            continue;
        }
        let stem = name.trim_end_matches(".parquet");
        let Some((engine, port)) = stem.split_once('.') else {
            problems.push(format!(
                "{}: not named <engine>.<port>.parquet; not shown",
                path.display()
            ));
            continue;
        };
        recordings.push(RecordingFile {
            engine: engine.to_string(),
            port: port.to_string(),
            path,
        });
    }
    let mut t_end = manifest.duration_ms;
    if !(t_end.is_finite() && t_end > 0.0) {
        t_end = recordings
            .iter()
            .filter_map(|r| signals::last_time(&r.path).ok())
            .fold(0.0, f64::max);
        if let (true, Ok(e)) = (t_end <= 0.0, &experiment) {
            t_end = e.duration.to_ms(e.base_step_ms);
        }
    }
    Ok(Run {
        dir: dir.to_path_buf(),
        manifest,
        experiment,
        t_end: t_end.max(1.0),
        recordings,
        problems,
    })
}

fn checks_section(run: &mut Run) -> Section {
    let mut s = Section::new("Expected results");
    let checked = match check::evaluate(&run.dir) {
        Ok(c) => c,
        Err(e) => {
            s.note(&format!("cannot be measured: {e}"));
            return s;
        }
    };
    if checked.expectations.is_empty() {
        s.note("The experiment states no expected results ([[expect]] tables).");
    } else {
        let mut t = String::from(
            "<table class=\"checks\"><tr><th></th><th>expectation</th><th>value</th><th>bounds</th><th>measured over</th><th>metric</th></tr>\n",
        );
        for e in &checked.expectations {
            let value = e.value.map(fmt_value).unwrap_or_else(|| "-".into());
            let detail = match (&e.error, &e.note) {
                (Some(err), _) => err.clone(),
                (None, Some(n)) => format!("{} [{n}]", e.detail),
                (None, None) => e.detail.clone(),
            };
            let _ = writeln!(
                t,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                e.status.word().to_lowercase(),
                e.status.word(),
                esc(&e.name),
                esc(&value),
                esc(&e.bounds),
                esc(&detail),
                esc(&e.metric)
            );
        }
        t.push_str("</table>");
        s.html(t);
        let count = |st: Status| {
            checked
                .expectations
                .iter()
                .filter(|e| e.status == st)
                .count()
        };
        s.html(format!(
            "<p>{} pass, {} fail, {} cannot be measured, {} reported without bounds (<code>neuroloop check</code> exits {}).</p>",
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Error),
            count(Status::Info),
            checked.outcome().code()
        ));
    }
    for (engine, curve) in &checked.learning_curves {
        if let Err(e) = curve {
            run.problems
                .push(format!("learning curve of {engine}: {e}"));
        }
    }
    s
}

fn task_sections(run: &mut Run, limits: &Limits) -> Vec<Section> {
    // Each body engine's trial records (the experiment says where), else any *.trials.jsonl.
    let mut sources: Vec<(String, PathBuf, Option<Vec<f64>>)> = Vec::new();
    if let Ok(exp) = &run.experiment {
        for (engine, src) in check::trial_sources(exp, &run.dir) {
            sources.push((engine, src.path, src.bins_mm.ok()));
        }
    } else if let Ok(rd) = std::fs::read_dir(&run.dir) {
        let mut found: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".trials.jsonl"))
            .collect();
        found.sort();
        for p in found {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let engine = name.trim_end_matches(".trials.jsonl").to_string();
            sources.push((engine, p, None));
        }
    }
    let mut out = Vec::new();
    for (engine, path, bins) in sources {
        let mut s = Section::new(&format!("Task: {engine}"));
        if !path.exists() {
            run.problems.push(format!(
                "{}: missing (body engine {engine} writes its trial records there once a trial ends)",
                path.display()
            ));
            continue;
        }
        let (trials, broken) = match task::read_trials(&path) {
            Ok(x) => x,
            Err(e) => {
                run.problems.push(e);
                continue;
            }
        };
        if let Some(b) = broken {
            run.problems.push(b.clone());
            s.note(&b);
        }
        if trials.is_empty() {
            s.note(&format!("{}: no trials were completed.", path.display()));
            out.push(s);
            continue;
        }
        let ok: Vec<bool> = trials.iter().map(task::Trial::success).collect();
        let curve = neuroloop_record::learning_curve(&ok, LEARNING_BLOCK);
        let n_ok = ok.iter().filter(|x| **x).count();
        s.html(format!(
            "<p>{} trials, {} rewarded ({:.1} %). Blocks: {}.</p>",
            trials.len(),
            n_ok,
            100.0 * n_ok as f64 / trials.len() as f64,
            esc(&task::blocks(&trials)
                .iter()
                .map(|(n, a, b)| format!("{n} {}-{}", a + 1, b))
                .collect::<Vec<_>>()
                .join(", "))
        ));
        s.figure(
            &format!("{engine}.learning_curve"),
            format!(
                "Learning curve: success per {LEARNING_BLOCK} trials (a shorter last block is drawn narrower); {}.",
                esc(&path.display().to_string())
            ),
            Some(task::learning_curve_figure(&trials, &curve, LEARNING_BLOCK)),
            None,
        );
        let bins = bins.unwrap_or_else(|| {
            neuroloop_body::world::WorldSpec::mouse_forelimb_joystick()
                .task
                .bins_mm
        });
        let bin = bins
            .iter()
            .position(|b| (b - 1.0).abs() < 1e-9)
            .unwrap_or(0);
        let bin_mm = bins.get(bin).copied().unwrap_or(f64::NAN);
        if trials
            .iter()
            .any(|t| t.lateral_at_bins_mm.get(bin).copied().flatten().is_some())
        {
            s.figure(
                &format!("{engine}.lateral"),
                format!(
                    "Lateral displacement when the pull first reached {bin_mm} mm past the start line, per trial (dots, by block); dashed black: Mathis et al. (2017) block means; red: this run's mean over the same trials."
                ),
                Some(task::lateral_figure(&trials, bin, bin_mm)),
                None,
            );
            let mut t = String::from("<table><tr><th>trials</th><th>what</th><th>paper (mm)</th><th>this run (mm)</th></tr>\n");
            for &(a, b, mm, what) in &task::PAPER_LATERAL_MM {
                let ours = match task::block_mean(&trials, a, b, bin) {
                    Some((m, n)) => format!("{m:.2} ({n} trials)"),
                    None => format!("- (the run has {} trials)", trials.len()),
                };
                let _ = writeln!(
                    t,
                    "<tr><td>{a}-{b}</td><td>{what}</td><td>{mm:+.2}</td><td>{}</td></tr>",
                    esc(&ours)
                );
            }
            t.push_str("</table><p class=\"note\">The paper's protocol: 75 baseline, 100 force-field and 75 washout trials; the ranges above are trial numbers of that protocol.</p>");
            s.html(t);
        }
        if trials.iter().any(|t| !t.trajectory.is_empty()) {
            let (svg, drawn, of) =
                task::trajectories_figure(&trials, limits.trajectories_per_block);
            s.figure(
                &format!("{engine}.trajectories"),
                format!("Joystick trajectories from the start crossing, per block (pull against lateral; rewarded trials in colour, others grey); {drawn} of {of} trials drawn, evenly spaced in each block."),
                Some(svg),
                None,
            );
        }
        out.push(s);
    }
    out
}

fn spike_sections(run: &mut Run, limits: &Limits) -> Vec<Section> {
    let mut out = Vec::new();
    let t_end = run.t_end;
    for r in &run.recordings {
        // Only spike recordings (the schema says).
        let size = match Recording::layout_of(&r.path) {
            Ok(RecordedData::Spikes { size, .. }) => size,
            Ok(_) => continue,
            Err(e) => {
                run.problems.push(e.to_string());
                continue;
            }
        };
        let name = format!("{}.{}", r.engine, r.port);
        let neurons = run.dir.join(format!("{}.neurons.json", r.engine));
        let afferents = run.dir.join(format!("{}.afferents.json", r.engine));
        let size = match size {
            Some(s) => s as usize,
            None => {
                let mut max = 0u32;
                let _ = Recording::read_chunks(&r.path, |c| {
                    if let RecordedData::Spikes { neuron, .. } = &c.data {
                        max = neuron.iter().copied().fold(max, u32::max);
                    }
                });
                max as usize + 1
            }
        };
        let mapped = if neurons.exists() {
            std::fs::read_to_string(&neurons)
                .map_err(|e| e.to_string())
                .and_then(|t| spikes::from_neurons_json(&t, &r.port, limits))
                .map(|mut m| {
                    m.source = neurons.display().to_string();
                    m
                })
                .map_err(|e| format!("{}: {e}", neurons.display()))
        } else if afferents.exists() {
            std::fs::read_to_string(&afferents)
                .map_err(|e| e.to_string())
                .and_then(|t| spikes::from_afferents_json(&t, &r.engine, &r.port, size, limits))
                .map(|mut m| {
                    m.source = afferents.display().to_string();
                    m
                })
                .map_err(|e| format!("{}: {e}", afferents.display()))
        } else {
            Err(format!(
                "{} has no {} or {}: neurons are shown by index",
                name,
                neurons.file_name().unwrap_or_default().to_string_lossy(),
                afferents.file_name().unwrap_or_default().to_string_lossy()
            ))
        };
        let map = match mapped {
            Ok(m) => m,
            Err(e) => {
                run.problems.push(e);
                spikes::by_index(&name, size, limits)
            }
        };
        let afferent = afferents.exists() && !neurons.exists();
        let mut s = Section::new(&if afferent {
            format!("Afferents: {name}")
        } else {
            format!("Spikes: {name}")
        });
        let sum = match spikes::summarize(&r.path, &map, t_end, limits) {
            Ok(x) => x,
            Err(e) => {
                run.problems.push(e.clone());
                s.note(&e);
                out.push(s);
                continue;
            }
        };
        let cut: Vec<String> = map
            .populations
            .iter()
            .filter(|p| p.shown < p.size)
            .map(|p| format!("{} {} of {}", p.name, p.shown, p.size))
            .collect();
        let mut caption = format!(
            "{} spikes in the run; raster of ({:.0}, {:.0}] ms, {} rows (populations and groups from {}).",
            sum.spikes,
            sum.window.0,
            sum.window.1,
            map.rows(),
            esc(&map.source)
        );
        if sum.window.0 > 0.0 {
            let _ = write!(
                caption,
                " Only the last {:.0} ms are drawn.",
                sum.window.1 - sum.window.0
            );
        }
        if !cut.is_empty() {
            let _ = write!(
                caption,
                " Evenly spaced neurons shown: {}.",
                esc(&cut.join(", "))
            );
        }
        if sum.unmapped > 0 {
            let _ = write!(
                caption,
                " {} spikes of neurons outside the map were left out.",
                sum.unmapped
            );
        }
        match spikes::raster_figure(&map, &sum) {
            Ok((svg, png)) => {
                s.figure(&format!("{name}.raster"), caption, Some(svg), None);
                s.figure(
                    &format!("{name}.raster_pixels"),
                    "The raster's spikes alone (one pixel a time bin and shown neuron).".into(),
                    None,
                    Some(png),
                );
            }
            Err(e) => s.note(&format!("{name}: raster not drawn: {e}")),
        }
        s.figure(
            &format!("{name}.rates"),
            format!(
                "Population rates: spikes per neuron per second in {:.0} ms bins (all neurons of each population).",
                sum.bin_ms
            ),
            Some(spikes::rates_figure(&map, &sum, &format!("{name}: population rates"))),
            None,
        );
        out.push(s);
    }
    out
}

fn camera_sections(run: &mut Run, limits: &Limits) -> Vec<Section> {
    let mut out = Vec::new();
    for r in &run.recordings {
        if !matches!(
            Recording::layout_of(&r.path),
            Ok(RecordedData::Events { .. })
        ) {
            continue; // read errors are reported by the spike pass
        }
        let name = format!("{}.{}", r.engine, r.port);
        let configured = run.experiment.as_ref().ok().and_then(|e| {
            let spec = e.engines.iter().find(|x| x.name == r.engine)?;
            let dim = |k: &str, d: usize| {
                spec.config
                    .get(k)
                    .and_then(|v| v.as_u64())
                    .map_or(d, |v| v as usize)
            };
            (spec.kind == EngineKind::Builtin("event_camera".into()))
                .then(|| (dim("width", 128), dim("height", 128)))
        });
        let size = match configured {
            Some(s) => s,
            None => {
                // The sensor's size from the events themselves.
                let mut max = (0usize, 0usize);
                let _ = Recording::read_chunks(&r.path, |c| {
                    if let RecordedData::Events { x, y, .. } = &c.data {
                        max.0 = x.iter().map(|&v| v as usize + 1).fold(max.0, usize::max);
                        max.1 = y.iter().map(|&v| v as usize + 1).fold(max.1, usize::max);
                    }
                });
                max
            }
        };
        let mut s = Section::new(&format!("Event camera: {name}"));
        match signals::camera_frames(&r.path, size, run.t_end, limits) {
            Ok((png, windows, n)) => {
                let w: Vec<String> = windows
                    .iter()
                    .map(|(a, b)| format!("{a:.0}-{b:.0}"))
                    .collect();
                s.figure(
                    &format!("{name}.frames"),
                    format!(
                        "{n} events of a {}x{} sensor{}, accumulated per pixel in {} frames, left to right: {} ms. ON events green, OFF magenta (both: white); brightness grows with the log of the count.",
                        size.0,
                        size.1,
                        if configured.is_some() { "" } else { " (size from the events: the experiment could not be read)" },
                        windows.len(),
                        w.join(", ")
                    ),
                    None,
                    Some(png),
                );
            }
            Err(e) => {
                run.problems.push(e.clone());
                s.note(&e);
            }
        }
        out.push(s);
    }
    out
}

fn signal_sections(run: &mut Run, limits: &Limits) -> Vec<Section> {
    let mut s = Section::new("Recorded signals");
    for r in &run.recordings {
        let name = format!("{}.{}", r.engine, r.port);
        match signals::signals_figure(&r.path, run.t_end, limits) {
            Ok(Some((svg, drawn, of))) => {
                let cut = if drawn < of {
                    format!(" The first {drawn} of {of} channels are drawn.")
                } else {
                    String::new()
                };
                s.figure(
                    &format!("{name}.signals"),
                    format!(
                        "{name}: each channel averaged in {} bins of {:.1} ms.{cut}",
                        limits.signal_bins,
                        run.t_end / limits.signal_bins as f64
                    ),
                    Some(svg),
                    None,
                );
            }
            Ok(None) => {}
            Err(e) => {
                if !run.problems.contains(&e) {
                    run.problems.push(e);
                }
            }
        }
    }
    if s.parts.is_empty() {
        Vec::new()
    } else {
        vec![s]
    }
}

/// What the manifest's per-round figures are per: a step, or an exchange window of several steps.
fn per_exchange(m: &Manifest) -> String {
    let base_step_ms = m.duration_ms / m.steps.max(1) as f64;
    if m.steps > 0 && m.exchange_window_ms > base_step_ms * 1.000_001 {
        format!(
            "per exchange (every {} ms)",
            fmt_value(m.exchange_window_ms)
        )
    } else {
        "per step".to_string()
    }
}

fn timing_section(run: &Run) -> Section {
    let m = &run.manifest;
    let mut s = Section::new("Speed");
    s.html(format!(
        "<p>{} ms simulated in {:.3} s wall: <b>{:.2}x real time</b>{}. Lockstep coupling overhead {}: p50 {:.1} us, p99 {:.1} us.</p>",
        fmt_value(m.duration_ms),
        m.wall_s,
        m.realtime_factor,
        if m.realtime {
            format!(" (paced to the wall clock; {} of {} steps started late)", m.late_steps, m.steps)
        } else {
            String::new()
        },
        per_exchange(m),
        m.coupling_overhead_p50_us,
        m.coupling_overhead_p99_us
    ));
    let mut t = String::from("<table><tr><th>engine</th><th>kind</th><th>step (base steps)</th><th>steps</th><th>compute (s)</th><th>share of wall</th><th>p50 (us)</th><th>p99 (us)</th><th>exit</th></tr>\n");
    for e in &m.engines {
        let _ = writeln!(
            t,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.0} %</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
            esc(&e.name),
            esc(&e.kind),
            e.period_steps,
            e.steps,
            e.compute_s,
            100.0 * e.compute_s / m.wall_s,
            e.compute_p50_us,
            e.compute_p99_us,
            esc(e.exit.as_deref().unwrap_or("-"))
        );
    }
    t.push_str("</table>");
    s.html(t);
    if !m.engines.is_empty() {
        s.figure(
            "timing",
            "Compute time of one step per engine and the coupling overhead per lockstep step (wall time not spent computing).".into(),
            Some(signals::timing_figure(m)),
            None,
        );
    }
    s
}

fn manifest_section(run: &Run) -> Section {
    let m = &run.manifest;
    let mut s = Section::new("Manifest");
    let mut rows = vec![
        ("experiment file", m.experiment_file.clone()),
        ("overrides", m.overrides.join(" ")),
        ("seed", m.seed.to_string()),
        ("run id", m.run_id.clone()),
        (
            "git commit",
            m.git_commit.clone().unwrap_or_else(|| "unknown".into()),
        ),
        ("host", m.host.clone()),
        ("started (UTC)", m.started_utc.clone()),
        ("ended (UTC)", m.ended_utc.clone()),
        ("exit status", format!("{:?}", m.exit_status).to_lowercase()),
        ("steps", m.steps.to_string()),
        ("recordings", m.recordings.join(", ")),
    ];
    if let Some(e) = &m.error {
        rows.push(("error", e.clone()));
    }
    let versions: Vec<String> = m.versions.iter().map(|(k, v)| format!("{k} {v}")).collect();
    rows.push(("versions", versions.join(", ")));
    let mut t = String::from("<table class=\"manifest\">\n");
    for (k, v) in rows {
        let _ = writeln!(t, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    t.push_str("</table>");
    s.html(t);
    s.html(format!(
        "<details><summary>experiment text</summary><pre>{}</pre></details>",
        esc(&m.experiment_text)
    ));
    s
}

fn render(run: &Run, sections: Vec<Section>) -> Result<Written, ReportError> {
    let fig_dir = run.dir.join(FIGURES_DIR);
    std::fs::create_dir_all(&fig_dir).map_err(|source| ReportError::Write {
        path: fig_dir.clone(),
        source,
    })?;
    let write_file = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes).map_err(|source| ReportError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    let m = &run.manifest;
    let name = run
        .experiment
        .as_ref()
        .map(|e| e.name.clone())
        .unwrap_or_else(|_| m.experiment_file.clone());
    let mut figures = Vec::new();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<p class=\"status {status}\">{status_text}</p>\n",
        title = esc(&format!("neuroloop report: {name}")),
        status = format!("{:?}", m.exit_status).to_lowercase(),
        status_text = esc(&format!(
            "Run {} ({}): status {}, {} ms simulated of {}, seed {}, {:.2}x real time.",
            m.run_id,
            run.dir.display(),
            format!("{:?}", m.exit_status).to_lowercase(),
            fmt_value(m.duration_ms),
            run.experiment
                .as_ref()
                .map(|e| format!("{} ms", fmt_value(e.duration.to_ms(e.base_step_ms))))
                .unwrap_or_else(|_| "?".into()),
            m.seed,
            m.realtime_factor
        ))
    );
    if run.problems.is_empty() {
        html.push_str("<p class=\"ok\">Nothing is missing: every file the run should have written is there and readable.</p>\n");
    } else {
        html.push_str("<div class=\"problems\"><h2>Missing or unreadable</h2><ul>\n");
        for p in &run.problems {
            let _ = writeln!(html, "<li>{}</li>", esc(p));
        }
        html.push_str("</ul></div>\n");
    }
    html.push_str("<nav><ul>\n");
    for (i, s) in sections.iter().enumerate() {
        let _ = writeln!(html, "<li><a href=\"#s{i}\">{}</a></li>", esc(&s.title));
    }
    html.push_str("</ul></nav>\n");
    for (i, s) in sections.into_iter().enumerate() {
        let _ = writeln!(html, "<section id=\"s{i}\">\n<h2>{}</h2>", esc(&s.title));
        for part in s.parts {
            match part {
                Part::Html(h) => {
                    html.push_str(&h);
                    html.push('\n');
                }
                Part::Figure(f) => {
                    html.push_str("<figure>\n");
                    if let Some(svg) = &f.svg {
                        let path = fig_dir.join(format!("{}.svg", f.name));
                        write_file(&path, svg.as_bytes())?;
                        figures.push(path);
                        html.push_str(svg);
                    }
                    if let Some(png) = &f.png {
                        let path = fig_dir.join(format!("{}.png", f.name));
                        write_file(&path, png)?;
                        figures.push(path);
                        let _ = write!(
                            html,
                            "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
                            esc(&f.name),
                            base64::engine::general_purpose::STANDARD.encode(png)
                        );
                    }
                    let _ = writeln!(
                        html,
                        "<figcaption>{} <span class=\"file\">[{FIGURES_DIR}/{}.{}]</span></figcaption>\n</figure>",
                        f.caption,
                        esc(&f.name),
                        if f.svg.is_some() { "svg" } else { "png" }
                    );
                }
            }
        }
        html.push_str("</section>\n");
    }
    html.push_str("</body>\n</html>\n");
    let page = run.dir.join(REPORT_FILE);
    write_file(&page, html.as_bytes())?;
    Ok(Written {
        html: page,
        figures,
        problems: run.problems.clone(),
    })
}

const CSS: &str = "body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
tr.pass td:first-child { background: #c8f0c8; } tr.fail td:first-child { background: #f6c0c0; }
tr.error td:first-child { background: #f6e0a0; } tr.info td:first-child { background: #dde8f6; }
.problems { background: #fff4e0; border: 1px solid #e0b060; padding: 0 1em; }
.status.ok { color: #225522; } .status.error, .status.interrupted, .status.running { color: #aa2222; font-weight: bold; }
.note { color: #555; font-size: 0.9em; } .file { color: #888; font-size: 0.85em; }
figure { margin: 1em 0; } figure svg, figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9em; color: #333; }
nav ul { columns: 3; font-size: 0.9em; } pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; font-size: 0.8em; }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_a_manifest_is_not_a_run_folder() {
        let dir = tempfile::tempdir().unwrap();
        let e = write(dir.path(), &Limits::default()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("manifest.json"), "{e}");
        let e = write(&dir.path().join("nope"), &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("no such folder"), "{e}");
        std::fs::write(dir.path().join(MANIFEST_FILE), "{ not json").unwrap();
        let e = write(dir.path(), &Limits::default()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("manifest.json"), "{e}");
    }

    #[test]
    fn file_names_are_sanitized() {
        assert_eq!(sanitize("brain.M1 rates/x"), "brain.M1_rates_x");
    }
}
