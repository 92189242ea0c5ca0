//! Reading a finished recording back: [`Recording::read`] loads `<engine>.<port>.parquet` (the layout of
//! [`schema_for`](crate::schema_for)) into columns; [`Recording::read_chunks`] hands it over one record
//! batch at a time, for recordings too large to hold in memory.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt16Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::RecordError;

/// What a recording holds besides `step` and `t_ms`.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordedData {
    /// An analog or scalar port: one column per channel (`value` for a scalar).
    Values {
        /// Column names (channel names, made unique as in [`schema_for`](crate::schema_for)).
        names: Vec<String>,
        /// Unit of each column.
        units: Vec<String>,
        /// The columns, one value per row.
        columns: Vec<Vec<f64>>,
    },
    /// A spike port: one row per spike.
    Spikes {
        /// Neuron index of each spike.
        neuron: Vec<u32>,
        /// Population size, when the recording states it (field metadata `size` of `neuron`).
        size: Option<u32>,
    },
    /// An events port: one row per address event.
    Events {
        /// Column of each event.
        x: Vec<u16>,
        /// Row of each event.
        y: Vec<u16>,
        /// Polarity of each event (`true` ON: brighter).
        polarity: Vec<bool>,
    },
}

/// A recording read back from its Parquet file.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// The file read.
    pub path: PathBuf,
    /// Producer step end of each row.
    pub step: Vec<u64>,
    /// Time of each row, ms (step end for analog and scalar rows, spike or event time otherwise).
    pub t_ms: Vec<f64>,
    /// Episode of the run of each row (0 unless the run was reset; 0 for recordings made before the
    /// column existed).
    pub episode: Vec<u32>,
    /// The other columns.
    pub data: RecordedData,
}

fn column_f64(a: &ArrayRef, name: &str, out: &mut Vec<f64>) -> Result<(), String> {
    let p = a
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| format!("column {name} is {}, expected Float64", a.data_type()))?;
    if p.null_count() > 0 {
        return Err(format!("column {name} holds nulls"));
    }
    out.extend_from_slice(p.values());
    Ok(())
}

impl RecordedData {
    /// Empty columns of the same layout.
    fn empty_like(&self) -> RecordedData {
        match self {
            RecordedData::Values { names, units, .. } => RecordedData::Values {
                names: names.clone(),
                units: units.clone(),
                columns: vec![Vec::new(); names.len()],
            },
            RecordedData::Spikes { size, .. } => RecordedData::Spikes {
                neuron: Vec::new(),
                size: *size,
            },
            RecordedData::Events { .. } => RecordedData::Events {
                x: Vec::new(),
                y: Vec::new(),
                polarity: Vec::new(),
            },
        }
    }
}

impl Recording {
    /// Reads the recording at `path`. A file that is missing, not Parquet, or without the columns of a
    /// recording is an error naming it.
    pub fn read(path: &Path) -> Result<Self, RecordError> {
        let mut all: Option<Recording> = None;
        Self::read_chunks(path, |chunk| match &mut all {
            None => all = Some(chunk),
            Some(a) => a.append(chunk),
        })?;
        all.ok_or_else(|| RecordError::NotARecording {
            path: path.to_path_buf(),
            reason: "no columns were read".into(),
        })
    }

