//! [`PortRecorder`]: the recording of one output port, as part files during the run and one Parquet file
//! at the end.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt16Type, UInt32Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BooleanArray, Float64Array, RecordBatch, UInt16Array,
    UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use neuroloop_core::payload::Payload;
use neuroloop_core::port::{valid_name, PortKind};
use neuroloop_core::time::Step;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::RecordError;

/// Number of rows in every row group of a final recording file (the last one may hold fewer).
///
/// Fixed so that the final file depends only on the recorded rows, never on when
/// [`PortRecorder::flush`] was called.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// Name of the hidden folder, inside the run folder, that holds the part files of every recording.
pub const PARTS_DIR: &str = ".parts";

/// Rows per batch when reading part files back for the final merge.
const READ_BATCH_ROWS: usize = 8_192;

/// The Parquet writer settings shared by part files and final files: snappy compression, a fixed row
/// group size, no key-value metadata besides the Arrow schema (no timestamps, no host names).
fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(None)
        .build()
}

/// The Arrow schema of a recording of a port of kind `kind`.
///
/// - analog: `step` (UInt64), `t_ms` (Float64), one Float64 column per channel, named after the channel
///   (made unique with `_1`, `_2`, ... suffixes), with field metadata `{"unit": ...}`;
/// - scalar: `step`, `t_ms`, `value` (Float64, metadata `unit`);
/// - spikes: one row per spike: `step` (producer step end), `t_ms` (spike time), `neuron` (UInt32,
///   metadata `size`: the population size);
/// - events: one row per event: `step`, `t_ms` (event time), `x`, `y` (UInt16), `polarity` (Boolean);
/// - every kind ends with `episode` (UInt32): the episode of the run, 0 unless the run was reset
///   (`neuroloop_run::Run::reset`); `step` and `t_ms` start again at 0 in each episode.
///
/// ```
/// use neuroloop_core::port::PortKind;
/// use neuroloop_record::schema_for;
///
/// let schema = schema_for(&PortKind::analog(&[("elbow", "rad"), ("elbow", "rad"), ("t_ms", "ms")]));
/// let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
/// assert_eq!(names, ["step", "t_ms", "elbow", "elbow_1", "t_ms_1", "episode"]);
/// assert_eq!(schema.field(2).metadata().get("unit").map(String::as_str), Some("rad"));
/// ```
pub fn schema_for(kind: &PortKind) -> SchemaRef {
    let mut fields = vec![
        Field::new("step", DataType::UInt64, false),
        Field::new("t_ms", DataType::Float64, false),
    ];
    let with_unit =
        |f: Field, unit: &str| f.with_metadata(arrow_schema::Metadata::new().with("unit", unit));
    match kind {
        PortKind::Analog { channels } => {
            let mut used: Vec<String> = vec!["step".into(), "t_ms".into(), "episode".into()];
            for (i, ch) in channels.iter().enumerate() {
                let base = if ch.name.is_empty() {
                    format!("channel_{i}")
                } else {
                    ch.name.clone()
                };
                let mut name = base.clone();
                let mut k = 1;
                while used.contains(&name) {
                    name = format!("{base}_{k}");
                    k += 1;
                }
                used.push(name.clone());
                fields.push(with_unit(
                    Field::new(name, DataType::Float64, false),
                    &ch.unit,
                ));
            }
        }
        PortKind::Scalar { unit } => {
            fields.push(with_unit(
                Field::new("value", DataType::Float64, false),
                unit,
            ));
        }
        PortKind::Spikes { size } => fields.push(
            Field::new("neuron", DataType::UInt32, false)
                .with_metadata(arrow_schema::Metadata::new().with("size", size.to_string())),
        ),
        PortKind::Events { .. } => {
            fields.push(Field::new("x", DataType::UInt16, false));
            fields.push(Field::new("y", DataType::UInt16, false));
            fields.push(Field::new("polarity", DataType::Boolean, false));
        }
    }
    // The episode of the run (0 unless the run was reset), last so that the kind's columns keep
    // their places.
    fields.push(Field::new("episode", DataType::UInt32, false));
    Arc::new(Schema::new(fields))
}

