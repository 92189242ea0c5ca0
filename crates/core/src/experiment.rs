//! Experiment files: what a run is made of.
//!
//! An experiment file (TOML) names the engines, their sync steps and configurations, the links between
//! their ports (with optional transfer functions), the duration, the seed and what to record. Reading one
//! has two stages (habit 9 of the style guide): the file is deserialized strictly (unknown keys refused)
//! into an [`ExperimentSpec`], then resolved into an [`Experiment`] with every cross-field check done and
//! times converted to base steps, or into a [`ConfigError`] listing every problem with its file, line and
//! key path.
//!
//! - [`parse`] reads and resolves text (no port checks);
//! - [`load`] / [`load_str`] also gather every engine's ports (built-ins through a [`PortCatalog`],
//!   others from their declarations) and [`check_ports`] the links and record entries;
//! - `--set key.path=value` overrides are applied to the TOML document before it is deserialized.
//!
//! ```
//! use neuroloop_core::experiment::parse;
//!
//! let text = r#"
//! [run]
//! duration_ms = 10.0
//!
//! [engines.plant]
//! kind = "spring"
//! step_ms = 2.0
//! "#;
//! let exp = parse(text, None, &["run.seed=7".to_string()]).unwrap();
//! assert_eq!(exp.seed, 7);
//! assert_eq!(exp.engines[0].period, 2);
//!
//! let err = parse("[run]\nduration_ms = -1.0\n", None, &[]).unwrap_err();
//! assert!(err.to_string().contains("<experiment>:2:1: run.duration_ms:"));
//! ```

mod check;
mod expect;
mod paths;
mod resolve;
mod spec;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{EngineError, InitContext};
use crate::port::PortSpec;
use crate::time::Step;
use crate::transfer::TransferChainSpec;

pub use expect::{
    channel_index, Decoded, DecodedQuantity, Decoder, Expectation, Metric, TrialElement,
    TrialRange, WindowMs,
};
pub use spec::{
    ChannelSection, EngineSection, ExperimentSpec, LinkSection, PortSection, RecordSection,
    RunSection, TlsSection, ZenohSection,
};
pub use spec::{
    ChannelSelect, DecoderSection, ExpectSection, MetricSection, PreferredSection, WeightEstimate,
};

/// A reference to one port: `engine.port`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRef {
    /// Engine name.
    pub engine: String,
    /// Port name.
    pub port: String,
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.engine, self.port)
    }
}

/// How an engine is started.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineKind {
    /// An engine built into the `neuroloop` binary (`spring`, `p_controller`, ...).
    Builtin(String),
    /// An executable speaking the protocol (path resolved against the experiment file's folder).
    Executable(PathBuf),
}

/// One engine of a resolved experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineSpec {
    /// Name, unique in the experiment.
    pub name: String,
    /// Built-in or executable.
    pub kind: EngineKind,
    /// Started by the user rather than by `neuroloop run`; the coordinator waits for it to join.
    pub external: bool,
    /// Sync step in base steps.
    pub period: u32,
    /// Seed (the file's `seed` for this engine, or derived from the run seed and the name).
    pub seed: u64,
    /// The `config` table, as JSON.
    pub config: serde_json::Value,
    /// Extra command-line arguments for an executable.
    pub args: Vec<String>,
    /// Ports declared in the file (for executables and external engines, whose ports cannot be known
    /// before they run); checked again against what the engine declares when it joins.
    pub declared_ports: Option<Vec<PortSpec>>,
}

/// A link from an output port to an input port.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    /// The producing output port.
    pub from: PortRef,
    /// The consuming input port.
    pub to: PortRef,
    /// Optional transfer functions applied on delivery, in order.
    pub transfer: Option<TransferChainSpec>,
    /// Latency in base steps (>= 1; see `neuroloop_core::lockstep`).
    pub delay: u32,
}

impl LinkSpec {
    /// The seed of the random stream of step `k` of this link's transfer chain: derived from the run
    /// seed and the name `"<from>-><to>[k]"` (e.g. `"plant.position->decoder.spikes[0]"`), so that a
    /// link's spikes depend on its endpoints, not on its position in the file.
    pub fn transfer_seed(&self, run_seed: u64, k: usize) -> u64 {
        crate::seed::derive_seed(run_seed, &format!("{}->{}[{k}]", self.from, self.to))
    }
}

/// Zenoh settings of a run.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ZenohSpec {
    /// Endpoint the coordinator listens on (default: `tcp/127.0.0.1:<free port>`).
    pub listen: Option<String>,
    /// Endpoints (e.g. a router) the coordinator and engines also connect to.
    pub connect: Vec<String>,
    /// Zenoh's low-latency transport (`[zenoh] lowlatency = true`): faster, but every message of the
    /// run must stay under 64 KiB.
    pub lowlatency: bool,
    /// TLS with mutual authentication (`[zenoh] tls`): every endpoint is `tls/...`.
    pub tls: Option<TlsSpec>,
}

