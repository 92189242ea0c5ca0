//! Measuring the expected results of an experiment (its `[[expect]]` metrics, see
//! [`neuroloop_core::experiment::Metric`]) from a run folder: the recordings
//! (`<engine>.<port>.parquet`) and the body engine's per-trial records (JSON Lines, one object per
//! trial in order, with at least `outcome`, `"success"` for a rewarded trial; the layout of
//! `neuroloop-body`'s `TrialRecord`).
//!
//! Conventions: a trial range `[first, last]` counts trials from 1 (the k-th line of the file is
//! trial k) and includes both ends; a window `(t0, t1]` takes the samples and spikes with
//! `t0 < t_ms <= t1`; a trial field that is `null` (a NaN written by serde_json, e.g. a bin the pull
//! never reached) is skipped and the number of trials used is reported.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use neuroloop_core::experiment::{
    channel_index, ChannelSelect, Metric, TrialElement, TrialRange, WindowMs,
};
use neuroloop_core::port::{Channel, PortKind};
use serde_json::{Map, Value};

use crate::read::{RecordedData, Recording};

/// Where the per-trial records of a body engine are, and the task's bins.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialSource {
    /// The JSON Lines file.
    pub path: PathBuf,
    /// The task's `bins_mm` (pull distances of the entries of `lateral_at_bins_mm`), when known;
    /// otherwise why not (a `bin_mm` selection then fails with this text).
    pub bins_mm: Result<Vec<f64>, String>,
}

/// A measured value and how it was obtained (e.g. `51 trials`, `500 samples`).
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The value.
    pub value: f64,
    /// What it was measured over.
    pub detail: String,
}

/// Why a metric cannot be measured: a file missing or broken, a field, channel or range that does
/// not exist. Every variant names the expectation's key path (`expect[2].metric...`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeasureError {
    /// A file the metric reads is missing.
    #[error("{key}: {path} does not exist{hint}")]
    Missing {
        /// Key path of the metric.
        key: String,
        /// The missing file.
        path: PathBuf,
        /// What may explain it.
        hint: String,
    },
    /// A file cannot be read or does not have the expected layout.
    #[error("{key}: {reason}")]
    Broken {
        /// Key path of the metric.
        key: String,
        /// What is wrong, naming the file.
        reason: String,
    },
    /// The metric selects something that is not in the data (a trial range with no trials, a window
    /// with no samples, an unknown field or channel).
    #[error("{key}: {reason}")]
    Selection {
        /// Key path of the offending key.
        key: String,
        /// What is wrong, naming the file.
        reason: String,
    },
}

/// A run folder being measured: recordings and trial records are read once and kept.
#[derive(Debug)]
pub struct RunFolder {
    dir: PathBuf,
    duration_ms: f64,
    trial_sources: BTreeMap<String, TrialSource>,
    recordings: HashMap<String, Recording>,
    trials: HashMap<String, Vec<Map<String, Value>>>,
}

fn join(key: &str, sub: &str) -> String {
    format!("{key}.{sub}")
}