/// The kind-specific columns of a buffer of rows.
#[derive(Clone, Debug)]
enum Rest {
    Analog(Vec<Vec<f64>>),
    Scalar(Vec<f64>),
    Spikes(Vec<u32>),
    Events {
        x: Vec<u16>,
        y: Vec<u16>,
        polarity: Vec<bool>,
    },
}

/// Rows buffered in memory, column by column, in the order of [`schema_for`].
#[derive(Clone, Debug)]
struct Rows {
    step: Vec<u64>,
    t_ms: Vec<f64>,
    episode: Vec<u32>,
    rest: Rest,
}

/// Moves the first `n` values of `v` out (all of them if it holds fewer).
fn take_front<T>(v: &mut Vec<T>, n: usize) -> Vec<T> {
    let rest = v.split_off(n.min(v.len()));
    std::mem::replace(v, rest)
}

/// Appends the values of a non-null primitive array to `v`.
fn extend_primitive<T: ArrowPrimitiveType>(
    v: &mut Vec<T::Native>,
    a: &ArrayRef,
    name: &str,
) -> Result<(), String> {
    let p = a.as_primitive_opt::<T>().ok_or_else(|| {
        format!(
            "column {name} is {}, expected {}",
            a.data_type(),
            T::DATA_TYPE
        )
    })?;
    if p.null_count() > 0 {
        return Err(format!("column {name} holds nulls"));
    }
    v.extend_from_slice(p.values());
    Ok(())
}

impl Rows {
    fn new(kind: &PortKind) -> Self {
        let rest = match kind {
            PortKind::Analog { channels } => Rest::Analog(vec![Vec::new(); channels.len()]),
            PortKind::Scalar { .. } => Rest::Scalar(Vec::new()),
            PortKind::Spikes { .. } => Rest::Spikes(Vec::new()),
            PortKind::Events { .. } => Rest::Events {
                x: Vec::new(),
                y: Vec::new(),
                polarity: Vec::new(),
            },
        };
        Rows {
            step: Vec::new(),
            t_ms: Vec::new(),
            episode: Vec::new(),
            rest,
        }
    }

    fn len(&self) -> usize {
        self.step.len()
    }

    /// Appends one step's payload; the payload must already be checked against the port kind.
    fn push(
        &mut self,
        step: u64,
        t_ms: f64,
        episode: u32,
        payload: &Payload,
    ) -> Result<(), String> {
        let before = self.len();
        match (&mut self.rest, payload) {
            (Rest::Analog(cols), Payload::Analog(v)) if cols.len() == v.len() => {
                self.step.push(step);
                self.t_ms.push(t_ms);
                for (col, &x) in cols.iter_mut().zip(v) {
                    col.push(x);
                }
            }
            (Rest::Scalar(col), Payload::Scalar(x)) => {
                self.step.push(step);
                self.t_ms.push(t_ms);
                col.push(*x);
            }
            (Rest::Spikes(neuron), Payload::Spikes(b)) if b.neuron.len() == b.time_ms.len() => {
                self.step.extend(std::iter::repeat_n(step, b.len()));
                self.t_ms.extend_from_slice(&b.time_ms);
                neuron.extend_from_slice(&b.neuron);
            }
            (Rest::Events { x, y, polarity }, Payload::Events(b))
                if b.y.len() == b.len()
                    && b.time_ms.len() == b.len()
                    && b.polarity.len() == b.len() =>
            {
                self.step.extend(std::iter::repeat_n(step, b.len()));
                self.t_ms.extend_from_slice(&b.time_ms);
                x.extend_from_slice(&b.x);
                y.extend_from_slice(&b.y);
                polarity.extend_from_slice(&b.polarity);
            }
            (_, p) => {
                return Err(format!(
                    "payload {} does not fit the recording's columns",
                    p.port_type()
                ))
            }
        }
        self.episode
            .extend(std::iter::repeat_n(episode, self.len() - before));
        Ok(())
    }

