//! Round trips of every port type through Parquet, part files, byte-for-byte reproducibility, errors.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt16Type, UInt32Type, UInt64Type};
use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};
use neuroloop_core::payload::{EventBatch, Payload, SpikeBatch};
use neuroloop_core::port::PortKind;
use neuroloop_core::time::Step;
use neuroloop_record::{PortRecorder, RecordError, Recorder, PARTS_DIR, ROW_GROUP_ROWS};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::metadata::ParquetMetaData;

/// Reads a whole Parquet file: its Arrow schema, its rows as one batch per row group, its metadata.
fn read(path: &Path) -> (SchemaRef, Vec<RecordBatch>, ParquetMetaData) {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = b.schema().clone();
    let meta = b.metadata().as_ref().clone();
    let batches = b
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (schema, batches, meta)
}

fn names(schema: &SchemaRef) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

fn unit(schema: &SchemaRef, i: usize) -> Option<String> {
    schema.field(i).metadata().get("unit").cloned()
}

fn u64s(b: &[RecordBatch], col: usize) -> Vec<u64> {
    b.iter()
        .flat_map(|b| b.column(col).as_primitive::<UInt64Type>().values().to_vec())
        .collect()
}
fn f64s(b: &[RecordBatch], col: usize) -> Vec<f64> {
    b.iter()
        .flat_map(|b| {
            b.column(col)
                .as_primitive::<Float64Type>()
                .values()
                .to_vec()
        })
        .collect()
}
fn u32s(b: &[RecordBatch], col: usize) -> Vec<u32> {
    b.iter()
        .flat_map(|b| b.column(col).as_primitive::<UInt32Type>().values().to_vec())
        .collect()
}
fn u16s(b: &[RecordBatch], col: usize) -> Vec<u16> {
    b.iter()
        .flat_map(|b| b.column(col).as_primitive::<UInt16Type>().values().to_vec())
        .collect()
}
fn bools(b: &[RecordBatch], col: usize) -> Vec<bool> {
    b.iter()
        .flat_map(|b| {
            b.column(col)
                .as_boolean()
                .values()
                .iter()
                .collect::<Vec<_>>()
        })
        .collect()
}

fn rows(b: &[RecordBatch]) -> usize {
    b.iter().map(RecordBatch::num_rows).sum()
}

fn assert_snappy(meta: &ParquetMetaData) {
    for rg in meta.row_groups() {
        for c in rg.columns() {
            assert_eq!(c.compression(), Compression::SNAPPY);
        }
    }
}

