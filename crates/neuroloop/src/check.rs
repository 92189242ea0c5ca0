//! `neuroloop check RUN_DIR`: the experiment's expected results (`[[expect]]`), measured from the run
//! folder by `neuroloop_record::measure`. Glue only: reading the run folder's manifest, finding each
//! body engine's trial records and task bins, printing.
//!
//! Output (stdout), one line per expectation (`PASS`, `FAIL`, `INFO` for an entry without bounds,
//! which only reports its value, or `ERROR` when it cannot be measured), then the learning curve of each body engine whose trial
//! records exist, then a summary:
//!
//! ```text
//! PASS  x settles at 6.667 mm: 0.00666669 (in [0.0066, 0.006733])  mean(plant.position.x, 1900-2000 ms): 100 samples  [g*target/(k + g) = 6.667 mm, within 1 %]
//! learning curve (body, success per 25 trials): 0.08 0.12 0.40
//! 2 of 2 expectations pass
//! ```
//!
//! Outcome: [`Outcome::Pass`] (exit 0), [`Outcome::Fail`] (exit 1), [`Outcome::BadInput`] (exit 2: a
//! missing or broken run folder, manifest or recording, a metric that selects nothing; the message on
//! stderr names the file and the key).

use std::collections::BTreeMap;
use std::path::Path;

use neuroloop_body::engine::{trials_file, BodyConfig};
use neuroloop_body::world::WorldSpec;
use neuroloop_core::experiment::{self, EngineKind, Experiment};
use neuroloop_record::{learning_curve, Manifest, RunFolder, TrialSource};

/// Trials per block of the printed learning curve.
pub const LEARNING_BLOCK: usize = 25;

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every expectation passed (or there were none).
    Pass,
    /// At least one expectation failed.
    Fail,
    /// The run folder or an expectation could not be measured.
    BadInput,
}

impl Outcome {
    /// The exit code: 0, 1 or 2.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Pass => 0,
            Outcome::Fail => 1,
            Outcome::BadInput => 2,
        }
    }
}

/// Reads the run folder's manifest and the experiment it ran.
pub fn read_run(dir: &Path) -> Result<(Manifest, Experiment), String> {
    if !dir.is_dir() {
        return Err(format!("run folder {} does not exist", dir.display()));
    }
    let manifest = Manifest::read(dir).map_err(|e| e.to_string())?;
    let source =
        (!manifest.experiment_file.is_empty()).then(|| Path::new(&manifest.experiment_file));
    let exp = experiment::parse_recorded(&manifest.experiment_text, source, &manifest.overrides)
        .map_err(|e| {
            format!(
                "the experiment in {} (experiment_text, from {}) has problems:\n{e}",
                dir.join(neuroloop_record::MANIFEST_FILE).display(),
                if manifest.experiment_file.is_empty() {
                    "no file"
                } else {
                    &manifest.experiment_file
                }
            )
        })?;
    Ok((manifest, exp))
}

/// Where each body engine of `exp` wrote its trial records in `dir`, and its task's bins.
pub fn trial_sources(exp: &Experiment, dir: &Path) -> BTreeMap<String, TrialSource> {
    let mut out = BTreeMap::new();
    for e in &exp.engines {
        if e.kind != EngineKind::Builtin("body".into()) {
            continue;
        }
        let cfg: Result<BodyConfig, String> = serde_json::from_value(e.config.clone())
            .map_err(|err| format!("engines.{}.config: {err}", e.name));
        let (path, bins_mm) = match cfg {
            Ok(cfg) => {
                let path = trials_file(&e.name, cfg.trials_path.as_deref(), Some(dir))
                    .unwrap_or_else(|| dir.join(format!("{}.trials.jsonl", e.name)));
                let bins = match (&cfg.task, &cfg.world_file) {
                    (Some(task), _) => Ok(task.bins_mm.clone()),
                    (None, Some(world)) => WorldSpec::load(world)
                        .map(|w| w.task.bins_mm)
                        .map_err(|err| format!("engines.{}.config.world_file: {err}", e.name)),
                    (None, None) => Ok(WorldSpec::mouse_forelimb_joystick().task.bins_mm),
                };
                (path, bins)
            }
            Err(why) => (dir.join(format!("{}.trials.jsonl", e.name)), Err(why)),
        };
        out.insert(e.name.clone(), TrialSource { path, bins_mm });
    }
    out
}