    /// Appends the rows of a batch read back from a part file.
    fn append_batch(&mut self, batch: &RecordBatch, schema: &Schema) -> Result<(), String> {
        if batch.num_columns() != schema.fields().len() {
            return Err(format!(
                "{} columns, expected {}",
                batch.num_columns(),
                schema.fields().len()
            ));
        }
        let cols = batch.columns();
        let name = |i: usize| schema.field(i).name().as_str();
        // Check every column before appending anything, so that a bad batch leaves the rows unchanged.
        let before = self.len();
        let result = (|| {
            extend_primitive::<UInt64Type>(&mut self.step, &cols[0], name(0))?;
            extend_primitive::<Float64Type>(&mut self.t_ms, &cols[1], name(1))?;
            let last = cols.len() - 1;
            extend_primitive::<UInt32Type>(&mut self.episode, &cols[last], name(last))?;
            match &mut self.rest {
                Rest::Analog(chs) => {
                    for (i, ch) in chs.iter_mut().enumerate() {
                        extend_primitive::<Float64Type>(ch, &cols[2 + i], name(2 + i))?;
                    }
                }
                Rest::Scalar(v) => extend_primitive::<Float64Type>(v, &cols[2], name(2))?,
                Rest::Spikes(n) => extend_primitive::<UInt32Type>(n, &cols[2], name(2))?,
                Rest::Events { x, y, polarity } => {
                    extend_primitive::<UInt16Type>(x, &cols[2], name(2))?;
                    extend_primitive::<UInt16Type>(y, &cols[3], name(3))?;
                    let b = cols[4].as_boolean_opt().ok_or_else(|| {
                        format!(
                            "column {} is {}, expected Boolean",
                            name(4),
                            cols[4].data_type()
                        )
                    })?;
                    if b.null_count() > 0 {
                        return Err(format!("column {} holds nulls", name(4)));
                    }
                    polarity.extend(b.values().iter());
                }
            }
            Ok(())
        })();
        if result.is_err() {
            self.truncate(before);
        }
        result
    }

    fn truncate(&mut self, n: usize) {
        self.step.truncate(n);
        self.t_ms.truncate(n);
        self.episode.truncate(n);
        match &mut self.rest {
            Rest::Analog(chs) => chs.iter_mut().for_each(|c| c.truncate(n)),
            Rest::Scalar(v) => v.truncate(n),
            Rest::Spikes(v) => v.truncate(n),
            Rest::Events { x, y, polarity } => {
                x.truncate(n);
                y.truncate(n);
                polarity.truncate(n);
            }
        }
    }

    /// Moves the first `n` rows out as a record batch.
    fn take_batch(
        &mut self,
        n: usize,
        schema: &SchemaRef,
    ) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(take_front(&mut self.step, n))),
            Arc::new(Float64Array::from(take_front(&mut self.t_ms, n))),
        ];
        match &mut self.rest {
            Rest::Analog(chs) => {
                for ch in chs {
                    cols.push(Arc::new(Float64Array::from(take_front(ch, n))));
                }
            }
            Rest::Scalar(v) => cols.push(Arc::new(Float64Array::from(take_front(v, n)))),
            Rest::Spikes(v) => cols.push(Arc::new(UInt32Array::from(take_front(v, n)))),
            Rest::Events { x, y, polarity } => {
                cols.push(Arc::new(UInt16Array::from(take_front(x, n))));
                cols.push(Arc::new(UInt16Array::from(take_front(y, n))));
                cols.push(Arc::new(BooleanArray::from(take_front(polarity, n))));
            }
        }
        cols.push(Arc::new(UInt32Array::from(take_front(
            &mut self.episode,
            n,
        ))));
        RecordBatch::try_new(Arc::clone(schema), cols)
    }
}

/// Records one output port into `<dir>/<engine>.<port>.parquet`.
///
/// During the run, [`push`](Self::push) buffers rows in memory and [`flush`](Self::flush) writes them to
/// a new, complete part file `<dir>/.parts/<engine>.<port>/part-NNNNNN.parquet`, readable on its own (a
/// crash loses at most the rows since the last flush; pandas or polars can read the part folder).
/// [`finish`](Self::finish) merges the parts into the final file, whose bytes depend only on the
/// recorded rows, and removes them. Dropping a recorder without finishing it keeps the part files but
/// loses the rows not yet flushed.
#[derive(Debug)]
pub struct PortRecorder {
    dir: PathBuf,
    label: String,
    kind: PortKind,
    schema: SchemaRef,
    rows: Rows,
    part_dir: PathBuf,
    parts: Vec<PathBuf>,
    rows_recorded: u64,
    /// The episode written into the rows pushed from now on.
    episode: u32,
}

