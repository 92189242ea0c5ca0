//! [`Manifest`]: what was run, how, and how it went, written as `manifest.json` next to the recordings.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::RecordError;

/// File name of the manifest inside the run folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// How a run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitStatus {
    /// The run reached its duration.
    #[default]
    Ok,
    /// The run stopped on an error (see [`Manifest::error`]).
    Error,
    /// The run was interrupted (Ctrl-C, a signal).
    Interrupted,
    /// The run is going on: the manifest written at its start. Left so, the coordinator died
    /// (killed, crashed) before it could finish: `neuroloop recover RUN_DIR` merges the recordings'
    /// parts and marks the run as failed.
    Running,
}

/// Reads an `f64` written by serde_json, where non-finite values become `null`: `null` reads as NaN.
fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Timing of one engine over a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineTiming {
    /// Engine name from the experiment file.
    pub name: String,
    /// Engine kind (what runs it, e.g. `"lif"`, `"python"`).
    pub kind: String,
    /// The engine's step length in base steps.
    pub period_steps: u64,
    /// Steps the engine completed.
    pub steps: u64,
    /// Total compute time the engine reported, in seconds.
    #[serde(deserialize_with = "nan_if_null")]
    pub compute_s: f64,
    /// Median compute time of one step, in microseconds.
    #[serde(deserialize_with = "nan_if_null")]
    pub compute_p50_us: f64,
    /// 99th percentile of the compute time of one step, in microseconds.
    #[serde(deserialize_with = "nan_if_null")]
    pub compute_p99_us: f64,
    /// How the engine process ended, when it did not end normally (exit code, signal, error text).
    pub exit: Option<String>,
}

/// The manifest of a run: the experiment as run, versions, host, timings and the recorded files.
///
/// Floating-point fields that are not finite (a realtime factor of a zero-length run) are written as
/// `null` and read back as NaN.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Path of the experiment file, as given.
    pub experiment_file: String,
    /// Full text of the experiment file.
    pub experiment_text: String,
    /// Command-line overrides (`key=value`) applied to the experiment, in order.
    pub overrides: Vec<String>,
    /// Master seed of the run.
    pub seed: u64,
    /// Identifier of the run (also the name of its folder).
    pub run_id: String,
    /// Git commit of the source tree, when known.
    pub git_commit: Option<String>,
    /// Crate name -> version of the neuroloop crates and notable dependencies.
    pub versions: BTreeMap<String, String>,
    /// Host name of the machine that ran the coordinator.
    pub host: String,
    /// Start of the run, RFC 3339 UTC (see [`utc_now_rfc3339`]).
    pub started_utc: String,
    /// End of the run, RFC 3339 UTC.
    pub ended_utc: String,
    /// How the run ended.
    pub exit_status: ExitStatus,
    /// The error that ended the run, if any.
    pub error: Option<String>,
    /// Simulated duration reached, in ms.
    #[serde(deserialize_with = "nan_if_null")]
    pub duration_ms: f64,
    /// Base steps simulated.
    pub steps: u64,
    /// Wall-clock time of the run, in seconds.
    #[serde(deserialize_with = "nan_if_null")]
    pub wall_s: f64,
    /// Simulated time divided by wall-clock time.
    #[serde(deserialize_with = "nan_if_null")]
    pub realtime_factor: f64,
    /// Timing of each engine, in experiment order.
    pub engines: Vec<EngineTiming>,
    /// Median coupling overhead per lockstep round (wall time not spent computing), in microseconds.
    #[serde(deserialize_with = "nan_if_null")]
    pub coupling_overhead_p50_us: f64,
    /// 99th percentile of the coupling overhead per round, in microseconds.
    #[serde(deserialize_with = "nan_if_null")]
    pub coupling_overhead_p99_us: f64,
    /// Coupling overhead of the whole run, in seconds (absent in manifests written before it existed).
    #[serde(default, deserialize_with = "nan_if_null")]
    pub coupling_s: f64,
    /// How often the engines exchanged with the coordinator, in ms (the lookahead window; the base
    /// step when every link has the default one-step delay; 0 in manifests written before it existed).
    #[serde(default)]
    pub exchange_window_ms: f64,
    /// Whether the run was paced to the wall clock.
    #[serde(default)]
    pub realtime: bool,
    /// Paced runs: steps that started more than one base step behind the wall clock.
    #[serde(default)]
    pub late_steps: u64,
    /// File names of the recordings in the run folder (`<engine>.<port>.parquet`).
    pub recordings: Vec<String>,
}