/// The TLS files of a run's coordinator (`[zenoh] tls`), resolved against the experiment file's
/// folder; its engines get them through `NEUROLOOP_TLS_*` (see `docs/protocol.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSpec {
    /// The certificate of the run's certificate authority (PEM).
    pub ca: PathBuf,
    /// The coordinator's certificate, signed by the CA (PEM).
    pub cert: PathBuf,
    /// The coordinator's private key (PEM).
    pub key: PathBuf,
}

/// One thing wrong with an experiment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Key path of the offending entry, e.g. `links[2].to` or `engines.plant.step_ms` (empty for a
    /// syntax error that cannot be placed in a key, or a malformed override: `--set <text>`).
    pub path: String,
    /// 1-based line in the original file text, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters) in the original file text, when known.
    pub column: Option<usize>,
    /// What is wrong, naming the offending value.
    pub message: String,
}

impl Problem {
    /// A problem at `path` with no position yet.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    /// `LINE:COL: PATH: MESSAGE`, leaving out the parts that are unknown or empty.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "{l}:{c}: ")?;
        } else if let Some(l) = self.line {
            write!(f, "{l}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Why an experiment file cannot be used: every problem found, with its file.
///
/// Displayed as one line per problem: `FILE:LINE:COL: PATH: MESSAGE` (the position is left out when
/// unknown, the path when empty).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file's path as given (or `<experiment>` for text without a file).
    pub file: String,
    /// The problems, in file order where their lines are known.
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.line.is_some() {
                write!(f, "{}:{p}", self.file)?;
            } else {
                write!(f, "{}: {p}", self.file)?;
            }
        }
        Ok(())
    }
}

/// What the experiment reader needs to know about built-in engines. The binary implements it for the
/// engines it contains.
pub trait PortCatalog {
    /// Whether `kind` names a built-in engine.
    fn is_builtin(&self, kind: &str) -> bool;
    /// The ports the built-in engine `kind` declares for the given initialization context, or why it
    /// cannot be created (typically a configuration error naming its key).
    fn builtin_ports(&self, kind: &str, ctx: &InitContext) -> Result<Vec<PortSpec>, EngineError>;
    /// Names of all built-in engines (for messages).
    fn builtin_names(&self) -> Vec<String>;
}

/// Parses and resolves an experiment (no port checks). `source` is used for the file name in errors,
/// for the default `run.name` (its stem) and for resolving executable paths (against its folder).
/// `overrides` are `key.path=value` texts applied before deserializing.
pub fn parse(
    text: &str,
    source: Option<&Path>,
    overrides: &[String],
) -> Result<Experiment, ConfigError> {
    let read = resolve::read(text, source, overrides)?;
    if read.problems.is_empty() {
        Ok(read.exp)
    } else {
        Err(read.error(read.problems.clone()))
    }
}

/// Parses the experiment recorded in a run folder's manifest (its text, the path it was read from and
/// its overrides) for `neuroloop check`. The run happened, so only problems of the `[[expect]]` tables
/// and deserialization errors count: a relative executable path or world file may no longer resolve
/// from where the check runs.
pub fn parse_recorded(
    text: &str,
    source: Option<&Path>,
    overrides: &[String],
) -> Result<Experiment, ConfigError> {
    let read = resolve::read(text, source, overrides)?;
    let problems: Vec<Problem> = read
        .problems
        .iter()
        .filter(|p| p.path.starts_with("expect"))
        .cloned()
        .collect();
    if problems.is_empty() {
        Ok(read.exp)
    } else {
        Err(read.error(problems))
    }
}

/// Reads the file at `path`, parses it, gathers every engine's ports (built-ins through `catalog`,
/// others from their declared ports) and checks links and record entries; reports all problems together.
pub fn load(
    path: &Path,
    overrides: &[String],
    catalog: &dyn PortCatalog,
) -> Result<Experiment, ConfigError> {
    let text = read_file(path)?;
    load_str(&text, Some(path), overrides, catalog)
}

/// The text of an experiment file; a file that cannot be read, or is not UTF-8 (with the line and
/// column of the first bad byte), is a problem.
fn read_file(path: &Path) -> Result<String, ConfigError> {
    let fail = |p: Problem| ConfigError {
        file: path.display().to_string(),
        problems: vec![p],
    };
    let bytes = std::fs::read(path).map_err(|e| {
        fail(Problem::new(
            "",
            format!("cannot read the experiment file: {e}"),
        ))
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = 1 + String::from_utf8_lossy(&bytes[line_start..at])
            .chars()
            .count();
        let mut p = Problem::new(
            "",
            format!(
                "the file is not UTF-8 text (byte 0x{:02x}): save it as UTF-8",
                bytes[at]
            ),
        );
        p.line = Some(line);
        p.column = Some(column);
        fail(p)
    })
}