impl PortRecorder {
    /// Starts the recording of port `port` of engine `engine`, of kind `kind`, in folder `dir` (created if
    /// missing). Fails if a name is not `[A-Za-z0-9_]+`, or if the final file or part files of this
    /// recording already exist.
    pub fn create(
        dir: &Path,
        engine: &str,
        port: &str,
        kind: &PortKind,
    ) -> Result<Self, RecordError> {
        for name in [engine, port] {
            if !valid_name(name) {
                return Err(RecordError::InvalidName { name: name.into() });
            }
        }
        let label = format!("{engine}.{port}");
        fs::create_dir_all(dir).map_err(RecordError::io("create folder", dir))?;
        let final_path = dir.join(format!("{label}.parquet"));
        if final_path.exists() {
            return Err(RecordError::Exists { path: final_path });
        }
        let part_dir = dir.join(PARTS_DIR).join(&label);
        if let Ok(mut entries) = fs::read_dir(&part_dir) {
            if entries.next().is_some() {
                return Err(RecordError::Exists { path: part_dir });
            }
        }
        Ok(PortRecorder {
            dir: dir.to_path_buf(),
            schema: schema_for(kind),
            rows: Rows::new(kind),
            kind: kind.clone(),
            label,
            part_dir,
            parts: Vec::new(),
            rows_recorded: 0,
            episode: 0,
        })
    }

    /// `engine.port`, the name of the recording.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The kind of the recorded port.
    pub fn kind(&self) -> &PortKind {
        &self.kind
    }

    /// The Arrow schema of the recording (see [`schema_for`]).
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The name of the final file, `<engine>.<port>.parquet`.
    pub fn file_name(&self) -> String {
        format!("{}.parquet", self.label)
    }

    /// The path of the final file, `<dir>/<engine>.<port>.parquet` (written by [`finish`](Self::finish)).
    pub fn final_path(&self) -> PathBuf {
        self.dir.join(self.file_name())
    }

    /// The folder of the part files, `<dir>/.parts/<engine>.<port>`.
    pub fn part_dir(&self) -> &Path {
        &self.part_dir
    }

    /// The part files written so far, in order.
    pub fn parts(&self) -> &[PathBuf] {
        &self.parts
    }

    /// Rows pushed so far (flushed or not).
    pub fn rows_recorded(&self) -> u64 {
        self.rows_recorded
    }

    /// Rows pushed since the last flush.
    pub fn rows_buffered(&self) -> usize {
        self.rows.len()
    }

    /// Marks the rows pushed from now on with episode `episode` (the `episode` column; 0 at the start).
    pub fn set_episode(&mut self, episode: u32) {
        self.episode = episode;
    }

    /// Records the output of one step: `step_end` is the producer's step end, `t_ms` the end of that step
    /// in ms (analog and scalar rows; spikes and events carry their own times). A payload that does not
    /// fit the port's kind is refused with [`RecordError::Payload`] and nothing is recorded.
    pub fn push(
        &mut self,
        step_end: Step,
        t_ms: f64,
        payload: &Payload,
    ) -> Result<(), RecordError> {
        let err = |reason| RecordError::Payload {
            port: self.label.clone(),
            step: step_end.0,
            reason,
        };
        payload.check_against(&self.kind).map_err(err)?;
        let before = self.rows.len();
        self.rows
            .push(step_end.0, t_ms, self.episode, payload)
            .map_err(err)?;
        self.rows_recorded += (self.rows.len() - before) as u64;
        Ok(())
    }