impl RunFolder {
    /// The run folder `dir` of a run of `duration_ms` (the window of a metric without `window_ms`),
    /// with the trial records of each body engine.
    pub fn new(dir: &Path, duration_ms: f64, trial_sources: BTreeMap<String, TrialSource>) -> Self {
        RunFolder {
            dir: dir.to_path_buf(),
            duration_ms,
            trial_sources,
            recordings: HashMap::new(),
            trials: HashMap::new(),
        }
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Measures `metric`; `key` is its key path in the file (for messages).
    pub fn measure(&mut self, metric: &Metric, key: &str) -> Result<Measured, MeasureError> {
        match metric {
            Metric::SuccessRate { engine, trials } => {
                let ok = self.successes(engine, key)?;
                let (range, note) =
                    select(ok.len(), trials, engine, &self.trials_path(engine), key)?;
                let sel = &ok[range];
                let n_ok = sel.iter().filter(|s| **s).count();
                Ok(Measured {
                    value: n_ok as f64 / sel.len() as f64,
                    detail: format!("{n_ok} of {} trials{note}", sel.len()),
                })
            }
            Metric::TrialMean {
                engine,
                field,
                trials,
                element,
            } => self.trial_mean(engine, field, trials, element, key),
            Metric::Ratio(a, b) => {
                let a = self.measure(a, &join(key, "numerator"))?;
                let b = self.measure(b, &join(key, "denominator"))?;
                Ok(Measured {
                    value: a.value / b.value,
                    detail: format!(
                        "{:.4} ({}) / {:.4} ({})",
                        a.value, a.detail, b.value, b.detail
                    ),
                })
            }
            Metric::Difference(a, b) => {
                let a = self.measure(a, &join(key, "of"))?;
                let b = self.measure(b, &join(key, "minus"))?;
                Ok(Measured {
                    value: a.value - b.value,
                    detail: format!(
                        "{:.4} ({}) - {:.4} ({})",
                        a.value, a.detail, b.value, b.detail
                    ),
                })
            }
            Metric::Abs(a) => {
                let a = self.measure(a, &join(key, "of"))?;
                Ok(Measured {
                    value: a.value.abs(),
                    detail: format!("|{:.4}|, {}", a.value, a.detail),
                })
            }
            Metric::Mean {
                port,
                channel,
                window,
            } => {
                let w = self.window(window);
                let label = port.to_string();
                let (rec, col) = self.channel(&label, channel, key, "channel")?;
                let (mut sum, mut n) = (0.0, 0usize);
                for (t, x) in rec.t_ms.iter().zip(col) {
                    if w.contains(*t) {
                        sum += x;
                        n += 1;
                    }
                }
                if n == 0 {
                    return Err(no_samples(key, &rec.path, &w));
                }
                Ok(Measured {
                    value: sum / n as f64,
                    detail: format!("{n} samples"),
                })
            }
            Metric::RmsError {
                port,
                channel,
                reference,
                reference_channel,
                window,
            } => {
                let w = self.window(window);
                let (ref_rec, ref_col) = self.channel(
                    &reference.to_string(),
                    reference_channel,
                    key,
                    "reference_channel",
                )?;
                let by_step: HashMap<u64, f64> = ref_rec
                    .step
                    .iter()
                    .zip(&ref_rec.t_ms)
                    .zip(&ref_col)
                    .filter(|((_, t), _)| w.contains(**t))
                    .map(|((s, _), x)| (*s, *x))
                    .collect();
                let ref_path = ref_rec.path.clone();
                let (rec, col) = self.channel(&port.to_string(), channel, key, "channel")?;
                let (mut sum2, mut n) = (0.0, 0usize);
                for ((s, t), x) in rec.step.iter().zip(&rec.t_ms).zip(&col) {
                    if let Some(r) = by_step.get(s).filter(|_| w.contains(*t)) {
                        sum2 += (x - r) * (x - r);
                        n += 1;
                    }
                }
                if n == 0 {
                    return Err(MeasureError::Selection {
                        key: join(key, "window_ms"),
                        reason: format!(
                            "{} and {} have no samples at the same step in {}-{} ms",
                            rec.path.display(),
                            ref_path.display(),
                            w.t0_ms,
                            w.t1_ms
                        ),
                    });
                }
                Ok(Measured {
                    value: (sum2 / n as f64).sqrt(),
                    detail: format!("{n} paired samples"),
                })
            }
            Metric::SpikeCount {
                port,
                neurons,
                window,
            } => {
                let (count, n_neurons, w) = self.spikes(&port.to_string(), neurons, window, key)?;
                Ok(Measured {
                    value: count as f64,
                    detail: format!("{n_neurons} neurons in {} ms", w.len_ms()),
                })
            }
            Metric::SpikeRate {
                port,
                neurons,
                window,
            } => {
                let (count, n_neurons, w) = self.spikes(&port.to_string(), neurons, window, key)?;
                Ok(Measured {
                    value: count as f64 / (n_neurons as f64 * w.len_ms() * 1e-3),
                    detail: format!("{count} spikes of {n_neurons} neurons in {} ms", w.len_ms()),
                })
            }
        }
    }

    /// Success (`outcome == "success"`) of every trial of body engine `engine`, in order.
    pub fn successes(&mut self, engine: &str, key: &str) -> Result<Vec<bool>, MeasureError> {
        let path = self.trials_path(engine);
        let trials = self.trials(engine, key)?;
        trials
            .iter()
            .enumerate()
            .map(|(i, t)| match t.get("outcome") {
                Some(Value::String(s)) => Ok(s == "success"),
                other => Err(MeasureError::Broken {
                    key: key.to_string(),
                    reason: format!(
                        "{} line {}: outcome is {}, expected a string such as \"success\"",
                        path.display(),
                        i + 1,
                        other.map_or("missing".to_string(), Value::to_string)
                    ),
                }),
            })
            .collect()
    }

    /// Where engine `engine`'s trial records are (its [`TrialSource`], else `<engine>.trials.jsonl`).
    pub fn trials_path(&self, engine: &str) -> PathBuf {
        self.trial_sources.get(engine).map_or_else(
            || self.dir.join(format!("{engine}.trials.jsonl")),
            |s| s.path.clone(),
        )
    }

    /// The trial records of engine `engine`, read once.
    fn trials(&mut self, engine: &str, key: &str) -> Result<&[Map<String, Value>], MeasureError> {
        if !self.trials.contains_key(engine) {
            let path = self.trials_path(engine);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    MeasureError::Missing {
                        key: key.to_string(),
                        path: path.clone(),
                        hint: format!(
                            " (engine \"{engine}\" writes its trial records there if it is a body engine and the run had a run folder)"
                        ),
                    }
                } else {
                    MeasureError::Broken {
                        key: key.to_string(),
                        reason: format!("cannot read {}: {e}", path.display()),
                    }
                }
            })?;
            let mut list = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(line) {
                    // Expected results are measured on the run's first episode (a run that was
                    // reset appends later episodes' records, marked with their `episode`).
                    Ok(Value::Object(m)) => {
                        if m.get("episode").and_then(Value::as_u64).unwrap_or(0) == 0 {
                            list.push(m);
                        }
                    }
                    Ok(_) => {
                        return Err(MeasureError::Broken {
                            key: key.to_string(),
                            reason: format!(
                                "{} line {}: a trial record must be a JSON object",
                                path.display(),
                                i + 1
                            ),
                        })
                    }
                    Err(e) => {
                        return Err(MeasureError::Broken {
                            key: key.to_string(),
                            reason: format!("{} line {}: {e}", path.display(), i + 1),
                        })
                    }
                }
            }
            self.trials.insert(engine.to_string(), list);
        }
        Ok(&self.trials[engine])
    }

    fn trial_mean(
        &mut self,
        engine: &str,
        field: &str,
        trials: &Option<TrialRange>,
        element: &Option<TrialElement>,
        key: &str,
    ) -> Result<Measured, MeasureError> {
        let path = self.trials_path(engine);
        let bins = self.trial_sources.get(engine).map(|s| s.bins_mm.clone());
        let all = self.trials(engine, key)?;
        let (range, note) = select(all.len(), trials, engine, &path, key)?;
        let field_key = join(key, "field");
        let index = match element {
            None => None,
            Some(TrialElement::Index(i)) => Some(*i as usize),
            Some(TrialElement::BinMm(b)) => {
                let bins = match bins {
                    Some(Ok(bins)) => bins,
                    Some(Err(why)) => {
                        return Err(MeasureError::Selection {
                            key: join(key, "bin_mm"),
                            reason: format!("the task's bins_mm of engine \"{engine}\" are not known: {why}; select the bin by index instead"),
                        })
                    }
                    None => {
                        return Err(MeasureError::Selection {
                            key: join(key, "bin_mm"),
                            reason: format!("the task's bins_mm of engine \"{engine}\" are not known; select the bin by index instead"),
                        })
                    }
                };
                Some(
                    bins.iter()
                        .position(|x| (x - b).abs() <= 1e-9 * b.abs().max(1.0))
                        .ok_or_else(|| MeasureError::Selection {
                            key: join(key, "bin_mm"),
                            reason: format!(
                                "bin_mm = {b} is not one of the task's bins_mm {bins:?}"
                            ),
                        })?,
                )
            }
        };
        let (mut sum, mut used) = (0.0, 0usize);
        let first = range.start;
        for (k, t) in all[range.clone()].iter().enumerate() {
            let line = first + k + 1;
            let v = t.get(field).ok_or_else(|| {
                let known: Vec<&str> = t
                    .iter()
                    .filter(|(_, v)| v.is_number() || v.is_array() || v.is_null())
                    .map(|(k, _)| k.as_str())
                    .collect();
                MeasureError::Selection {
                    key: field_key.clone(),
                    reason: format!(
                        "{} line {line} has no field \"{field}\" (numeric fields: {})",
                        path.display(),
                        known.join(", ")
                    ),
                }
            })?;
            let v = match (v, index) {
                (Value::Array(a), Some(i)) => a.get(i).ok_or_else(|| MeasureError::Selection {
                    key: join(key, if matches!(element, Some(TrialElement::Index(_))) { "index" } else { "bin_mm" }),
                    reason: format!(
                        "{} line {line}: {field} has {} entries, no entry {i}",
                        path.display(),
                        a.len()
                    ),
                })?,
                (Value::Array(a), None) => {
                    return Err(MeasureError::Selection {
                        key: field_key,
                        reason: format!(
                            "{} line {line}: {field} is a list of {}: choose an entry with bin_mm or index",
                            path.display(),
                            a.len()
                        ),
                    })
                }
                (v, Some(_)) if !v.is_null() => {
                    return Err(MeasureError::Selection {
                        key: field_key,
                        reason: format!(
                            "{} line {line}: {field} is not a list, so bin_mm and index do not apply",
                            path.display()
                        ),
                    })
                }
                (v, _) => v,
            };
            match v {
                Value::Null => {}
                Value::Number(n) => {
                    if let Some(x) = n.as_f64() {
                        sum += x;
                        used += 1;
                    }
                }
                Value::Bool(b) => {
                    sum += f64::from(u8::from(*b));
                    used += 1;
                }
                other => {
                    return Err(MeasureError::Selection {
                        key: field_key,
                        reason: format!(
                            "{} line {line}: {field} is {other}, not a number",
                            path.display()
                        ),
                    })
                }
            }
        }
        let n = range.len();
        if used == 0 {
            return Err(MeasureError::Selection {
                key: field_key,
                reason: format!(
                    "{} has no value of {field} in the {n} trials selected (all missing)",
                    path.display()
                ),
            });
        }
        Ok(Measured {
            value: sum / used as f64,
            detail: format!("{used} of {n} trials with a value{note}"),
        })
    }

    fn window(&self, w: &Option<WindowMs>) -> WindowMs {
        w.unwrap_or(WindowMs {
            t0_ms: f64::NEG_INFINITY,
            t1_ms: self.duration_ms,
        })
    }

    /// The recording `<label>.parquet`, read once.
    fn recording(&mut self, label: &str, key: &str) -> Result<&Recording, MeasureError> {
        if !self.recordings.contains_key(label) {
            let path = self.dir.join(format!("{label}.parquet"));
            if !path.exists() {
                return Err(MeasureError::Missing {
                    key: key.to_string(),
                    path,
                    hint: format!(" (is {label} in [record] ports, and did the run finish?)"),
                });
            }
            let rec = Recording::read(&path).map_err(|e| MeasureError::Broken {
                key: key.to_string(),
                reason: e.to_string(),
            })?;
            // Expected results are measured on the run's first episode.
            let rec = if rec.episode.iter().any(|&e| e != 0) {
                rec.episode_only(0)
            } else {
                rec
            };
            self.recordings.insert(label.to_string(), rec);
        }
        Ok(&self.recordings[label])
    }

    /// The recording of `label` and the values of channel `c`.
    fn channel(
        &mut self,
        label: &str,
        c: &Option<ChannelSelect>,
        key: &str,
        channel_key: &str,
    ) -> Result<(&Recording, Vec<f64>), MeasureError> {
        let rec = self.recording(label, key)?;
        let RecordedData::Values {
            names,
            units,
            columns,
        } = &rec.data
        else {
            return Err(MeasureError::Selection {
                key: join(key, "port"),
                reason: format!(
                    "{} is not an analog or scalar recording",
                    rec.path.display()
                ),
            });
        };
        let kind = PortKind::Analog {
            channels: names
                .iter()
                .zip(units)
                .map(|(name, unit)| Channel {
                    name: name.clone(),
                    unit: unit.clone(),
                })
                .collect(),
        };
        let i = channel_index(&kind, c).map_err(|why| MeasureError::Selection {
            key: join(key, channel_key),
            reason: format!("{} {why}", rec.path.display()),
        })?;
        let col = columns[i].clone();
        Ok((rec, col))
    }

    /// Spikes of `label` in the window from the selected neurons: (count, number of neurons, window).
    fn spikes(
        &mut self,
        label: &str,
        neurons: &Option<(u32, u32)>,
        window: &Option<WindowMs>,
        key: &str,
    ) -> Result<(usize, u32, WindowMs), MeasureError> {
        // A window past the end of the run is cut at the end, so that a rate is per simulated time.
        let w = match window {
            Some(w) => WindowMs {
                t0_ms: w.t0_ms,
                t1_ms: w.t1_ms.min(self.duration_ms),
            },
            None => WindowMs {
                t0_ms: 0.0,
                t1_ms: self.duration_ms,
            },
        };
        if w.t1_ms <= w.t0_ms {
            return Err(MeasureError::Selection {
                key: join(key, "window_ms"),
                reason: format!(
                    "the window starts at {} ms, after the run's {} ms",
                    w.t0_ms, self.duration_ms
                ),
            });
        }
        let rec = self.recording(label, key)?;
        let RecordedData::Spikes { neuron, size } = &rec.data else {
            return Err(MeasureError::Selection {
                key: join(key, "port"),
                reason: format!("{} is not a spikes recording", rec.path.display()),
            });
        };
        let (a, b) = match (neurons, size) {
            (Some(r), _) => *r,
            (None, Some(s)) if *s > 0 => (0, s - 1),
            (None, _) => {
                return Err(MeasureError::Selection {
                    key: join(key, "neurons"),
                    reason: format!(
                        "{} does not state its population size: give neurons = [first, last]",
                        rec.path.display()
                    ),
                })
            }
        };
        if let Some(s) = size.filter(|s| b >= *s) {
            return Err(MeasureError::Selection {
                key: join(key, "neurons"),
                reason: format!(
                    "neuron {b} is past the {s} neurons of {}",
                    rec.path.display()
                ),
            });
        }
        let count = rec
            .t_ms
            .iter()
            .zip(neuron)
            .filter(|(t, n)| w.contains(**t) && (a..=b).contains(*n))
            .count();
        Ok((count, b - a + 1, w))
    }
}

