//! [`Recorder`]: every recorded port of a run, flushed together about once per second.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use neuroloop_core::payload::Payload;
use neuroloop_core::port::PortKind;
use neuroloop_core::time::Step;

use crate::error::RecordError;
use crate::port::PortRecorder;

/// How often [`Recorder::flush_if_due`] flushes, by default.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The recordings of a run, each under the index [`Recorder::add`] or [`Recorder::create`] returned
/// (0, 1, 2, ... in order of addition).
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    ports: Vec<PortRecorder>,
    interval: Duration,
    last_flush: Instant,
}

impl Recorder {
    /// An empty recorder whose recordings go to folder `dir`; the flush clock starts now.
    pub fn new(dir: &Path) -> Self {
        Recorder {
            dir: dir.to_path_buf(),
            ports: Vec::new(),
            interval: FLUSH_INTERVAL,
            last_flush: Instant::now(),
        }
    }

    /// Sets how long [`flush_if_due`](Self::flush_if_due) waits between flushes (default
    /// [`FLUSH_INTERVAL`]).
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts recording port `port` of engine `engine` in the run folder; returns its index.
    pub fn create(
        &mut self,
        engine: &str,
        port: &str,
        kind: &PortKind,
    ) -> Result<usize, RecordError> {
        let rec = PortRecorder::create(&self.dir, engine, port, kind)?;
        Ok(self.add(rec))
    }

    /// Adds a port recorder (which may write to another folder); returns its index.
    pub fn add(&mut self, rec: PortRecorder) -> usize {
        self.ports.push(rec);
        self.ports.len() - 1
    }

    /// Number of recorded ports.
    pub fn len(&self) -> usize {
        self.ports.len()
    }

    /// Whether no port is recorded.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// The recorder under `index`.
    pub fn get(&self, index: usize) -> Option<&PortRecorder> {
        self.ports.get(index)
    }

    /// The file names of the final recordings (`<engine>.<port>.parquet`), in index order: what the
    /// manifest lists.
    pub fn file_names(&self) -> Vec<String> {
        self.ports.iter().map(PortRecorder::file_name).collect()
    }

    /// Marks the rows pushed from now on, in every recording, with episode `episode`.
    pub fn set_episode(&mut self, episode: u32) {
        self.ports.iter_mut().for_each(|p| p.set_episode(episode));
    }

    /// Records one step's output of the port under `index` (see [`PortRecorder::push`]).
    pub fn push(
        &mut self,
        index: usize,
        step_end: Step,
        t_ms: f64,
        payload: &Payload,
    ) -> Result<(), RecordError> {
        self.ports
            .get_mut(index)
            .ok_or(RecordError::UnknownPort { index })?
            .push(step_end, t_ms, payload)
    }

    /// Flushes every port (each one even if another fails) and restarts the flush clock at `now`; returns
    /// the first error.
    pub fn flush_all(&mut self, now: Instant) -> Result<(), RecordError> {
        self.last_flush = now;
        let mut first = None;
        for rec in &mut self.ports {
            if let Err(e) = rec.flush() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Flushes every port if at least the flush interval (1 s by default) has passed since the last
    /// flush (or since the recorder was made); returns whether it flushed.
    pub fn flush_if_due(&mut self, now: Instant) -> Result<bool, RecordError> {
        if now.saturating_duration_since(self.last_flush) < self.interval {
            return Ok(false);
        }
        self.flush_all(now)?;
        Ok(true)
    }

    /// Finishes every port, each one even if another fails: returns the final files that were written, in
    /// index order, and the first error.
    pub fn finish_all(self) -> (Vec<PathBuf>, Option<RecordError>) {
        let mut files = Vec::with_capacity(self.ports.len());
        let mut first = None;
        for rec in self.ports {
            match rec.finish() {
                Ok(path) => files.push(path),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        (files, first)
    }
}