    /// Reads the recording at `path` one record batch (at most [`ROW_GROUP_ROWS`](crate::ROW_GROUP_ROWS)
    /// rows) at a time and hands each to `each` as a [`Recording`] of those rows, so that a
    /// recording larger than memory can be summarized. `each` is called at least once (with no rows
    /// for an empty recording). Errors as [`read`](Self::read); chunks before a broken batch have
    /// been handed over.
    pub fn read_chunks(path: &Path, mut each: impl FnMut(Recording)) -> Result<(), RecordError> {
        let (builder, layout, has_episode) = Self::open(path)?;
        let mismatch = |reason: String| RecordError::NotARecording {
            path: path.to_path_buf(),
            reason,
        };
        let reader = builder.build().map_err(RecordError::parquet(path))?;
        let mut handed = false;
        for batch in reader {
            let batch: RecordBatch = batch.map_err(RecordError::arrow(path))?;
            let cols = batch.columns();
            let (mut step, mut t_ms, mut episode) = (Vec::new(), Vec::new(), Vec::new());
            let s = cols[0]
                .as_primitive_opt::<UInt64Type>()
                .ok_or_else(|| mismatch("column step is not UInt64".into()))?;
            step.extend_from_slice(s.values());
            column_f64(&cols[1], "t_ms", &mut t_ms).map_err(mismatch)?;
            if has_episode {
                let e = cols[cols.len() - 1]
                    .as_primitive_opt::<UInt32Type>()
                    .ok_or_else(|| mismatch("column episode is not UInt32".into()))?;
                episode.extend_from_slice(e.values());
            } else {
                episode.resize(step.len(), 0);
            }
            let mut data = layout.empty_like();
            match &mut data {
                RecordedData::Values { names, columns, .. } => {
                    for (i, c) in columns.iter_mut().enumerate() {
                        column_f64(&cols[2 + i], &names[i], c).map_err(mismatch)?;
                    }
                }
                RecordedData::Spikes { neuron, .. } => {
                    let n = cols[2]
                        .as_primitive_opt::<UInt32Type>()
                        .ok_or_else(|| mismatch("column neuron is not UInt32".into()))?;
                    neuron.extend_from_slice(n.values());
                }
                RecordedData::Events { x, y, polarity } => {
                    let u16_column = |i: usize, name: &str, out: &mut Vec<u16>| {
                        cols[i]
                            .as_primitive_opt::<UInt16Type>()
                            .map(|a| out.extend_from_slice(a.values()))
                            .ok_or_else(|| mismatch(format!("column {name} is not UInt16")))
                    };
                    u16_column(2, "x", x)?;
                    u16_column(3, "y", y)?;
                    let p = cols[4]
                        .as_boolean_opt()
                        .ok_or_else(|| mismatch("column polarity is not Boolean".into()))?;
                    polarity.extend(p.values().iter());
                }
            }
            handed = true;
            each(Recording {
                path: path.to_path_buf(),
                step,
                t_ms,
                episode,
                data,
            });
        }
        if !handed {
            each(Recording {
                path: path.to_path_buf(),
                step: Vec::new(),
                t_ms: Vec::new(),
                episode: Vec::new(),
                data: layout,
            });
        }
        Ok(())
    }

    /// What the recording at `path` holds (its columns, with no rows), read from its schema only.
    pub fn layout_of(path: &Path) -> Result<RecordedData, RecordError> {
        Self::open(path).map(|(_, layout, _)| layout)
    }