fn no_samples(key: &str, path: &Path, w: &WindowMs) -> MeasureError {
    MeasureError::Selection {
        key: join(key, "window_ms"),
        reason: format!(
            "{} has no samples with {} < t_ms <= {}",
            path.display(),
            w.t0_ms,
            w.t1_ms
        ),
    }
}

/// The indices of trials `range` among `n` trials (all without a range), and a note when the range
/// runs past the last trial; an error when it selects none.
fn select(
    n: usize,
    range: &Option<TrialRange>,
    engine: &str,
    path: &Path,
    key: &str,
) -> Result<(std::ops::Range<usize>, String), MeasureError> {
    let (first, last) = match range {
        Some(r) => (r.first as usize, r.last as usize),
        None => (1, n),
    };
    if n == 0 || first > n || first == 0 {
        return Err(MeasureError::Selection {
            key: join(key, "trials"),
            reason: format!(
                "no trials of engine \"{engine}\" in trials {first}-{last}: {} holds {n} trials",
                path.display()
            ),
        });
    }
    let note = if last > n {
        format!(", only trials {first}-{n} of {first}-{last} ran")
    } else {
        String::new()
    };
    Ok((first - 1..last.min(n), note))
}

/// Success rate per block of `block` trials, with the number of trials in each block (the last block
/// may be shorter).
pub fn learning_curve(successes: &[bool], block: usize) -> Vec<(f64, usize)> {
    successes
        .chunks(block.max(1))
        .map(|c| {
            (
                c.iter().filter(|s| **s).count() as f64 / c.len() as f64,
                c.len(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use neuroloop_core::experiment::PortRef;
    use neuroloop_core::payload::{Payload, SpikeBatch};
    use neuroloop_core::time::Step;

    use super::*;
    use crate::Recorder;

    fn port(label: &str) -> PortRef {
        let (e, p) = label.split_once('.').unwrap();
        PortRef {
            engine: e.into(),
            port: p.into(),
        }
    }

    fn win(t0: f64, t1: f64) -> Option<WindowMs> {
        Some(WindowMs {
            t0_ms: t0,
            t1_ms: t1,
        })
    }

    fn trials(a: u32, b: u32) -> Option<TrialRange> {
        Some(TrialRange { first: a, last: b })
    }

    /// 10 trials: trial k (1-based) succeeds when k is even; lateral at the bins [0.5, 1, 1.5] mm is
    /// [k, -k, null] (null for trial 3 at every bin); reaction time 100 k ms.
    fn trial_file(dir: &Path) -> PathBuf {
        let mut text = String::new();
        for k in 1..=10u32 {
            let outcome = if k % 2 == 0 { "success" } else { "timeout" };
            let lat = if k == 3 {
                "[null, null, null]".to_string()
            } else {
                format!("[{k}.0, -{k}.0, null]")
            };
            text.push_str(&format!(
                "{{\"index\": {}, \"block\": \"baseline\", \"outcome\": \"{outcome}\", \"reaction_time_ms\": {}, \"perturbed\": false, \"lateral_at_bins_mm\": {lat}, \"trajectory\": []}}\n",
                k - 1,
                100 * k
            ));
        }
        let path = dir.join("body.trials.jsonl");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn folder(dir: &Path) -> RunFolder {
        let path = trial_file(dir);
        let sources = BTreeMap::from([(
            "body".to_string(),
            TrialSource {
                path,
                bins_mm: Ok(vec![0.5, 1.0, 1.5]),
            },
        )]);
        RunFolder::new(dir, 10.0, sources)
    }

    #[test]
    fn success_rate_over_a_trial_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = folder(dir.path());
        let m = |r| Metric::SuccessRate {
            engine: "body".into(),
            trials: r,
        };
        let all = run.measure(&m(None), "k").unwrap();
        assert_eq!(all.value, 0.5);
        // Trials 2-4: successes at 2 and 4.
        let some = run.measure(&m(trials(2, 4)), "k").unwrap();
        assert!((some.value - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(some.detail, "2 of 3 trials");
        // 9-12: only 9 and 10 ran.
        let tail = run.measure(&m(trials(9, 12)), "k").unwrap();
        assert_eq!(tail.value, 0.5);
        assert!(tail.detail.contains("only trials 9-10"), "{}", tail.detail);
        let e = run
            .measure(&m(trials(11, 20)), "expect[0].metric")
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("expect[0].metric.trials") && text.contains("holds 10 trials"),
            "{text}"
        );
        assert_eq!(
            learning_curve(&run.successes("body", "k").unwrap(), 4),
            [(0.5, 4), (0.5, 4), (0.5, 2)]
        );
    }

    #[test]
    fn trial_mean_by_field_bin_and_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = folder(dir.path());
        let m = |field: &str, element, r| Metric::TrialMean {
            engine: "body".into(),
            field: field.into(),
            trials: r,
            element,
        };
        let rt = run
            .measure(&m("reaction_time_ms", None, trials(1, 4)), "k")
            .unwrap();
        assert_eq!(rt.value, 250.0);
        // Bin 1.0 mm is entry 1: -k, trial 3 missing: (-1 - 2 - 4) / 3.
        let lat = run
            .measure(
                &m(
                    "lateral_at_bins_mm",
                    Some(TrialElement::BinMm(1.0)),
                    trials(1, 4),
                ),
                "k",
            )
            .unwrap();
        assert!((lat.value + 7.0 / 3.0).abs() < 1e-12);
        assert_eq!(lat.detail, "3 of 4 trials with a value");
        let by_index = run
            .measure(
                &m("lateral_at_bins_mm", Some(TrialElement::Index(0)), None),
                "k",
            )
            .unwrap();
        assert!((by_index.value - 52.0 / 9.0).abs() < 1e-12);
        // |mean| and ratios of trial means.
        let ratio = Metric::Ratio(
            Box::new(Metric::Abs(Box::new(m(
                "lateral_at_bins_mm",
                Some(TrialElement::BinMm(1.0)),
                trials(9, 10),
            )))),
            Box::new(m(
                "lateral_at_bins_mm",
                Some(TrialElement::BinMm(0.5)),
                trials(1, 2),
            )),
        );
        assert_eq!(run.measure(&ratio, "k").unwrap().value, 9.5 / 1.5);
        let difference = Metric::Difference(
            Box::new(m(
                "lateral_at_bins_mm",
                Some(TrialElement::BinMm(1.0)),
                trials(9, 10),
            )),
            Box::new(m(
                "lateral_at_bins_mm",
                Some(TrialElement::BinMm(0.5)),
                trials(1, 2),
            )),
        );
        assert_eq!(run.measure(&difference, "k").unwrap().value, -9.5 - 1.5);
        // Errors name the key.
        let errs = [
            (m("nope", None, None), "k.field", "no field \"nope\""),
            (
                m("lateral_at_bins_mm", None, None),
                "k.field",
                "choose an entry",
            ),
            (
                m("lateral_at_bins_mm", Some(TrialElement::BinMm(0.7)), None),
                "k.bin_mm",
                "not one of the task's bins_mm",
            ),
            (
                m("lateral_at_bins_mm", Some(TrialElement::BinMm(1.5)), None),
                "k.field",
                "all missing",
            ),
            (m("block", None, None), "k.field", "not a number"),
        ];
        for (metric, key, text) in errs {
            let e = run.measure(&metric, "k").unwrap_err().to_string();
            assert!(e.starts_with(key) && e.contains(text), "{e}");
        }
    }

    #[test]
    fn missing_and_broken_trial_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = RunFolder::new(dir.path(), 10.0, BTreeMap::new());
        let m = Metric::SuccessRate {
            engine: "arm".into(),
            trials: None,
        };
        let e = run.measure(&m, "k").unwrap_err().to_string();
        assert!(e.contains("arm.trials.jsonl does not exist"), "{e}");
        std::fs::write(
            dir.path().join("arm.trials.jsonl"),
            "{\"outcome\": \"success\"}\n{oops\n",
        )
        .unwrap();
        let e = run.measure(&m, "k").unwrap_err().to_string();
        assert!(e.contains("arm.trials.jsonl line 2"), "{e}");
    }

    /// `a.pos` (x = t, y = 2t) at 1 ms for 10 ms, `b.est` (e = t + 1 on even steps) at 2 ms, spikes
    /// of 4 neurons: neuron k mod 4 at k - 0.5 ms for k = 1..10.
    fn recordings(dir: &Path) {
        let mut rec = Recorder::new(dir);
        let a = rec
            .create("a", "pos", &PortKind::analog(&[("x", "mm"), ("y", "mm")]))
            .unwrap();
        let b = rec
            .create("b", "est", &PortKind::analog(&[("e", "mm")]))
            .unwrap();
        let s = rec
            .create("n", "spikes", &PortKind::Spikes { size: 4 })
            .unwrap();
        for k in 1..=10u64 {
            let t = k as f64;
            rec.push(a, Step(k), t, &Payload::Analog(vec![t, 2.0 * t]))
                .unwrap();
            if k % 2 == 0 {
                rec.push(b, Step(k), t, &Payload::Analog(vec![t + 1.0]))
                    .unwrap();
            }
            let mut sp = SpikeBatch::default();
            sp.push((k % 4) as u32, t - 0.5);
            rec.push(s, Step(k), t, &Payload::Spikes(sp)).unwrap();
        }
        let (_, err) = rec.finish_all();
        assert!(err.is_none());
    }

    #[test]
    fn recording_metrics() {
        let dir = tempfile::tempdir().unwrap();
        recordings(dir.path());
        let mut run = RunFolder::new(dir.path(), 10.0, BTreeMap::new());
        let mean = |c: Option<ChannelSelect>, w| Metric::Mean {
            port: port("a.pos"),
            channel: c,
            window: w,
        };
        // (5, 10]: x = 6..10.
        let m = run
            .measure(
                &mean(Some(ChannelSelect::Name("x".into())), win(5.0, 10.0)),
                "k",
            )
            .unwrap();
        assert_eq!((m.value, m.detail.as_str()), (8.0, "5 samples"));
        let m = run
            .measure(&mean(Some(ChannelSelect::Index(1)), None), "k")
            .unwrap();
        assert_eq!(m.value, 11.0);
        // RMS of x - e over the even steps in (0, 6]: (t - (t + 1)) = -1 each.
        let rms = Metric::RmsError {
            port: port("a.pos"),
            channel: Some(ChannelSelect::Name("x".into())),
            reference: port("b.est"),
            reference_channel: None,
            window: win(0.0, 6.0),
        };
        let m = run.measure(&rms, "k").unwrap();
        assert_eq!((m.value, m.detail.as_str()), (1.0, "3 paired samples"));
        // y - e: y = 2t, e = t + 1 at t = 2, 4: (1, 3) -> sqrt(5).
        let rms_y = Metric::RmsError {
            port: port("a.pos"),
            channel: Some(ChannelSelect::Name("y".into())),
            reference: port("b.est"),
            reference_channel: Some(ChannelSelect::Index(0)),
            window: win(0.0, 4.0),
        };
        assert!((run.measure(&rms_y, "k").unwrap().value - 5f64.sqrt()).abs() < 1e-12);
        // Spikes: in (2, 6]: spikes at 2.5, 3.5, 4.5, 5.5 (neurons 3, 0, 1, 2).
        let count = |n, w| Metric::SpikeCount {
            port: port("n.spikes"),
            neurons: n,
            window: w,
        };
        assert_eq!(
            run.measure(&count(None, win(2.0, 6.0)), "k").unwrap().value,
            4.0
        );
        assert_eq!(
            run.measure(&count(Some((0, 1)), win(2.0, 6.0)), "k")
                .unwrap()
                .value,
            2.0
        );
        assert_eq!(run.measure(&count(None, None), "k").unwrap().value, 10.0);
        // 10 spikes of 4 neurons in 10 ms: 250 Hz.
        let rate = Metric::SpikeRate {
            port: port("n.spikes"),
            neurons: None,
            window: None,
        };
        assert_eq!(run.measure(&rate, "k").unwrap().value, 250.0);
        // A window past the run's 10 ms is cut there: spikes at 5.5 .. 9.5 in (5, 10], 5 ms.
        let late = Metric::SpikeRate {
            port: port("n.spikes"),
            neurons: None,
            window: win(5.0, 20.0),
        };
        let m = run.measure(&late, "k").unwrap();
        assert_eq!(
            (m.value, m.detail.as_str()),
            (250.0, "5 spikes of 4 neurons in 5 ms")
        );
        let e = run
            .measure(&count(None, win(10.0, 20.0)), "k")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("k.window_ms") && e.contains("after the run's 10 ms"),
            "{e}"
        );
        // Errors.
        let errs = [
            (mean(None, None), "k.channel", "has 2 channels"),
            (
                mean(Some(ChannelSelect::Name("z".into())), None),
                "k.channel",
                "no channel \"z\"",
            ),
            (
                mean(Some(ChannelSelect::Index(0)), win(10.0, 20.0)),
                "k.window_ms",
                "no samples",
            ),
            (count(Some((0, 4)), None), "k.neurons", "past the 4 neurons"),
            (
                Metric::Mean {
                    port: port("n.spikes"),
                    channel: None,
                    window: None,
                },
                "k.port",
                "not an analog",
            ),
            (
                Metric::Mean {
                    port: port("c.none"),
                    channel: None,
                    window: None,
                },
                "k",
                "c.none.parquet does not exist",
            ),
        ];
        for (metric, key, text) in errs {
            let e = run.measure(&metric, "k").unwrap_err().to_string();
            assert!(e.starts_with(key) && e.contains(text), "{e}");
        }
    }
}
