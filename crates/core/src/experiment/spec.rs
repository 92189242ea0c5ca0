//! The strict serde form of an experiment file: exactly what the TOML says, nothing checked across
//! fields yet. Every table refuses unknown keys.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::port::{Direction, PortType};
use crate::transfer::TransferChainSpec;

/// A whole experiment file as written.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// The `[run]` table.
    pub run: RunSection,
    /// The optional `[zenoh]` table.
    #[serde(default)]
    pub zenoh: Option<ZenohSection>,
    /// The `[engines.NAME]` tables, by name.
    #[serde(default)]
    pub engines: BTreeMap<String, EngineSection>,
    /// The `[[links]]` tables, in file order.
    #[serde(default)]
    pub links: Vec<LinkSection>,
    /// The optional `[record]` table.
    #[serde(default)]
    pub record: Option<RecordSection>,
    /// The `[[expect]]` tables (expected results, checked by `neuroloop check`), in file order.
    #[serde(default)]
    pub expect: Vec<ExpectSection>,
    /// The `[[decoders]]` tables (population decoders used by `[[expect]]` metrics), in file order.
    #[serde(default)]
    pub decoders: Vec<DecoderSection>,
}

/// One `[[decoders]]` table: reads the value a population codes for (e.g. a position in mm) from its
/// recorded spikes, as the mean of its neurons' preferred values weighted by their spike counts in a
/// sliding window (the population vector of Georgopoulos et al. 1986 on a line).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderSection {
    /// Name, referred to by metrics (letters, digits and _).
    pub name: String,
    /// Recorded spikes port, `"engine.port"`.
    pub port: String,
    /// Preferred value of each neuron.
    pub preferred: PreferredSection,
    /// Fewest spikes in a window for an estimate (default 1): windows with fewer have none.
    #[serde(default = "one_u32")]
    pub min_spikes: u32,
}

/// Preferred values on a lattice: neuron i prefers `first + step * floor((i mod period) / per)`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferredSection {
    /// Preferred value of neuron 0.
    pub first: f64,
    /// Step between neighbouring values.
    pub step: f64,
    /// Neurons per value (default 1).
    #[serde(default = "one_u32")]
    pub per: u32,
    /// The lattice repeats every `period` neurons (default: never), e.g. ON then OFF event channels.
    #[serde(default)]
    pub period: Option<u32>,
}

fn one_u32() -> u32 {
    1
}

/// The `[run]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Experiment name (default: the file stem, or `"experiment"`).
    #[serde(default)]
    pub name: Option<String>,
    /// Length of the run in ms (> 0, a whole multiple of `base_step_ms`).
    pub duration_ms: f64,
    /// Length of the base step in ms (default 1, > 0).
    #[serde(default = "default_base_step_ms")]
    pub base_step_ms: f64,
    /// Run seed (default 0).
    #[serde(default)]
    pub seed: u64,
    /// Pace simulated time to the wall clock (default false).
    #[serde(default)]
    pub realtime: bool,
    /// Wall-clock ms after which a step counts as hung (default 10000, > 0).
    #[serde(default = "default_step_timeout_ms")]
    pub step_timeout_ms: u64,
    /// Wall-clock ms to wait for engines to join (default 20000, > 0).
    #[serde(default = "default_join_timeout_ms")]
    pub join_timeout_ms: u64,
    /// Longest exchange window in ms (default: as long as the links' delays allow; `run.base_step_ms`:
    /// an exchange at every step).
    #[serde(default)]
    pub window_ms: Option<f64>,
    /// Folder under which run folders are created (default `"runs"`; relative paths stay relative).
    #[serde(default = "default_output_dir")]
    pub output_dir: String,
}

/// The `[zenoh]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZenohSection {
    /// Endpoint the coordinator listens on.
    #[serde(default)]
    pub listen: Option<String>,
    /// Endpoints to connect to as well.
    #[serde(default)]
    pub connect: Vec<String>,
    /// Zenoh's low-latency transport: a shorter round trip per step, but no message may exceed 64 KiB
    /// (default false).
    #[serde(default)]
    pub lowlatency: bool,
    /// TLS with mutual authentication (default: none).
    #[serde(default)]
    pub tls: Option<TlsSection>,
}

/// `[zenoh] tls = { ca = ..., cert = ..., key = ... }`: PEM files, relative to the experiment file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// The certificate of the run's certificate authority.
    pub ca: String,
    /// The coordinator's certificate (signed by the CA).
    pub cert: String,
    /// The coordinator's private key.
    pub key: String,
}

