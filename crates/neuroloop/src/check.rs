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
fn read_run(dir: &Path) -> Result<(Manifest, Experiment), String> {
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
fn trial_sources(exp: &Experiment, dir: &Path) -> BTreeMap<String, TrialSource> {
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
fn fmt_value(v: f64) -> String {
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

/// Measures every expectation of the run in `dir`, printing one line each, the learning curves and a
/// summary to stdout, and problems to stderr.
pub fn check(dir: &Path) -> Outcome {
    let (manifest, exp) = match read_run(dir) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::BadInput;
        }
    };
    if manifest.exit_status != neuroloop_record::ExitStatus::Ok {
        eprintln!(
            "warning: the run in {} ended with status {:?}{}; measuring what was recorded",
            dir.display(),
            manifest.exit_status,
            manifest
                .error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
    }
    let duration_ms = if manifest.duration_ms.is_finite() && manifest.duration_ms > 0.0 {
        manifest.duration_ms
    } else {
        exp.duration.to_ms(exp.base_step_ms)
    };
    let sources = trial_sources(&exp, dir);
    let mut run = RunFolder::new(dir, duration_ms, sources.clone());
    let (mut passed, mut failed, mut bad, mut reported) = (0, 0, 0, 0);
    for (i, e) in exp.expect.iter().enumerate() {
        let key = format!("expect[{i}].metric");
        let note = e
            .note
            .as_deref()
            .map(|n| format!("  [{n}]"))
            .unwrap_or_default();
        match run.measure(&e.metric, &key) {
            Ok(m) => {
                let ok = e.passes(m.value);
                let status = if e.min.is_none() && e.max.is_none() && m.value.is_finite() {
                    reported += 1;
                    "INFO"
                } else if ok {
                    passed += 1;
                    "PASS"
                } else {
                    failed += 1;
                    "FAIL"
                };
                println!(
                    "{status}  {}: {} ({})  {}: {}{note}",
                    e.name,
                    fmt_value(m.value),
                    e.bounds(),
                    e.metric,
                    m.detail
                );
            }
            Err(err) => {
                bad += 1;
                println!("ERROR {}: cannot be measured (see below)", e.name);
                eprintln!("error: {}: {err}", dir.display());
            }
        }
    }
    for (engine, source) in &sources {
        if !source.path.exists() {
            continue;
        }
        match run.successes(engine, &format!("engines.{engine}")) {
            Ok(ok) if !ok.is_empty() => {
                let blocks: Vec<String> = learning_curve(&ok, LEARNING_BLOCK)
                    .into_iter()
                    .map(|(rate, n)| {
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
                eprintln!("error: {}: {err}", dir.display());
            }
        }
    }
    if exp.expect.is_empty() {
        println!(
            "no expected results: the experiment has no [[expect]] tables ({})",
            dir.join(neuroloop_record::MANIFEST_FILE).display()
        );
    } else {
        println!(
            "{passed} of {} expectations pass{}{}{}",
            exp.expect.len() - reported,
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
    if bad > 0 {
        Outcome::BadInput
    } else if failed > 0 {
        Outcome::Fail
    } else {
        Outcome::Pass
    }
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
