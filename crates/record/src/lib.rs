//! Recording of a neuroloop run: one Apache Parquet file per recorded output port, plus the run's
//! `manifest.json`, all in the run folder.
//!
//! Main types:
//! - [`PortRecorder`]: one port into `<dir>/<engine>.<port>.parquet`. Rows are buffered in memory;
//!   [`flush`](PortRecorder::flush) (about once per wall-clock second) writes them to a complete part
//!   file under `<dir>/.parts/<engine>.<port>/`, so a crash loses at most a second of data and the parts
//!   stay readable; [`finish`](PortRecorder::finish) merges the parts into the final file, whose bytes
//!   depend only on the recorded rows (fixed row groups of [`ROW_GROUP_ROWS`] rows, snappy, no
//!   timestamps), and removes them. Column layouts per port type are described at [`schema_for`].
//! - [`Recorder`]: every recorded port of a run, with [`flush_if_due`](Recorder::flush_if_due) and
//!   [`finish_all`](Recorder::finish_all).
//! - [`Manifest`]: experiment, versions, host, timings and recordings, written atomically as pretty JSON.
//! - [`RecordError`]: what went wrong, naming the file or port.
//! - [`Recording`]: a finished recording read back into columns.
//! - [`RunFolder`]: the expected results of an experiment (`[[expect]]`) measured from a run folder's
//!   recordings and per-trial records ([`measure`]).
//!
//! ```
//! use neuroloop_core::payload::Payload;
//! use neuroloop_core::port::PortKind;
//! use neuroloop_core::time::Step;
//! use neuroloop_record::{Manifest, Recorder};
//!
//! let dir = std::env::temp_dir().join(format!("neuroloop-record-doctest-{}", std::process::id()));
//! let mut rec = Recorder::new(&dir);
//! let arm = rec.create("arm", "angles", &PortKind::analog(&[("elbow", "rad"), ("shoulder", "rad")]))?;
//! for k in 1..=10u64 {
//!     rec.push(arm, Step(k), k as f64 * 0.1, &Payload::Analog(vec![0.1 * k as f64, -0.2]))?;
//!     rec.flush_if_due(std::time::Instant::now())?;
//! }
//! let recordings = rec.file_names();
//! let (files, error) = rec.finish_all();
//! assert!(error.is_none());
//! assert_eq!(files, [dir.join("arm.angles.parquet")]);
//!
//! let manifest = Manifest { run_id: "demo".into(), recordings, ..Manifest::default() };
//! manifest.write(&dir)?;
//! assert_eq!(Manifest::read(&dir)?, manifest);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), neuroloop_record::RecordError>(())
//! ```
#![deny(missing_docs)]

pub mod error;
pub mod manifest;
pub mod measure;
pub mod port;
pub mod read;
pub mod recorder;

pub use error::RecordError;
pub use manifest::{
    rfc3339_from_unix, utc_now_rfc3339, EngineTiming, ExitStatus, Manifest, MANIFEST_FILE,
};
pub use measure::{learning_curve, MeasureError, Measured, RunFolder, TrialSource};
pub use port::{recover_parts, schema_for, PortRecorder, PARTS_DIR, ROW_GROUP_ROWS};
pub use read::{RecordedData, Recording};
pub use recorder::{Recorder, FLUSH_INTERVAL};