/// A value to 6 significant digits (trailing zeros dropped), or in exponent form when tiny or huge.
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e9).contains(&a) {
        return format!("{v:.4e}");
    }
    let decimals = if a == 0.0 {
        0
    } else {
        (5 - a.log10().floor() as i32).clamp(0, 12) as usize
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// How one expectation came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Measured, within its bounds.
    Pass,
    /// Measured, outside its bounds.
    Fail,
    /// Measured; the entry has no bounds and only reports its value.
    Info,
    /// Cannot be measured (see [`ExpectResult::error`]).
    Error,
}

impl Status {
    /// The word printed for it: `PASS`, `FAIL`, `INFO`, `ERROR`.
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Info => "INFO",
            Status::Error => "ERROR",
        }
    }
}

/// One expectation (`[[expect]]`) measured.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectResult {
    /// Its name.
    pub name: String,
    /// How it came out.
    pub status: Status,
    /// The measured value (None when it cannot be measured).
    pub value: Option<f64>,
    /// Its bounds as written (`>= 0.7`, `in [a, b]`).
    pub bounds: String,
    /// The metric, as written.
    pub metric: String,
    /// What the value was measured over (`51 trials`).
    pub detail: String,
    /// The entry's note, if any.
    pub note: Option<String>,
    /// Why it cannot be measured, naming the file and key.
    pub error: Option<String>,
}

/// Success per [`LEARNING_BLOCK`] trials: (rate, trials in the block), the last block maybe shorter.
pub type LearningCurve = Vec<(f64, usize)>;

/// The expected results of a run folder, measured: what `neuroloop check` prints and the report
/// shows.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The run folder.
    pub dir: std::path::PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// One per `[[expect]]` entry, in order.
    pub expectations: Vec<ExpectResult>,
    /// Success per [`LEARNING_BLOCK`] trials (rate, trials in the block) of each body engine whose
    /// trial records exist, or why they cannot be read.
    pub learning_curves: Vec<(String, Result<LearningCurve, String>)>,
}

impl Checked {
    /// The outcome: bad input when anything cannot be measured, else fail when one fails.
    pub fn outcome(&self) -> Outcome {
        let bad = self.expectations.iter().any(|e| e.status == Status::Error)
            || self.learning_curves.iter().any(|(_, c)| c.is_err());
        if bad {
            Outcome::BadInput
        } else if self.expectations.iter().any(|e| e.status == Status::Fail) {
            Outcome::Fail
        } else {
            Outcome::Pass
        }
    }

    /// The warning for a run that did not end normally (measuring what was recorded), if any.
    pub fn status_warning(&self) -> Option<String> {
        (self.manifest.exit_status != neuroloop_record::ExitStatus::Ok).then(|| {
            format!(
                "the run in {} ended with status {:?}{}; measuring what was recorded",
                self.dir.display(),
                self.manifest.exit_status,
                self.manifest
                    .error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            )
        })
    }
}

/// Measures every expectation of the run in `dir` and the learning curve of each body engine, without
/// printing. An error (a missing or broken folder, manifest or recorded experiment) names the file.
pub fn evaluate(dir: &Path) -> Result<Checked, String> {
    let (manifest, exp) = read_run(dir)?;
    let duration_ms = if manifest.duration_ms.is_finite() && manifest.duration_ms > 0.0 {
        manifest.duration_ms
    } else {
        exp.duration.to_ms(exp.base_step_ms)
    };
    let sources = trial_sources(&exp, dir);
    let mut run = RunFolder::new(dir, duration_ms, sources.clone());
    let mut expectations = Vec::new();
    for (i, e) in exp.expect.iter().enumerate() {
        let key = format!("expect[{i}].metric");
        let measured = run.measure(&e.metric, &key);
        let (status, value, detail, error) = match measured {
            Ok(m) => {
                let status = if e.min.is_none() && e.max.is_none() && m.value.is_finite() {
                    Status::Info
                } else if e.passes(m.value) {
                    Status::Pass
                } else {
                    Status::Fail
                };
                (status, Some(m.value), m.detail, None)
            }
            Err(err) => (
                Status::Error,
                None,
                String::new(),
                Some(format!("{}: {err}", dir.display())),
            ),
        };
        expectations.push(ExpectResult {
            name: e.name.clone(),
            status,
            value,
            bounds: e.bounds(),
            metric: e.metric.to_string(),
            detail,
            note: e.note.clone(),
            error,
        });
    }
    let mut learning_curves = Vec::new();
    for (engine, source) in &sources {
        if !source.path.exists() {
            continue;
        }
        let curve = run
            .successes(engine, &format!("engines.{engine}"))
            .map(|ok| learning_curve(&ok, LEARNING_BLOCK))
            .map_err(|err| format!("{}: {err}", dir.display()));
        learning_curves.push((engine.clone(), curve));
    }
    Ok(Checked {
        dir: dir.to_path_buf(),
        manifest,
        expectations,
        learning_curves,
    })
}