    /// Writes the rows buffered since the last flush to a new, complete part file (nothing when no row is
    /// buffered). The part appears atomically (written under a hidden name, then renamed). On failure the
    /// rows stay buffered.
    pub fn flush(&mut self) -> Result<(), RecordError> {
        let n = self.rows.len();
        if n == 0 {
            return Ok(());
        }
        fs::create_dir_all(&self.part_dir)
            .map_err(RecordError::io("create folder", &self.part_dir))?;
        let name = format!("part-{:06}.parquet", self.parts.len());
        let path = self.part_dir.join(&name);
        let tmp = self.part_dir.join(format!(".{name}.tmp"));
        let batch = self
            .rows
            .clone()
            .take_batch(n, &self.schema)
            .map_err(RecordError::arrow(&path))?;
        let result = write_file(&tmp, &self.schema, std::iter::once(Ok(batch)))
            .and_then(|()| fs::rename(&tmp, &path).map_err(RecordError::io("rename", &tmp)));
        if let Err(e) = result {
            // The rows stay buffered, so that a later flush can try again.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        self.rows.truncate(0);
        self.parts.push(path);
        Ok(())
    }

    /// Flushes the remaining rows, merges every part in order into the final file
    /// `<dir>/<engine>.<port>.parquet` (row groups of [`ROW_GROUP_ROWS`] rows, snappy; written under a
    /// hidden name then renamed), removes the part files and the part folder, and returns the final path.
    /// A recording without rows gives a valid file with the schema and no rows.
    pub fn finish(mut self) -> Result<PathBuf, RecordError> {
        self.flush()?;
        let final_path = self.final_path();
        let tmp = self.dir.join(format!(".{}.tmp", self.file_name()));
        let merged = MergedBatches {
            parts: &self.parts,
            next_part: 0,
            reader: None,
            rows: Rows::new(&self.kind),
            schema: &self.schema,
            done: false,
        };
        let result = write_file(&tmp, &self.schema, merged)
            .and_then(|()| fs::rename(&tmp, &final_path).map_err(RecordError::io("rename", &tmp)));
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        for part in &self.parts {
            fs::remove_file(part).map_err(RecordError::io("remove", part))?;
        }
        // Remove the part folder and the shared `.parts` folder when empty; other recordings may still
        // use the latter, so failures are fine here.
        let _ = fs::remove_dir(&self.part_dir);
        let _ = fs::remove_dir(self.dir.join(PARTS_DIR));
        Ok(final_path)
    }
}

/// The port kind a recording's schema was made for ([`schema_for`]): the layout of its columns (an
/// events recording's width and height are not stored: 0).
fn kind_from_schema(schema: &Schema) -> Option<PortKind> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let n = names.len();
    if n < 3 || names[0] != "step" || names[1] != "t_ms" || names[n - 1] != "episode" {
        return None;
    }
    let rest = &schema.fields()[2..n - 1];
    let own: Vec<&str> = names[2..n - 1].to_vec();
    Some(match own.as_slice() {
        ["neuron"] if rest[0].data_type() == &DataType::UInt32 => PortKind::Spikes {
            size: rest[0]
                .metadata()
                .get("size")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        },
        ["x", "y", "polarity"] if rest[2].data_type() == &DataType::Boolean => PortKind::Events {
            width: 0,
            height: 0,
        },
        ["value"] => PortKind::Scalar {
            unit: rest[0].metadata().get("unit").cloned().unwrap_or_default(),
        },
        _ => PortKind::Analog {
            channels: rest
                .iter()
                .map(|f| neuroloop_core::port::Channel {
                    name: f.name().clone(),
                    unit: f.metadata().get("unit").cloned().unwrap_or_default(),
                })
                .collect(),
        },
    })
}