#[test]
fn analog_round_trip_names_units_values() {
    let dir = tempfile::tempdir().unwrap();
    let kind = PortKind::analog(&[
        ("elbow", "rad"),
        ("elbow", "rad"),
        ("step", "1"),
        ("force", "N"),
    ]);
    let mut rec = PortRecorder::create(dir.path(), "arm", "state", &kind).unwrap();
    for k in 1..=5u64 {
        let x = k as f64;
        rec.push(
            Step(k),
            x * 0.5,
            &Payload::Analog(vec![x, -x, 10.0 * x, f64::NAN]),
        )
        .unwrap();
        if k == 2 {
            rec.flush().unwrap();
        }
    }
    assert_eq!(rec.rows_recorded(), 5);
    let path = rec.finish().unwrap();
    assert_eq!(path, dir.path().join("arm.state.parquet"));

    let (schema, b, meta) = read(&path);
    assert_eq!(
        names(&schema),
        ["step", "t_ms", "elbow", "elbow_1", "step_1", "force", "episode"]
    );
    assert_eq!(schema.field(0).data_type(), &DataType::UInt64);
    for i in 1..6 {
        assert_eq!(schema.field(i).data_type(), &DataType::Float64);
    }
    assert_eq!(unit(&schema, 0), None);
    assert_eq!(unit(&schema, 2).as_deref(), Some("rad"));
    assert_eq!(unit(&schema, 3).as_deref(), Some("rad"));
    assert_eq!(unit(&schema, 4).as_deref(), Some("1"));
    assert_eq!(unit(&schema, 5).as_deref(), Some("N"));
    assert_eq!(u64s(&b, 0), [1, 2, 3, 4, 5]);
    assert_eq!(f64s(&b, 1), [0.5, 1.0, 1.5, 2.0, 2.5]);
    assert_eq!(f64s(&b, 2), [1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(f64s(&b, 3), [-1.0, -2.0, -3.0, -4.0, -5.0]);
    assert_eq!(f64s(&b, 4), [10.0, 20.0, 30.0, 40.0, 50.0]);
    assert!(f64s(&b, 5).iter().all(|v| v.is_nan()));
    assert_eq!(meta.row_groups().len(), 1);
    assert_snappy(&meta);
    // No timestamps or host names: the only key-value metadata is the Arrow schema.
    let kv = meta
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    assert!(kv.iter().all(|kv| kv.key == "ARROW:schema"), "{kv:?}");
    assert!(meta
        .file_metadata()
        .created_by()
        .unwrap_or("")
        .starts_with("parquet-rs"));
}

#[test]
fn scalar_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = PortRecorder::create(
        dir.path(),
        "env",
        "reward",
        &PortKind::Scalar { unit: "1".into() },
    )
    .unwrap();
    rec.push(Step(2), 2.0, &Payload::Scalar(0.25)).unwrap();
    rec.push(Step(4), 4.0, &Payload::Scalar(-1.0)).unwrap();
    let (schema, b, _) = read(&rec.finish().unwrap());
    assert_eq!(names(&schema), ["step", "t_ms", "value", "episode"]);
    assert_eq!(unit(&schema, 2).as_deref(), Some("1"));
    assert_eq!(u64s(&b, 0), [2, 4]);
    assert_eq!(f64s(&b, 1), [2.0, 4.0]);
    assert_eq!(f64s(&b, 2), [0.25, -1.0]);
}

#[test]
fn spikes_round_trip_one_row_per_spike() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec =
        PortRecorder::create(dir.path(), "snn", "out", &PortKind::Spikes { size: 10 }).unwrap();
    let batch = |s: &[(u32, f64)]| {
        let mut b = SpikeBatch::default();
        for &(n, t) in s {
            b.push(n, t);
        }
        Payload::Spikes(b)
    };
    rec.push(Step(1), 1.0, &batch(&[(3, 0.1), (9, 0.7)]))
        .unwrap();
    rec.push(Step(2), 2.0, &batch(&[])).unwrap();
    rec.flush().unwrap();
    // A reset run: the rows from here on belong to episode 1.
    rec.set_episode(1);
    rec.push(Step(1), 1.0, &batch(&[(0, 0.5)])).unwrap();
    assert_eq!(rec.rows_recorded(), 3);
    let (schema, b, _) = read(&rec.finish().unwrap());
    assert_eq!(names(&schema), ["step", "t_ms", "neuron", "episode"]);
    assert_eq!(schema.field(2).data_type(), &DataType::UInt32);
    assert_eq!(u64s(&b, 0), [1, 1, 1]);
    assert_eq!(f64s(&b, 1), [0.1, 0.7, 0.5]);
    assert_eq!(u32s(&b, 2), [3, 9, 0]);
    assert_eq!(u32s(&b, 3), [0, 0, 1]);
}

#[test]
fn events_round_trip_one_row_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let kind = PortKind::Events {
        width: 64,
        height: 48,
    };
    let mut rec = PortRecorder::create(dir.path(), "retina", "dvs", &kind).unwrap();
    let mut e = EventBatch::default();
    e.push(1, 2, 0.25, true);
    e.push(63, 47, 0.5, false);
    rec.push(Step(1), 1.0, &Payload::Events(e)).unwrap();
    let mut e = EventBatch::default();
    e.push(5, 6, 1.75, true);
    rec.push(Step(2), 2.0, &Payload::Events(e)).unwrap();
    let (schema, b, _) = read(&rec.finish().unwrap());
    assert_eq!(
        names(&schema),
        ["step", "t_ms", "x", "y", "polarity", "episode"]
    );
    assert_eq!(schema.field(2).data_type(), &DataType::UInt16);
    assert_eq!(schema.field(4).data_type(), &DataType::Boolean);
    assert_eq!(u64s(&b, 0), [1, 1, 2]);
    assert_eq!(f64s(&b, 1), [0.25, 0.5, 1.75]);
    assert_eq!(u16s(&b, 2), [1, 63, 5]);
    assert_eq!(u16s(&b, 3), [2, 47, 6]);
    assert_eq!(bools(&b, 4), [true, false, true]);
}