/// Measures every expectation of the run in `dir` ([`evaluate`]), printing one line each, the learning
/// curves and a summary to stdout, and problems to stderr.
pub fn check(dir: &Path) -> Outcome {
    let checked = match evaluate(dir) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::BadInput;
        }
    };
    if let Some(w) = checked.status_warning() {
        eprintln!("warning: {w}");
    }
    let (mut passed, mut failed, mut bad, mut reported) = (0, 0, 0, 0);
    for e in &checked.expectations {
        let note = e
            .note
            .as_deref()
            .map(|n| format!("  [{n}]"))
            .unwrap_or_default();
        match (e.status, e.value) {
            (Status::Error, _) | (_, None) => {
                bad += 1;
                println!("ERROR {}: cannot be measured (see below)", e.name);
                eprintln!("error: {}", e.error.as_deref().unwrap_or("unknown"));
            }
            (status, Some(value)) => {
                match status {
                    Status::Info => reported += 1,
                    Status::Pass => passed += 1,
                    _ => failed += 1,
                }
                println!(
                    "{}  {}: {} ({})  {}: {}{note}",
                    status.word(),
                    e.name,
                    fmt_value(value),
                    e.bounds,
                    e.metric,
                    e.detail
                );
            }
        }
    }
    for (engine, curve) in &checked.learning_curves {
        match curve {
            Ok(blocks) if !blocks.is_empty() => {
                let blocks: Vec<String> = blocks
                    .iter()
                    .map(|&(rate, n)| {
                        if n == LEARNING_BLOCK {
                            format!("{rate:.2}")
                        } else {
                            format!("{rate:.2} (last {n} trials)")
                        }
                    })
                    .collect();
                println!(
                    "learning curve ({engine}, success per {LEARNING_BLOCK} trials): {}",
                    blocks.join(" ")
                );
            }
            Ok(_) => println!("learning curve ({engine}): no trials"),
            Err(err) => {
                bad += 1;
                eprintln!("error: {err}");
            }
        }
    }
    let total = checked.expectations.len();
    if total == 0 {
        println!(
            "no expected results: the experiment has no [[expect]] tables ({})",
            dir.join(neuroloop_record::MANIFEST_FILE).display()
        );
    } else {
        println!(
            "{passed} of {} expectations pass{}{}{}",
            total - reported,
            if failed > 0 {
                format!(", {failed} fail")
            } else {
                String::new()
            },
            if bad > 0 {
                format!(", {bad} cannot be measured")
            } else {
                String::new()
            },
            if reported > 0 {
                format!(" ({reported} reported without bounds)")
            } else {
                String::new()
            }
        );
    }
    checked.outcome()
}

/// The fields of the body engine's trial records a `trial_mean` can average: (name, whether it is a
/// list selected by `bin_mm` or `index`). Taken from `neuroloop_body::task::TrialRecord` itself.
fn trial_fields() -> Vec<(String, bool)> {
    use neuroloop_body::task::{Block, Outcome, TrialRecord};
    let sample = TrialRecord {
        index: 0,
        block: Block::Baseline,
        outcome: Outcome::Success,
        start_ms: 0.0,
        reaction_time_ms: 0.0,
        movement_time_ms: 0.0,
        perturbed: false,
        peak_pull_mm: 0.0,
        lateral_at_bins_mm: vec![0.0],
        trajectory: vec![[0.0; 3]],
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(sample) else {
        return Vec::new();
    };
    map.into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => Some((k, false)),
            serde_json::Value::Array(a) if a.iter().all(|x| x.is_number()) => Some((k, true)),
            _ => None,
        })
        .collect()
}

