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
    channel_index, ChannelSelect, Decoded, DecodedQuantity, Decoder, Metric, TrialElement,
    TrialRange, WindowMs,
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
            Metric::Decoded(d) => self.decoded(d, key),
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

    /// A [`Metric::Decoded`]: the decoders' estimates and the reference at the common samples, then
    /// the quantity.
    fn decoded(&mut self, d: &Decoded, key: &str) -> Result<Measured, MeasureError> {
        let w = self.window(&d.window);
        let (t0, t1) = (w.t0_ms.max(0.0), w.t1_ms.min(self.duration_ms));
        let (ref_rec, ref_col) = self.channel(
            &d.reference.to_string(),
            &d.reference_channel,
            key,
            "reference_channel",
        )?;
        let reference = Windowed::new(ref_rec.t_ms.iter().copied().zip(ref_col));
        let mut decoders = Vec::new();
        for x in &d.decoders {
            decoders.push(self.decoder_series(x, key)?);
        }
        let mut samples: Vec<(f64, Vec<f64>)> = Vec::new();
        let mut k = 0u64;
        loop {
            let t = t0 + d.decode_ms + k as f64 * d.every_ms;
            k += 1;
            if t > t1 {
                break;
            }
            let Some((r, _)) = reference.mean(t - d.decode_ms, t) else {
                continue;
            };
            let est: Option<Vec<f64>> = decoders
                .iter()
                .zip(&d.decoders)
                .map(|(s, x)| {
                    s.mean(t - d.decode_ms, t)
                        .filter(|(_, n)| *n >= x.min_spikes as usize)
                        .map(|(e, _)| e - r)
                })
                .collect();
            if let Some(errors) = est {
                samples.push((t, errors));
            }
        }
        let names: Vec<&str> = d.decoders.iter().map(|x| x.name.as_str()).collect();
        let need = match d.quantity {
            DecodedQuantity::RmsError => 1,
            DecodedQuantity::Weight { .. } => d.decoders.len() + 1,
        };
        if samples.len() < need {
            return Err(MeasureError::Selection {
                key: join(key, "window_ms"),
                reason: format!(
                    "{} samples in {t0}-{t1} ms where every decoder ({}) has at least its min_spikes in {} ms (needs {need})",
                    samples.len(),
                    names.join(", "),
                    d.decode_ms
                ),
            });
        }
        let n = samples.len();
        match d.quantity {
            DecodedQuantity::RmsError => {
                let ms = samples.iter().map(|(_, e)| e[0] * e[0]).sum::<f64>() / n as f64;
                Ok(Measured {
                    value: ms.sqrt(),
                    detail: format!("{n} samples every {} ms", d.every_ms),
                })
            }
            DecodedQuantity::Weight { cue, predicted } => {
                let m = d.decoders.len() - 1;
                let mut mean = vec![0.0; m + 1];
                for (_, e) in &samples {
                    for (a, x) in mean.iter_mut().zip(e) {
                        *a += x / n as f64;
                    }
                }
                let centred: Vec<Vec<f64>> = samples
                    .iter()
                    .map(|(_, e)| e.iter().zip(&mean).map(|(x, a)| x - a).collect())
                    .collect();
                let cov = |i: usize, j: usize| {
                    centred.iter().map(|e| e[i] * e[j]).sum::<f64>() / n as f64
                };
                let var: Vec<f64> = (1..=m).map(|i| cov(i, i)).collect();
                let sd: Vec<String> = var.iter().map(|v| format!("{:.3}", v.sqrt())).collect();
                let detail = format!(
                    "{n} samples; error sd of {}: {}",
                    names[1..].join(", "),
                    sd.join(", ")
                );
                if predicted {
                    if var.iter().any(|v| *v <= 0.0) {
                        return Err(MeasureError::Selection {
                            key: key.to_string(),
                            reason: "a cue's error has no variance: inverse-variance weights are undefined".into(),
                        });
                    }
                    let total: f64 = var.iter().map(|v| 1.0 / v).sum();
                    return Ok(Measured {
                        value: (1.0 / var[cue]) / total,
                        detail,
                    });
                }
                // Least squares: cov(cues) w = cov(cues, combined).
                let a: Vec<Vec<f64>> = (1..=m)
                    .map(|i| (1..=m).map(|j| cov(i, j)).collect())
                    .collect();
                let b: Vec<f64> = (1..=m).map(|i| cov(i, 0)).collect();
                let weights = solve(a, b).ok_or_else(|| MeasureError::Selection {
                    key: key.to_string(),
                    reason: format!(
                        "the cues' errors ({}) are linearly dependent: their weights cannot be told apart",
                        names[1..].join(", ")
                    ),
                })?;
                let all: Vec<String> = weights.iter().map(|x| format!("{x:.3}")).collect();
                Ok(Measured {
                    value: weights[cue],
                    detail: format!("{detail}; weights {}", all.join(", ")),
                })
            }
        }
    }

    /// The (time, preferred value) of every spike of a decoder's port, by time.
    fn decoder_series(&mut self, x: &Decoder, key: &str) -> Result<Windowed, MeasureError> {
        let rec = self.recording(&x.port.to_string(), key)?;
        let RecordedData::Spikes { neuron, .. } = &rec.data else {
            return Err(MeasureError::Selection {
                key: join(key, "decoder"),
                reason: format!(
                    "decoder \"{}\": {} is not a spikes recording",
                    x.name,
                    rec.path.display()
                ),
            });
        };
        Ok(Windowed::new(
            rec.t_ms
                .iter()
                .zip(neuron)
                .map(|(t, &i)| (*t, x.preferred(i))),
        ))
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

/// Values stamped with times, sorted by time, with prefix sums: the mean over any window `(a, b]`.
struct Windowed {
    t_ms: Vec<f64>,
    /// `sum[i]` = sum of the first i values.
    sum: Vec<f64>,
}

impl Windowed {
    fn new(items: impl Iterator<Item = (f64, f64)>) -> Self {
        let mut v: Vec<(f64, f64)> = items
            .filter(|(t, x)| t.is_finite() && x.is_finite())
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut sum = Vec::with_capacity(v.len() + 1);
        sum.push(0.0);
        let mut s = 0.0;
        for (_, x) in &v {
            s += x;
            sum.push(s);
        }
        Windowed {
            t_ms: v.into_iter().map(|(t, _)| t).collect(),
            sum,
        }
    }

    /// Mean and count of the values with `a < t <= b`; None when there are none.
    fn mean(&self, a: f64, b: f64) -> Option<(f64, usize)> {
        let i = self.t_ms.partition_point(|&t| t <= a);
        let j = self.t_ms.partition_point(|&t| t <= b);
        (j > i).then(|| ((self.sum[j] - self.sum[i]) / (j - i) as f64, j - i))
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; None when `a` is (nearly)
/// singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    let scale = a
        .iter()
        .flatten()
        .fold(0.0f64, |m, x| m.max(x.abs()))
        .max(f64::MIN_POSITIVE);
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() <= 1e-12 * scale {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        let (top, rest) = a.split_at_mut(c + 1);
        let pivot = &top[c];
        for (i, row) in rest.iter_mut().enumerate() {
            let f = row[c] / pivot[c];
            for (x, p) in row[c..].iter_mut().zip(&pivot[c..]) {
                *x -= f * p;
            }
            b[c + 1 + i] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
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

    /// A reference at 0 (1 ms steps, 400 ms) and four populations on the lattice -5 + 0.001 i: cues
    /// a, b, c fire one spike per 10 ms window at the value of their error e_a, e_b, e_c (sd 0.1,
    /// 0.2, 0.4, independent); 'comb' fires at 0.5 e_a + 0.3 e_b + 0.2 e_c.
    fn cue_recordings(dir: &Path) -> Vec<[f64; 3]> {
        let mut rec = Recorder::new(dir);
        let r = rec
            .create("body", "pos", &PortKind::analog(&[("x", "mm")]))
            .unwrap();
        let names = ["a", "b", "c", "comb"];
        let ports: Vec<_> = names
            .iter()
            .map(|n| {
                rec.create("brain", n, &PortKind::Spikes { size: 10_000 })
                    .unwrap()
            })
            .collect();
        let mut state = 12345u64;
        let mut uniform = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut errors = Vec::new();
        for k in 1..=400u64 {
            rec.push(r, Step(k), k as f64, &Payload::Analog(vec![0.0]))
                .unwrap();
            if k % 10 == 5 {
                // Sums of 12 uniforms: sd 1.
                let mut normal = || (0..12).map(|_| uniform()).sum::<f64>() - 6.0;
                let e = [0.1 * normal(), 0.2 * normal(), 0.4 * normal()];
                let comb = 0.5 * e[0] + 0.3 * e[1] + 0.2 * e[2];
                for (port, v) in ports.iter().zip([e[0], e[1], e[2], comb]) {
                    let mut sp = SpikeBatch::default();
                    sp.push(((v + 5.0) / 0.001).round() as u32, k as f64 - 0.5);
                    rec.push(*port, Step(k), k as f64, &Payload::Spikes(sp))
                        .unwrap();
                }
                errors.push(e);
            }
        }
        let (_, err) = rec.finish_all();
        assert!(err.is_none());
        errors
    }

    fn decoder(name: &str) -> Decoder {
        Decoder {
            name: name.into(),
            port: port(&format!("brain.{name}")),
            first: -5.0,
            step: 0.001,
            per: 1,
            period: None,
            min_spikes: 1,
        }
    }

    fn decoded(quantity: DecodedQuantity, names: &[&str]) -> Metric {
        Metric::Decoded(Box::new(Decoded {
            quantity,
            decoders: names.iter().map(|n| decoder(n)).collect(),
            reference: port("body.pos"),
            reference_channel: None,
            decode_ms: 10.0,
            every_ms: 10.0,
            window: None,
        }))
    }

    #[test]
    fn decoded_errors_and_cue_weights() {
        let dir = tempfile::tempdir().unwrap();
        let errors = cue_recordings(dir.path());
        let mut run = RunFolder::new(dir.path(), 400.0, BTreeMap::new());
        let n = errors.len() as f64;
        // One spike per window: the estimate is the spike's value, the reference 0.
        let rms_a = (errors.iter().map(|e| e[0] * e[0]).sum::<f64>() / n).sqrt();
        let m = run
            .measure(&decoded(DecodedQuantity::RmsError, &["a"]), "k")
            .unwrap();
        assert!((m.value - rms_a).abs() < 1e-3, "{} vs {rms_a}", m.value);
        assert_eq!(m.detail, "40 samples every 10 ms");
        // The weights the combined population was built with come back (up to the 0.001 lattice).
        let cues = ["comb", "a", "b", "c"];
        for (cue, w) in [0.5, 0.3, 0.2].into_iter().enumerate() {
            let q = DecodedQuantity::Weight {
                cue,
                predicted: false,
            };
            let m = run.measure(&decoded(q, &cues), "k").unwrap();
            assert!(
                (m.value - w).abs() < 0.01,
                "cue {cue}: {} ({})",
                m.value,
                m.detail
            );
        }
        // Predicted: inverse variances of the cues' (centred) errors.
        let var: Vec<f64> = (0..3)
            .map(|i| {
                let mean = errors.iter().map(|e| e[i]).sum::<f64>() / n;
                errors.iter().map(|e| (e[i] - mean).powi(2)).sum::<f64>() / n
            })
            .collect();
        let total: f64 = var.iter().map(|v| 1.0 / v).sum();
        let q = DecodedQuantity::Weight {
            cue: 0,
            predicted: true,
        };
        let m = run.measure(&decoded(q, &cues), "k").unwrap();
        assert!(
            (m.value - (1.0 / var[0]) / total).abs() < 0.01,
            "{}",
            m.value
        );
        // Windows without spikes have no estimate: with a 5 ms window every other sample is empty.
        let mut half = decoded(DecodedQuantity::RmsError, &["a"]);
        if let Metric::Decoded(d) = &mut half {
            d.decode_ms = 5.0;
            d.every_ms = 5.0;
        }
        let m = run.measure(&half, "k").unwrap();
        assert_eq!(m.detail, "40 samples every 5 ms");
        // Two copies of one cue cannot be told apart.
        let e = run
            .measure(&decoded(q_measured(0), &["comb", "a", "a"]), "k")
            .unwrap_err()
            .to_string();
        assert!(e.contains("linearly dependent"), "{e}");
        // A decoder on an analog recording is refused with the file named.
        let mut wrong = decoded(DecodedQuantity::RmsError, &["a"]);
        if let Metric::Decoded(d) = &mut wrong {
            d.decoders[0].port = port("body.pos");
        }
        let e = run.measure(&wrong, "k").unwrap_err().to_string();
        assert!(
            e.contains("body.pos.parquet is not a spikes recording"),
            "{e}"
        );
    }

    fn q_measured(cue: usize) -> DecodedQuantity {
        DecodedQuantity::Weight {
            cue,
            predicted: false,
        }
    }
}