#[test]
fn parts_are_readable_mid_run_and_removed_by_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = PortRecorder::create(
        dir.path(),
        "env",
        "reward",
        &PortKind::Scalar { unit: "1".into() },
    )
    .unwrap();
    let part_dir = dir.path().join(PARTS_DIR).join("env.reward");
    assert_eq!(rec.part_dir(), part_dir);
    rec.flush().unwrap(); // nothing buffered: no part
    assert!(rec.parts().is_empty());

    for k in 0..3u64 {
        rec.push(Step(k), k as f64, &Payload::Scalar(k as f64))
            .unwrap();
    }
    rec.flush().unwrap();
    assert_eq!(rec.rows_buffered(), 0);
    rec.push(Step(3), 3.0, &Payload::Scalar(3.0)).unwrap();
    rec.flush().unwrap();
    rec.push(Step(4), 4.0, &Payload::Scalar(4.0)).unwrap(); // buffered, not in a part yet

    let mut listed: Vec<String> = std::fs::read_dir(&part_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, ["part-000000.parquet", "part-000001.parquet"]);
    assert_eq!(
        rec.parts(),
        [
            part_dir.join("part-000000.parquet"),
            part_dir.join("part-000001.parquet")
        ]
    );
    let (schema, b0, _) = read(&rec.parts()[0]);
    assert_eq!(names(&schema), ["step", "t_ms", "value", "episode"]);
    assert_eq!(unit(&schema, 2).as_deref(), Some("1"));
    assert_eq!(f64s(&b0, 2), [0.0, 1.0, 2.0]);
    let (_, b1, _) = read(&rec.parts()[1]);
    assert_eq!(u64s(&b1, 0), [3]);
    assert!(!dir.path().join("env.reward.parquet").exists());

    let path = rec.finish().unwrap();
    assert_eq!(f64s(&read(&path).1, 2), [0.0, 1.0, 2.0, 3.0, 4.0]);
    assert!(!part_dir.exists());
    assert!(!dir.path().join(PARTS_DIR).exists());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["env.reward.parquet"]);
}

/// Records the same rows into a fresh folder, flushing after the steps `flush_at` says; returns the
/// final file's bytes.
fn record_with(
    kind: &PortKind,
    steps: u64,
    payload: impl Fn(u64) -> Payload,
    flush_at: impl Fn(u64) -> bool,
) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = PortRecorder::create(dir.path(), "e", "p", kind).unwrap();
    for k in 0..steps {
        rec.push(Step(k + 1), (k + 1) as f64 * 0.1, &payload(k))
            .unwrap();
        if flush_at(k) {
            rec.flush().unwrap();
        }
    }
    let path = rec.finish().unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn final_bytes_do_not_depend_on_flushes() {
    // Spikes: 3000 steps x 50 spikes = 150 000 rows, more than two row groups.
    let kind = PortKind::Spikes { size: 1000 };
    let spikes = |k: u64| {
        let mut b = SpikeBatch::default();
        for i in 0..50u32 {
            b.push(
                ((k as u32).wrapping_mul(7919).wrapping_add(i * 13)) % 1000,
                k as f64 * 0.1 + f64::from(i) * 1e-3,
            );
        }
        Payload::Spikes(b)
    };
    let never = record_with(&kind, 3000, spikes, |_| false);
    let often = record_with(&kind, 3000, spikes, |k| k % 7 == 0);
    let odd = record_with(&kind, 3000, spikes, |k| {
        [0, 1, 1310, 1311, 2999].contains(&k)
    });
    assert!(never == often, "flushing every 7 steps changed the file");
    assert!(never == odd, "flushing at odd places changed the file");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    std::fs::write(&path, &never).unwrap();
    let (_, b, meta) = read(&path);
    let sizes: Vec<i64> = meta.row_groups().iter().map(|rg| rg.num_rows()).collect();
    assert_eq!(
        sizes,
        [
            ROW_GROUP_ROWS as i64,
            ROW_GROUP_ROWS as i64,
            150_000 - 2 * ROW_GROUP_ROWS as i64
        ]
    );
    assert_eq!(rows(&b), 150_000);
    assert_snappy(&meta);

    // Analog, one row per step, flushed every step versus once.
    let kind = PortKind::analog(&[("a", "1"), ("b", "m")]);
    let analog = |k: u64| Payload::Analog(vec![(k as f64).sin(), k as f64]);
    let once = record_with(&kind, 2000, analog, |_| false);
    let each = record_with(&kind, 2000, analog, |_| true);
    assert!(once == each, "flushing every step changed the analog file");
}