    /// Opens the recording at `path`: its reader, layout (no rows) and whether it has an episode
    /// column.
    fn open(
        path: &Path,
    ) -> Result<(ParquetRecordBatchReaderBuilder<File>, RecordedData, bool), RecordError> {
        let file = File::open(path).map_err(RecordError::io("open", path))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(RecordError::parquet(path))?;
        let schema = builder.schema().clone();
        let mismatch = |reason: String| RecordError::NotARecording {
            path: path.to_path_buf(),
            reason,
        };
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        if names.len() < 2 || names[0] != "step" || names[1] != "t_ms" {
            return Err(mismatch(format!(
                "columns {names:?} do not start with step, t_ms"
            )));
        }
        let fields = schema.fields();
        let has_episode = fields.len() > 2
            && fields[fields.len() - 1].name() == "episode"
            && fields[fields.len() - 1].data_type() == &DataType::UInt32;
        let rest = &fields[2..fields.len() - usize::from(has_episode)];
        let names = &names[..2 + rest.len()];
        let layout = if rest.len() == 1
            && rest[0].name() == "neuron"
            && rest[0].data_type() == &DataType::UInt32
        {
            RecordedData::Spikes {
                neuron: Vec::new(),
                size: rest[0].metadata().get("size").and_then(|s| s.parse().ok()),
            }
        } else if names[2..] == ["x", "y", "polarity"]
            && rest[0].data_type() == &DataType::UInt16
            && rest[1].data_type() == &DataType::UInt16
            && rest[2].data_type() == &DataType::Boolean
        {
            RecordedData::Events {
                x: Vec::new(),
                y: Vec::new(),
                polarity: Vec::new(),
            }
        } else if rest.iter().all(|f| f.data_type() == &DataType::Float64) {
            RecordedData::Values {
                names: rest.iter().map(|f| f.name().clone()).collect(),
                units: rest
                    .iter()
                    .map(|f| f.metadata().get("unit").cloned().unwrap_or_default())
                    .collect(),
                columns: vec![Vec::new(); rest.len()],
            }
        } else {
            return Err(mismatch(format!(
                "columns {names:?} are not those of an analog, scalar, spikes or events recording"
            )));
        };
        Ok((builder, layout, has_episode))
    }

    /// Appends the rows of `more`, a chunk of the same recording.
    fn append(&mut self, more: Recording) {
        self.step.extend(more.step);
        self.t_ms.extend(more.t_ms);
        self.episode.extend(more.episode);
        match (&mut self.data, more.data) {
            (RecordedData::Values { columns, .. }, RecordedData::Values { columns: c, .. }) => {
                for (a, b) in columns.iter_mut().zip(c) {
                    a.extend(b);
                }
            }
            (RecordedData::Spikes { neuron, .. }, RecordedData::Spikes { neuron: n, .. }) => {
                neuron.extend(n)
            }
            (
                RecordedData::Events { x, y, polarity },
                RecordedData::Events {
                    x: x2,
                    y: y2,
                    polarity: p2,
                },
            ) => {
                x.extend(x2);
                y.extend(y2);
                polarity.extend(p2);
            }
            _ => {}
        }
    }