/// One `[engines.NAME]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// A built-in engine name, or a path to an executable if it contains `/`.
    pub kind: String,
    /// Sync step in ms (> 0, a whole multiple of `run.base_step_ms`).
    pub step_ms: f64,
    /// Engine seed (default: derived from the run seed and the engine name).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Started by the user; the coordinator waits for it (default false).
    #[serde(default)]
    pub external: bool,
    /// Extra command-line arguments for an executable.
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// Engine configuration, passed to the engine as JSON. For built-in engines, a relative path under a
    /// key ending in `_file` (`network_file = "brunel.toml"`) is taken relative to the experiment file.
    #[serde(default)]
    pub config: Option<toml::Table>,
    /// Port declarations (for executables and external engines).
    #[serde(default)]
    pub ports: Option<Vec<PortSection>>,
}

/// One `[[engines.NAME.ports]]` declaration.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSection {
    /// Port name (`[A-Za-z0-9_]+`).
    pub name: String,
    /// `"input"` or `"output"`.
    pub direction: Direction,
    /// `"spikes"`, `"analog"`, `"events"` or `"scalar"`.
    #[serde(rename = "type")]
    pub port_type: PortType,
    /// Population size (spikes only).
    #[serde(default)]
    pub size: Option<u32>,
    /// Channels (analog only).
    #[serde(default)]
    pub channels: Option<Vec<ChannelSection>>,
    /// Sensor width (events only).
    #[serde(default)]
    pub width: Option<u16>,
    /// Sensor height (events only).
    #[serde(default)]
    pub height: Option<u16>,
    /// Unit (scalar only; default `"1"`).
    #[serde(default)]
    pub unit: Option<String>,
}

/// One channel of an analog port declaration.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSection {
    /// Channel name.
    pub name: String,
    /// Channel unit (`"1"` for dimensionless).
    pub unit: String,
}

/// One `[[links]]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSection {
    /// Producing output port, `"engine.port"`.
    pub from: String,
    /// Consuming input port, `"engine.port"`.
    pub to: String,
    /// Optional transfer function: one table, or a list of tables applied in order.
    #[serde(default)]
    pub transfer: Option<TransferChainSpec>,
    /// Latency in ms (a whole multiple of `run.base_step_ms`; default one base step): a consumer step
    /// starting at t sees what the producer made in steps that ended at or before t + base - delay.
    #[serde(default)]
    pub delay_ms: Option<f64>,
}

/// The `[record]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSection {
    /// Ports to record, `"engine.port"`: output ports (what the engine produced) or linked input ports
    /// (what the link delivered, after its transfer functions).
    #[serde(default)]
    pub ports: Vec<String>,
}

/// One `[[expect]]` table: an expected result of the run, measured from the run folder by
/// `neuroloop check`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSection {
    /// Short name printed with the result (non-empty).
    pub name: String,
    /// What is measured.
    pub metric: MetricSection,
    /// Lower bound (inclusive) of the measured value; at least one of `min` and `max` unless the entry
    /// only reports a value.
    #[serde(default)]
    pub min: Option<f64>,
    /// Upper bound (inclusive) of the measured value.
    #[serde(default)]
    pub max: Option<f64>,
    /// Shown beside the result, e.g. the paper's value.
    #[serde(default)]
    pub note: Option<String>,
}

/// A channel of a recorded port: its name or its 0-based index.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ChannelSelect {
    /// 0-based channel index.
    Index(u32),
    /// Channel name (the port's channel name, as in the recording's column).
    Name(String),
}