#[test]
fn empty_recording_gives_a_valid_file_with_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let kind = PortKind::Events {
        width: 4,
        height: 4,
    };
    let mut rec = PortRecorder::create(dir.path(), "cam", "dvs", &kind).unwrap();
    rec.flush().unwrap();
    rec.push(Step(1), 1.0, &Payload::Events(EventBatch::default()))
        .unwrap(); // no event: no row
    rec.flush().unwrap();
    let path = rec.finish().unwrap();
    let (schema, b, meta) = read(&path);
    assert_eq!(
        names(&schema),
        ["step", "t_ms", "x", "y", "polarity", "episode"]
    );
    assert_eq!(rows(&b), 0);
    assert_eq!(meta.file_metadata().num_rows(), 0);
    assert!(!dir.path().join(PARTS_DIR).exists());

    let rec = PortRecorder::create(
        dir.path(),
        "env",
        "reward",
        &PortKind::Scalar { unit: "1".into() },
    )
    .unwrap();
    let (schema, b, _) = read(&rec.finish().unwrap());
    assert_eq!(names(&schema), ["step", "t_ms", "value", "episode"]);
    assert_eq!(rows(&b), 0);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let kind = PortKind::analog(&[("a", "1"), ("b", "1")]);
    let mut rec = PortRecorder::create(dir.path(), "e", "p", &kind).unwrap();
    let err = rec.push(Step(1), 1.0, &Payload::Scalar(1.0)).unwrap_err();
    assert!(
        matches!(&err, RecordError::Payload { port, step: 1, .. } if port == "e.p"),
        "{err}"
    );
    assert!(err.to_string().contains("e.p"), "{err}");
    assert!(matches!(
        rec.push(Step(2), 2.0, &Payload::Analog(vec![1.0])),
        Err(RecordError::Payload { .. })
    ));
    assert_eq!(rec.rows_recorded(), 0);

    let mut spikes =
        PortRecorder::create(dir.path(), "e", "s", &PortKind::Spikes { size: 5 }).unwrap();
    let bad = SpikeBatch {
        neuron: vec![1, 7],
        time_ms: vec![0.1, 0.2],
    };
    assert!(matches!(
        spikes.push(Step(1), 1.0, &Payload::Spikes(bad)),
        Err(RecordError::Payload { .. })
    ));
    let ragged = SpikeBatch {
        neuron: vec![1, 2],
        time_ms: vec![0.1],
    };
    assert!(matches!(
        spikes.push(Step(1), 1.0, &Payload::Spikes(ragged)),
        Err(RecordError::Payload { .. })
    ));
    let mut events = PortRecorder::create(
        dir.path(),
        "e",
        "ev",
        &PortKind::Events {
            width: 2,
            height: 2,
        },
    )
    .unwrap();
    let ragged = EventBatch {
        x: vec![0],
        y: vec![],
        time_ms: vec![0.0],
        polarity: vec![true],
    };
    assert!(matches!(
        events.push(Step(1), 1.0, &Payload::Events(ragged)),
        Err(RecordError::Payload { .. })
    ));
    assert_eq!(spikes.rows_recorded() + events.rows_recorded(), 0);

    for (engine, port) in [("", "p"), ("e", "a/b"), ("../x", "p"), ("e", "p.q")] {
        let err = PortRecorder::create(dir.path(), engine, port, &kind).unwrap_err();
        assert!(matches!(err, RecordError::InvalidName { .. }), "{err}");
    }

    rec.push(Step(3), 3.0, &Payload::Analog(vec![1.0, 2.0]))
        .unwrap();
    rec.finish().unwrap();
    // Recording the same port again into the same folder would overwrite it.
    let err = PortRecorder::create(dir.path(), "e", "p", &kind).unwrap_err();
    assert!(matches!(err, RecordError::Exists { .. }), "{err}");

    let mut recorder = Recorder::new(dir.path());
    assert!(matches!(
        recorder.push(3, Step(1), 1.0, &Payload::Scalar(1.0)),
        Err(RecordError::UnknownPort { index: 3 })
    ));
}

