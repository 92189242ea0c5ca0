//! Reading a finished recording back: [`Recording::read`] loads `<engine>.<port>.parquet` (the layout of
//! [`schema_for`](crate::schema_for)) into columns.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
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
    /// An events port (rows kept, event fields not read).
    Events,
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

impl Recording {
    /// Reads the recording at `path`. A file that is missing, not Parquet, or without the columns of a
    /// recording is an error naming it.
    pub fn read(path: &Path) -> Result<Self, RecordError> {
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
        let mut data = if rest.len() == 1
            && rest[0].name() == "neuron"
            && rest[0].data_type() == &DataType::UInt32
        {
            RecordedData::Spikes {
                neuron: Vec::new(),
                size: rest[0].metadata().get("size").and_then(|s| s.parse().ok()),
            }
        } else if names[2..] == ["x", "y", "polarity"] && rest[2].data_type() == &DataType::Boolean
        {
            RecordedData::Events
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
        let reader = builder.build().map_err(RecordError::parquet(path))?;
        let (mut step, mut t_ms, mut episode) = (Vec::new(), Vec::new(), Vec::new());
        for batch in reader {
            let batch: RecordBatch = batch.map_err(RecordError::arrow(path))?;
            let cols = batch.columns();
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
                RecordedData::Events => {}
            }
        }
        Ok(Recording {
            path: path.to_path_buf(),
            step,
            t_ms,
            episode,
            data,
        })
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
            RecordedData::Events => RecordedData::Events,
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