/// Merges the part files a recording left in `<dir>/.parts/<label>/` (its run's coordinator died
/// before finishing it) into `<dir>/<label>.parquet`, as [`PortRecorder::finish`] would have, and
/// removes them; returns the final path, or None when no part had been flushed yet (the empty part
/// folder is removed: without a part the recording's columns are unknown). Part files that cannot be
/// read are an error naming them.
pub fn recover_parts(dir: &Path, label: &str) -> Result<Option<PathBuf>, RecordError> {
    let part_dir = dir.join(PARTS_DIR).join(label);
    let mut parts: Vec<PathBuf> = fs::read_dir(&part_dir)
        .map_err(RecordError::io("read", &part_dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("part-") && n.ends_with(".parquet"))
        })
        .collect();
    parts.sort();
    let final_path = dir.join(format!("{label}.parquet"));
    let Some(first) = parts.first() else {
        remove_unfinished(&part_dir);
        let _ = fs::remove_dir(&part_dir);
        let _ = fs::remove_dir(dir.join(PARTS_DIR));
        return Ok(None);
    };
    let file = File::open(first).map_err(RecordError::io("open", first))?;
    let schema = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(RecordError::parquet(first))?
        .schema()
        .clone();
    let kind = kind_from_schema(&schema).ok_or_else(|| RecordError::PartMismatch {
        path: first.clone(),
        reason: "its columns are not those of a neuroloop recording".into(),
    })?;
    let tmp = dir.join(format!(".{label}.parquet.tmp"));
    let merged = MergedBatches {
        parts: &parts,
        next_part: 0,
        reader: None,
        rows: Rows::new(&kind),
        schema: &schema,
        done: false,
    };
    let result = write_file(&tmp, &schema, merged)
        .and_then(|()| fs::rename(&tmp, &final_path).map_err(RecordError::io("rename", &tmp)));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    for part in &parts {
        fs::remove_file(part).map_err(RecordError::io("remove", part))?;
    }
    remove_unfinished(&part_dir);
    let _ = fs::remove_dir(&part_dir);
    let _ = fs::remove_dir(dir.join(PARTS_DIR));
    Ok(Some(final_path))
}

/// Removes what a part folder holds besides part files: the hidden temporary file of a part whose
/// writing was cut short (a part appears only when complete, by a rename).
fn remove_unfinished(part_dir: &Path) {
    if let Ok(entries) = fs::read_dir(part_dir) {
        for e in entries.filter_map(Result::ok) {
            if e.file_name().to_string_lossy().starts_with('.') {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Writes the batches to a new Parquet file at `path`.
fn write_file(
    path: &Path,
    schema: &SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch, RecordError>>,
) -> Result<(), RecordError> {
    let file = File::create(path).map_err(RecordError::io("create", path))?;
    let mut writer = ArrowWriter::try_new(file, Arc::clone(schema), Some(writer_properties()))
        .map_err(RecordError::parquet(path))?;
    for batch in batches {
        writer.write(&batch?).map_err(RecordError::parquet(path))?;
    }
    let file = writer.into_inner().map_err(RecordError::parquet(path))?;
    file.sync_all().map_err(RecordError::io("sync", path))?;
    Ok(())
}

/// The rows of the part files, in order, re-cut into batches of exactly [`ROW_GROUP_ROWS`] rows (the
/// last one shorter), so that the final file does not depend on where the parts were cut.
struct MergedBatches<'a> {
    parts: &'a [PathBuf],
    next_part: usize,
    reader: Option<(
        PathBuf,
        parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    )>,
    rows: Rows,
    schema: &'a SchemaRef,
    done: bool,
}

impl MergedBatches<'_> {
    /// Reads more rows into the buffer; returns false when every part is read.
    fn fill(&mut self) -> Result<bool, RecordError> {
        loop {
            if let Some((path, reader)) = &mut self.reader {
                match reader.next() {
                    Some(batch) => {
                        let batch = batch.map_err(RecordError::arrow(path.as_path()))?;
                        self.rows
                            .append_batch(&batch, self.schema)
                            .map_err(|reason| RecordError::PartMismatch {
                                path: path.clone(),
                                reason,
                            })?;
                        return Ok(true);
                    }
                    None => self.reader = None,
                }
            }
            let Some(path) = self.parts.get(self.next_part) else {
                return Ok(false);
            };
            self.next_part += 1;
            let file = File::open(path).map_err(RecordError::io("open", path))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.with_batch_size(READ_BATCH_ROWS).build())
                .map_err(RecordError::parquet(path))?;
            self.reader = Some((path.clone(), reader));
        }
    }
}

impl Iterator for MergedBatches<'_> {
    type Item = Result<RecordBatch, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        while self.rows.len() < ROW_GROUP_ROWS {
            match self.fill() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        let n = self.rows.len().min(ROW_GROUP_ROWS);
        if n == 0 {
            self.done = true;
            return None;
        }
        let path = self.parts.last().cloned().unwrap_or_default();
        Some(
            self.rows
                .take_batch(n, self.schema)
                .map_err(RecordError::arrow(path)),
        )
    }
}