#[test]
fn a_part_that_changed_under_the_recorder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec =
        PortRecorder::create(dir.path(), "e", "p", &PortKind::Scalar { unit: "1".into() }).unwrap();
    rec.push(Step(1), 1.0, &Payload::Scalar(1.0)).unwrap();
    rec.flush().unwrap();
    std::fs::write(&rec.parts()[0], b"not parquet").unwrap();
    let err = rec.finish().unwrap_err();
    assert!(
        matches!(&err, RecordError::Parquet { path, .. } if path.ends_with("part-000000.parquet")),
        "{err}"
    );
    assert!(!dir.path().join("e.p.parquet").exists());
}

#[test]
fn recorder_flushes_when_due_and_finishes_all() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let mut rec = Recorder::new(dir.path());
    assert!(rec.is_empty());
    let a = rec
        .create("a", "x", &PortKind::Scalar { unit: "s".into() })
        .unwrap();
    let b = rec.create("b", "y", &PortKind::Spikes { size: 3 }).unwrap();
    let c = rec
        .create("c", "z", &PortKind::Scalar { unit: "1".into() })
        .unwrap();
    assert_eq!((a, b, c, rec.len()), (0, 1, 2, 3));
    assert_eq!(
        rec.file_names(),
        ["a.x.parquet", "b.y.parquet", "c.z.parquet"]
    );

    rec.push(a, Step(1), 1.0, &Payload::Scalar(1.0)).unwrap();
    rec.push(
        b,
        Step(1),
        1.0,
        &Payload::Spikes(SpikeBatch {
            neuron: vec![2],
            time_ms: vec![0.5],
        }),
    )
    .unwrap();
    rec.push(c, Step(1), 1.0, &Payload::Scalar(3.0)).unwrap();
    // The flush clock started at `Recorder::new`, before `t0 + 2 s`.
    assert!(rec.flush_if_due(t0 + Duration::from_secs(2)).unwrap());
    assert_eq!(rec.get(a).unwrap().parts().len(), 1);
    rec.push(a, Step(2), 2.0, &Payload::Scalar(2.0)).unwrap();
    assert!(!rec.flush_if_due(t0 + Duration::from_millis(2500)).unwrap());
    assert_eq!(rec.get(a).unwrap().rows_buffered(), 1);
    assert!(rec.flush_if_due(t0 + Duration::from_millis(3000)).unwrap());
    assert_eq!(rec.get(a).unwrap().parts().len(), 2);
    assert_eq!(rec.get(b).unwrap().parts().len(), 1); // nothing new for b: no empty part

    // Break b's part: finishing b fails, a and c are still finished.
    std::fs::remove_file(&rec.get(b).unwrap().parts()[0]).unwrap();
    let (files, err) = rec.finish_all();
    assert_eq!(
        files,
        [
            dir.path().join("a.x.parquet"),
            dir.path().join("c.z.parquet")
        ]
    );
    assert!(
        matches!(err, Some(RecordError::Io { ref path, .. }) if path.ends_with("part-000000.parquet")),
        "{err:?}"
    );
    assert_eq!(f64s(&read(&files[0]).1, 2), [1.0, 2.0]);
    assert_eq!(f64s(&read(&files[1]).1, 2), [3.0]);
    assert!(!dir.path().join(PARTS_DIR).join("a.x").exists());
}

#[test]
fn recorder_flush_interval_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let mut rec = Recorder::new(dir.path()).with_flush_interval(Duration::from_secs(10));
    let a = rec
        .create("a", "x", &PortKind::Scalar { unit: "1".into() })
        .unwrap();
    rec.push(a, Step(1), 1.0, &Payload::Scalar(1.0)).unwrap();
    assert!(!rec.flush_if_due(t0).unwrap());
    assert!(rec.flush_if_due(t0 + Duration::from_secs(11)).unwrap());
    let (files, err) = rec.finish_all();
    assert!(err.is_none());
    assert_eq!(files.len(), 1);
}