    /// The rows of episode `episode` only.
    pub fn episode_only(&self, episode: u32) -> Recording {
        let keep: Vec<bool> = self.episode.iter().map(|&e| e == episode).collect();
        fn pick<T: Clone>(v: &[T], keep: &[bool]) -> Vec<T> {
            v.iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(x, _)| x.clone())
                .collect()
        }
        let data = match &self.data {
            RecordedData::Values {
                names,
                units,
                columns,
            } => RecordedData::Values {
                names: names.clone(),
                units: units.clone(),
                columns: columns.iter().map(|c| pick(c, &keep)).collect(),
            },
            RecordedData::Spikes { neuron, size } => RecordedData::Spikes {
                neuron: pick(neuron, &keep),
                size: *size,
            },
            RecordedData::Events { x, y, polarity } => RecordedData::Events {
                x: pick(x, &keep),
                y: pick(y, &keep),
                polarity: pick(polarity, &keep),
            },
        };
        Recording {
            path: self.path.clone(),
            step: pick(&self.step, &keep),
            t_ms: pick(&self.t_ms, &keep),
            episode: pick(&self.episode, &keep),
            data,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.step.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.step.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use neuroloop_core::payload::{Payload, SpikeBatch};
    use neuroloop_core::port::PortKind;
    use neuroloop_core::time::Step;

    use super::*;
    use crate::Recorder;

    #[test]
    fn reads_back_what_the_recorder_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = Recorder::new(dir.path());
        let a = rec
            .create("arm", "pos", &PortKind::analog(&[("x", "m"), ("x", "m")]))
            .unwrap();
        let s = rec
            .create("src", "spikes", &PortKind::Spikes { size: 7 })
            .unwrap();
        let v = rec
            .create("body", "reward", &PortKind::Scalar { unit: "1".into() })
            .unwrap();
        for k in 1..=3u64 {
            let t = k as f64;
            rec.push(a, Step(k), t, &Payload::Analog(vec![t, -t]))
                .unwrap();
            rec.push(v, Step(k), t, &Payload::Scalar(0.5 * t)).unwrap();
            let mut b = SpikeBatch::default();
            b.push(k as u32, t - 0.5);
            b.push(6, t - 0.25);
            rec.push(s, Step(k), t, &Payload::Spikes(b)).unwrap();
        }
        let (files, err) = rec.finish_all();
        assert!(err.is_none());
        let arm = Recording::read(&files[0]).unwrap();
        assert_eq!(arm.step, [1, 2, 3]);
        assert_eq!(arm.t_ms, [1.0, 2.0, 3.0]);
        assert_eq!(
            arm.data,
            RecordedData::Values {
                names: vec!["x".into(), "x_1".into()],
                units: vec!["m".into(), "m".into()],
                columns: vec![vec![1.0, 2.0, 3.0], vec![-1.0, -2.0, -3.0]],
            }
        );
        let spikes = Recording::read(&files[1]).unwrap();
        assert_eq!(spikes.len(), 6);
        assert_eq!(spikes.t_ms[..2], [0.5, 0.75]);
        assert_eq!(
            spikes.data,
            RecordedData::Spikes {
                neuron: vec![1, 6, 2, 6, 3, 6],
                size: Some(7)
            }
        );
        let reward = Recording::read(&files[2]).unwrap();
        match reward.data {
            RecordedData::Values { names, columns, .. } => {
                assert_eq!(names, ["value"]);
                assert_eq!(columns, [vec![0.5, 1.0, 1.5]]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_are_read_and_large_recordings_come_in_chunks() {
        use neuroloop_core::payload::EventBatch;
        let dir = tempfile::tempdir().unwrap();
        let mut rec = Recorder::new(dir.path());
        let cam = rec
            .create(
                "cam",
                "events",
                &PortKind::Events {
                    width: 4,
                    height: 3,
                },
            )
            .unwrap();
        // More rows than one row group: at least two chunks.
        let n = crate::ROW_GROUP_ROWS as u64 + 10;
        for k in 1..=n {
            let mut b = EventBatch::default();
            b.push((k % 4) as u16, (k % 3) as u16, k as f64, k % 2 == 0);
            rec.push(cam, Step(k), k as f64, &Payload::Events(b))
                .unwrap();
        }
        let (files, err) = rec.finish_all();
        assert!(err.is_none());
        let mut chunks = 0;
        let mut rows = 0;
        Recording::read_chunks(&files[0], |c| {
            chunks += 1;
            rows += c.len();
        })
        .unwrap();
        assert!(chunks >= 2, "{chunks} chunks");
        assert_eq!(
            Recording::layout_of(&files[0]).unwrap(),
            RecordedData::Events {
                x: vec![],
                y: vec![],
                polarity: vec![]
            }
        );
        assert_eq!(rows as u64, n);
        let all = Recording::read(&files[0]).unwrap();
        assert_eq!(all.len() as u64, n);
        let RecordedData::Events { x, y, polarity } = &all.data else {
            panic!("{:?}", all.data.empty_like());
        };
        assert_eq!((x[0], y[0], polarity[0]), (1, 1, false));
        assert_eq!((x[1], y[1], polarity[1]), (2, 2, true));
        assert_eq!(x.len(), all.len());
        assert_eq!(all.t_ms.last(), Some(&(n as f64)));
    }

    #[test]
    fn a_file_that_is_not_a_recording_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        std::fs::write(&path, b"not parquet").unwrap();
        let e = Recording::read(&path).unwrap_err().to_string();
        assert!(e.contains("x.parquet"), "{e}");
        let e = Recording::read(&dir.path().join("missing.parquet"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.parquet"), "{e}");
    }
}