/// The `metric` of an `[[expect]]` table, by its `kind`.
///
/// Trial ranges `trials = [first, last]` are 1-based and inclusive (default: every trial); windows
/// `window_ms = [t0, t1]` take the samples and spikes with `t0 < t_ms <= t1` (default: the whole run).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MetricSection {
    /// Fraction of successful trials in the body engine `engine`'s per-trial records.
    SuccessRate {
        /// The body engine.
        engine: String,
        /// `[first, last]`, 1-based, inclusive.
        #[serde(default)]
        trials: Option<[u32; 2]>,
    },
    /// Mean of a numeric field of the per-trial records, over the trials where it has a value.
    TrialMean {
        /// The body engine.
        engine: String,
        /// Field of the trial record, e.g. `reaction_time_ms` or `lateral_at_bins_mm`.
        field: String,
        /// `[first, last]`, 1-based, inclusive.
        #[serde(default)]
        trials: Option<[u32; 2]>,
        /// For a per-bin field: the bin, by its pull distance in mm (one of the task's `bins_mm`).
        #[serde(default)]
        bin_mm: Option<f64>,
        /// For a list field: the element, by its 0-based index.
        #[serde(default)]
        index: Option<u32>,
    },
    /// `numerator / denominator`.
    Ratio {
        /// A metric.
        numerator: Box<MetricSection>,
        /// A metric.
        denominator: Box<MetricSection>,
    },
    /// `of - minus` (e.g. a block's mean against the baseline's).
    Difference {
        /// A metric.
        of: Box<MetricSection>,
        /// A metric.
        minus: Box<MetricSection>,
    },
    /// `|of|`.
    Abs {
        /// A metric.
        of: Box<MetricSection>,
    },
    /// Mean of one channel of a recorded analog (or scalar) port over a window.
    Mean {
        /// Recorded output port, `"engine.port"`.
        port: String,
        /// Channel name or index (may be left out for a scalar port or a one-channel port).
        #[serde(default)]
        channel: Option<ChannelSelect>,
        /// `[t0, t1]` in ms.
        #[serde(default)]
        window_ms: Option<[f64; 2]>,
    },
    /// Root mean square of `port.channel - reference.reference_channel` over a window, samples paired
    /// by step.
    RmsError {
        /// Recorded output port, `"engine.port"`.
        port: String,
        /// Its channel.
        #[serde(default)]
        channel: Option<ChannelSelect>,
        /// The recorded output port compared with.
        reference: String,
        /// Its channel.
        #[serde(default)]
        reference_channel: Option<ChannelSelect>,
        /// `[t0, t1]` in ms.
        #[serde(default)]
        window_ms: Option<[f64; 2]>,
    },
    /// RMS error of a population decoder's estimate (a `[[decoders]]` name) against a recorded
    /// channel averaged over the same sliding windows, sampled every `every_ms`.
    DecodedRmsError {
        /// The decoder.
        decoder: String,
        /// The recorded output port compared with, `"engine.port"`.
        reference: String,
        /// Its channel.
        #[serde(default)]
        reference_channel: Option<ChannelSelect>,
        /// Sliding window of the estimates, ms (default 50).
        #[serde(default = "default_decode_ms")]
        decode_ms: f64,
        /// Sampling interval, ms (default 10).
        #[serde(default = "default_every_ms")]
        every_ms: f64,
        /// Decoders that must all have an estimate at a sample for it to count (default: `decoder`);
        /// give the same list to errors that are compared.
        #[serde(default)]
        samples: Option<Vec<String>>,
        /// `[t0, t1]` in ms: the samples taken.
        #[serde(default)]
        window_ms: Option<[f64; 2]>,
    },
    /// The weight of one cue in a combined estimate: `measured` by least squares of the combined
    /// decoder's error on the cues' errors (each centred), or `predicted` by inverse-variance weighting
    /// of the cues' error variances, `(1/var_i) / sum_j (1/var_j)`. Samples where the combined decoder
    /// and every cue have an estimate.
    CueWeight {
        /// The cue whose weight is measured (a decoder name, one of `cues`).
        cue: String,
        /// The decoder of the combined estimate.
        combined: String,
        /// The decoders of all cues.
        cues: Vec<String>,
        /// `"measured"` or `"predicted"`.
        estimate: WeightEstimate,
        /// The recorded output port compared with, `"engine.port"`.
        reference: String,
        /// Its channel.
        #[serde(default)]
        reference_channel: Option<ChannelSelect>,
        /// Sliding window of the estimates, ms (default 50).
        #[serde(default = "default_decode_ms")]
        decode_ms: f64,
        /// Sampling interval, ms (default 10).
        #[serde(default = "default_every_ms")]
        every_ms: f64,
        /// `[t0, t1]` in ms: the samples taken.
        #[serde(default)]
        window_ms: Option<[f64; 2]>,
    },
    /// Number of spikes of a recorded spike port over a window.
    SpikeCount {
        /// Recorded output port, `"engine.port"`.
        port: String,
        /// `[first, last]` neuron indices, 0-based, inclusive (default: all).
        #[serde(default)]
        neurons: Option<[u32; 2]>,
        /// `[t0, t1]` in ms.
        #[serde(default)]
        window_ms: Option<[f64; 2]>,
    },
    /// Mean rate per neuron (Hz) of a recorded spike port over a window.
    SpikeRate {
        /// Recorded output port, `"engine.port"`.
        port: String,
        /// `[first, last]` neuron indices, 0-based, inclusive (default: the whole population).
        #[serde(default)]
        neurons: Option<[u32; 2]>,
        /// `[t0, t1]` in ms.
        #[serde(default)]
        window_ms: Option<[f64; 2]>,
    },
}

/// How a `cue_weight` is obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightEstimate {
    /// Least squares of the combined error on the cues' errors.
    Measured,
    /// Inverse-variance weighting of the cues' errors.
    Predicted,
}

fn default_decode_ms() -> f64 {
    50.0
}
fn default_every_ms() -> f64 {
    10.0
}
fn default_base_step_ms() -> f64 {
    1.0
}
fn default_step_timeout_ms() -> u64 {
    10_000
}
fn default_join_timeout_ms() -> u64 {
    20_000
}
fn default_output_dir() -> String {
    "runs".into()
}
