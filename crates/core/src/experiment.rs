//! Experiment files: what a run is made of.
//!
//! An experiment file (TOML) names the engines, their sync steps and configurations, the links between
//! their ports (with optional transfer functions), the duration, the seed and what to record. Reading one
//! has two stages (habit 9 of the style guide): the file is deserialized strictly (unknown keys refused)
//! into `ExperimentSpec`, then [`resolve`]d into an [`Experiment`] with every cross-field check done and
//! times converted to base steps, or into a [`ConfigError`] listing every problem with its file, line and
//! key path.

use std::path::PathBuf;

use crate::port::PortSpec;
use crate::time::Step;
use crate::transfer::TransferSpec;

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
    /// Optional transfer function applied on delivery.
    pub transfer: Option<TransferSpec>,
}

/// Zenoh settings of a run.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ZenohSpec {
    /// Endpoint the coordinator listens on (default: `tcp/127.0.0.1:<free port>`).
    pub listen: Option<String>,
    /// Endpoints (e.g. a router) the coordinator and engines also connect to.
    pub connect: Vec<String>,
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
    /// Output ports to record.
    pub record: Vec<PortRef>,
}