/// Checks of the trial metrics that need the body engine: the engine is a body engine, the field is a
/// numeric field of its trial records, a list field has its entry chosen, `bin_mm` is one of the
/// task's bins (when they can be read). Problems carry key paths; place them with
/// [`experiment::locate`].
pub fn trial_problems(exp: &Experiment) -> Vec<experiment::Problem> {
    use experiment::{Metric, Problem, TrialElement};
    fn walk(m: &Metric, path: &str, f: &mut dyn FnMut(&Metric, &str)) {
        match m {
            Metric::Ratio(a, b) => {
                walk(a, &format!("{path}.numerator"), f);
                walk(b, &format!("{path}.denominator"), f);
            }
            Metric::Difference(a, b) => {
                walk(a, &format!("{path}.of"), f);
                walk(b, &format!("{path}.minus"), f);
            }
            Metric::Abs(a) => walk(a, &format!("{path}.of"), f),
            other => f(other, path),
        }
    }
    let fields = trial_fields();
    let mut problems = Vec::new();
    for (i, e) in exp.expect.iter().enumerate() {
        walk(&e.metric, &format!("expect[{i}].metric"), &mut |m, path| {
            let (Metric::SuccessRate { engine, .. } | Metric::TrialMean { engine, .. }) = m else {
                return;
            };
            let Some(spec) = exp.engines.iter().find(|x| &x.name == engine) else {
                return;
            };
            match &spec.kind {
                EngineKind::Builtin(k) if k == "body" => {}
                EngineKind::Builtin(k) => {
                    problems.push(Problem::new(
                        format!("{path}.engine"),
                        format!("engine \"{engine}\" is a {k} engine; trial records come from a body engine"),
                    ));
                    return;
                }
                EngineKind::Executable(_) => return,
            }
            let Metric::TrialMean { field, element, .. } = m else {
                return;
            };
            let Some((_, is_list)) = fields.iter().find(|(k, _)| k == field) else {
                let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
                problems.push(Problem::new(
                    format!("{path}.field"),
                    format!(
                        "field = \"{field}\" is not a numeric field of the trial records (fields: {})",
                        names.join(", ")
                    ),
                ));
                return;
            };
            match (is_list, element) {
                (true, None) => problems.push(Problem::new(
                    format!("{path}.field"),
                    format!("{field} is a list: choose its entry with bin_mm = MM or index = I"),
                )),
                (false, Some(_)) => problems.push(Problem::new(
                    format!("{path}.field"),
                    format!("{field} is not a list, so bin_mm and index do not apply"),
                )),
                _ => {}
            }
            if let Some(TrialElement::BinMm(b)) = element {
                let dir = Path::new(".");
                if let Some(Ok(bins)) = trial_sources(exp, dir).remove(engine).map(|s| s.bins_mm) {
                    if !bins
                        .iter()
                        .any(|x| (x - b).abs() <= 1e-9 * b.abs().max(1.0))
                    {
                        problems.push(Problem::new(
                            format!("{path}.bin_mm"),
                            format!("bin_mm = {b} is not one of the task's bins_mm {bins:?}"),
                        ));
                    }
                }
            }
        });
    }
    problems
}

/// [`trial_problems`] as a [`experiment::ConfigError`] placed in the experiment's text, or `None`.
pub fn trial_error(exp: &Experiment) -> Option<experiment::ConfigError> {
    let mut problems = trial_problems(exp);
    if problems.is_empty() {
        return None;
    }
    for p in &mut problems {
        if let Some((l, c)) = experiment::locate(&exp.text, &p.path) {
            p.line = Some(l);
            p.column = Some(c);
        }
    }
    Some(experiment::ConfigError {
        file: exp
            .source
            .as_ref()
            .map_or_else(|| "<experiment>".to_string(), |p| p.display().to_string()),
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_printed_readably() {
        assert_eq!(fmt_value(0.006666667), "0.00666667");
        assert_eq!(fmt_value(20.0), "20");
        assert_eq!(fmt_value(18.0255123), "18.0255");
        assert_eq!(fmt_value(123456.7), "123457");
        assert_eq!(fmt_value(0.0), "0");
        assert_eq!(fmt_value(-1.28), "-1.28");
        assert_eq!(fmt_value(1e-9), "1.0000e-9");
        assert_eq!(fmt_value(-0.0000001), "-1.0000e-7");
        assert_eq!(fmt_value(f64::NAN), "NaN");
    }

    #[test]
    fn outcome_codes() {
        assert_eq!(
            [Outcome::Pass, Outcome::Fail, Outcome::BadInput].map(Outcome::code),
            [0, 1, 2]
        );
    }
}