/// [`load`] for text already in memory (`source`, when given, plays the role of the file's path).
pub fn load_str(
    text: &str,
    source: Option<&Path>,
    overrides: &[String],
    catalog: &dyn PortCatalog,
) -> Result<Experiment, ConfigError> {
    load_str_with_warnings(text, source, overrides, catalog).map(|(exp, _)| exp)
}

/// [`load`], also returning the warnings: things that run but are probably not meant, placed in the
/// file like errors (today: an input port that no link feeds, at `engines.NAME`).
pub fn load_with_warnings(
    path: &Path,
    overrides: &[String],
    catalog: &dyn PortCatalog,
) -> Result<(Experiment, Vec<Problem>), ConfigError> {
    let text = read_file(path)?;
    load_str_with_warnings(&text, Some(path), overrides, catalog)
}

/// [`load_str`] with the warnings of [`load_with_warnings`].
pub fn load_str_with_warnings(
    text: &str,
    source: Option<&Path>,
    overrides: &[String],
    catalog: &dyn PortCatalog,
) -> Result<(Experiment, Vec<Problem>), ConfigError> {
    let read = resolve::read(text, source, overrides)?;
    let mut problems = read.problems.clone();
    let (ports, port_problems) = resolve::gather_ports(&read.exp, catalog);
    // One problem per key: an engine that refuses a value already reported (a NaN passed as null)
    // adds nothing.
    problems.extend(
        port_problems
            .into_iter()
            .filter(|p| !read.problems.iter().any(|q| q.path == p.path)),
    );
    problems.extend(check::check_port_level(&read.exp, &ports, &read.origins));
    problems.extend(expect::check_ports(&read.exp, &ports, &read.expect_origins));
    if !problems.is_empty() {
        return Err(read.error(problems));
    }
    let warnings = read
        .error(check::unlinked_inputs(&read.exp, &ports))
        .problems;
    Ok((read.exp, warnings))
}

/// Checks links and record entries against known ports: engines and ports exist, links go from an
/// output to an input of a matching type, shape and unit (through every transfer of the chain, if
/// any), each input has at most one link, record entries are distinct output ports or linked input
/// ports. Engines missing from `ports` (executables without declared ports) are skipped. The problems carry key paths but no lines; fill
/// them with [`locate`] on [`Experiment::text`].
pub fn check_ports(exp: &Experiment, ports: &BTreeMap<String, Vec<PortSpec>>) -> Vec<Problem> {
    let origins = check::Origins::identity(exp);
    let mut problems = check::check_refs(exp, &origins);
    problems.extend(check::check_port_level(exp, ports, &origins));
    let expect_origins = expect::ExpectOrigins::identity(exp);
    problems.extend(expect::check_refs(exp, &expect_origins));
    problems.extend(expect::check_ports(exp, ports, &expect_origins));
    problems
}

/// Line and column (1-based) of the key at `path` (e.g. `engines.plant.step_ms`, `links[2].to`) in
/// `text`, if the text parses and the key is there. An element of an array of tables is found at its
/// `[[header]]`.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    paths::Locator::new(text).locate(path, true)
}

/// A validated experiment, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// Where the file came from (None for text given directly).
    pub source: Option<PathBuf>,
    /// The file's text as read, before overrides.
    pub text: String,
    /// The `--set` overrides applied, as given.
    pub overrides: Vec<String>,
    /// Experiment name (the file stem unless `run.name` is set).
    pub name: String,
    /// Length of the base step in ms.
    pub base_step_ms: f64,
    /// Longest exchange window in base steps (`run.window_ms`; `u32::MAX`: as the links allow).
    pub max_window: u32,
    /// Length of the run.
    pub duration: Step,
    /// Run seed.
    pub seed: u64,
    /// Pace simulated time to the wall clock.
    pub realtime: bool,
    /// A step taking longer than this (wall ms) means the engine hangs.
    pub step_timeout_ms: u64,
    /// How long to wait for engines to join (wall ms).
    pub join_timeout_ms: u64,
    /// Folder under which the run folder is created.
    pub output_dir: PathBuf,
    /// Zenoh settings.
    pub zenoh: ZenohSpec,
    /// Engines, sorted by name (an engine's index is its position here).
    pub engines: Vec<EngineSpec>,
    /// Links in file order.
    pub links: Vec<LinkSpec>,
    /// Ports to record: output ports, and input ports that a link feeds (what it delivered).
    pub record: Vec<PortRef>,
    /// Expected results (`[[expect]]`), in file order, checked by `neuroloop check`.
    pub expect: Vec<Expectation>,
}