impl Manifest {
    /// The manifest as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Writes the manifest as pretty JSON to `<dir>/manifest.json`, atomically: it is written to a hidden
    /// temporary file in `dir`, synced, then renamed over the manifest. Returns the manifest's path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, RecordError> {
        let path = dir.join(MANIFEST_FILE);
        let mut text = self.to_json().map_err(|source| RecordError::Json {
            path: path.clone(),
            source,
        })?;
        text.push('\n');
        let tmp = dir.join(format!(".{MANIFEST_FILE}.tmp"));
        let result = (|| {
            let mut f = fs::File::create(&tmp).map_err(RecordError::io("create", &tmp))?;
            f.write_all(text.as_bytes())
                .map_err(RecordError::io("write", &tmp))?;
            f.sync_all().map_err(RecordError::io("sync", &tmp))?;
            fs::rename(&tmp, &path).map_err(RecordError::io("rename", &tmp))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|()| path)
    }

    /// Reads `<dir>/manifest.json`.
    pub fn read(dir: &Path) -> Result<Self, RecordError> {
        let path = dir.join(MANIFEST_FILE);
        let text = fs::read_to_string(&path).map_err(RecordError::io("read", &path))?;
        serde_json::from_str(&text).map_err(|source| RecordError::Json { path, source })
    }
}

/// The current time as RFC 3339 UTC with milliseconds, e.g. `2023-11-14T22:13:20.123Z` (a clock before
/// 1970 reads as 1970-01-01T00:00:00Z).
pub fn utc_now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339_from_unix(d.as_secs(), d.subsec_nanos())
}

/// Formats a Unix time (`secs` since 1970-01-01T00:00:00Z plus `nanos`) as RFC 3339 UTC: whole seconds
/// when `nanos` is 0, else with milliseconds (truncated).
///
/// ```
/// use neuroloop_record::rfc3339_from_unix;
/// assert_eq!(rfc3339_from_unix(0, 0), "1970-01-01T00:00:00Z");
/// assert_eq!(rfc3339_from_unix(1_700_000_000, 0), "2023-11-14T22:13:20Z");
/// assert_eq!(rfc3339_from_unix(1_700_000_000, 5_000_000), "2023-11-14T22:13:20.005Z");
/// ```
pub fn rfc3339_from_unix(secs: u64, nanos: u32) -> String {
    let days = secs / 86_400;
    let sod = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, sod / 60 % 60, sod % 60);
    if nanos == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        let ms = nanos.min(999_999_999) / 1_000_000;
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}Z")
    }
}

/// Year, month (1-12) and day (1-31) of the day `days` after 1970-01-01 (proleptic Gregorian calendar;
/// H. Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339_from_unix(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_700_000_000, 0), "2023-11-14T22:13:20Z");
        // Leap days: 2000-02-29 (divisible by 400) and 2024-02-29.
        assert_eq!(rfc3339_from_unix(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_709_164_800, 0), "2024-02-29T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_709_251_199, 0), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339_from_unix(1_709_251_200, 0), "2024-03-01T00:00:00Z");
        // 2100 is not a leap year.
        assert_eq!(rfc3339_from_unix(4_107_542_400, 0), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(946_684_799, 0), "1999-12-31T23:59:59Z");
        assert_eq!(
            rfc3339_from_unix(1_234_567_890, 999_999_999),
            "2009-02-13T23:31:30.999Z"
        );
        // No panic at the extreme.
        let _ = rfc3339_from_unix(u64::MAX, u32::MAX);
    }

    #[test]
    fn now_is_well_formed() {
        let s = utc_now_rfc3339();
        assert!(
            s.starts_with("20") && s.ends_with('Z') && s.len() >= 20,
            "{s}"
        );
    }
}
