//! The error type of the crate.

use std::path::PathBuf;

/// What went wrong while recording a run. Every variant names the file or port involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// An engine or port name is not usable in a file name (see [`neuroloop_core::port::valid_name`]).
    #[error("invalid name {name:?} for a recording (expected [A-Za-z0-9_]+)")]
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// A recording's final file or part folder already holds data from an earlier run.
    #[error("{path} already exists; refusing to overwrite a recording")]
    Exists {
        /// The existing file or folder.
        path: PathBuf,
    },
    /// A payload does not fit the recorded port's declared kind.
    #[error("recording {port} at step {step}: {reason}")]
    Payload {
        /// `engine.port` of the recording.
        port: String,
        /// The producer step the payload belongs to.
        step: u64,
        /// What is wrong with the payload.
        reason: String,
    },
    /// No port is recorded under this index of a [`Recorder`](crate::Recorder).
    #[error("no recorded port with index {index}")]
    UnknownPort {
        /// The index asked for.
        index: usize,
    },
    /// A file-system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`"create"`, `"rename"`, ...).
        op: &'static str,
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Parquet library failed to write or read a file.
    #[error("parquet file {path}: {source}")]
    Parquet {
        /// The file being written or read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow failed to build or read a batch of rows.
    #[error("arrow data for {path}: {source}")]
    Arrow {
        /// The file the rows belong to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// A part file does not have the columns this recording expects (it was changed or written by
    /// something else).
    #[error("part file {path} does not match the recording's schema: {reason}")]
    PartMismatch {
        /// The part file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// A Parquet file read back does not have the columns of a recording.
    #[error("{path} is not a neuroloop recording: {reason}")]
    NotARecording {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// The manifest could not be turned into JSON or read back from it.
    #[error("manifest {path}: {source}")]
    Json {
        /// The manifest file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

impl RecordError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| RecordError::Io { op, path, source }
    }

    pub(crate) fn parquet(
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(parquet::errors::ParquetError) -> Self {
        let path = path.into();
        move |source| RecordError::Parquet { path, source }
    }

    pub(crate) fn arrow(path: impl Into<PathBuf>) -> impl FnOnce(arrow_schema::ArrowError) -> Self {
        let path = path.into();
        move |source| RecordError::Arrow { path, source }
    }
}
