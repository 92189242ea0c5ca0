//! Expected results (`[[expect]]` tables): their resolved form and their checks, without ports (the
//! references, ranges and bounds) and with ports (the port exists, has the right type, the channel
//! exists, the neuron range fits the population).

use std::collections::BTreeMap;

use super::paths::join;
use super::spec::{ChannelSelect, DecoderSection, ExpectSection, MetricSection, WeightEstimate};
use super::{Experiment, PortRef, Problem};
use crate::port::{Direction, PortKind, PortSpec};

/// One expected result of a run: a measured metric and the bounds it must lie within.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    /// Short name printed with the result.
    pub name: String,
    /// What is measured.
    pub metric: Metric,
    /// Lower bound, inclusive.
    pub min: Option<f64>,
    /// Upper bound, inclusive.
    pub max: Option<f64>,
    /// Shown beside the result (e.g. the paper's value).
    pub note: Option<String>,
}

impl Expectation {
    /// Whether `value` lies within the bounds (a value that is not a number never does; an entry with
    /// no bounds only reports and always passes a finite value).
    pub fn passes(&self, value: f64) -> bool {
        value.is_finite()
            && self.min.is_none_or(|m| value >= m)
            && self.max.is_none_or(|m| value <= m)
    }

    /// The bounds as text: `>= 0.7`, `<= 1.2`, `in [0.9, 1.1]`, or `no bound`.
    pub fn bounds(&self) -> String {
        match (self.min, self.max) {
            (Some(a), Some(b)) => format!("in [{a}, {b}]"),
            (Some(a), None) => format!(">= {a}"),
            (None, Some(b)) => format!("<= {b}"),
            (None, None) => "no bound".to_string(),
        }
    }
}

/// A 1-based, inclusive range of trials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrialRange {
    /// First trial, 1-based.
    pub first: u32,
    /// Last trial, 1-based, inclusive.
    pub last: u32,
}

/// A time window: samples and spikes with `t0_ms < t_ms <= t1_ms`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowMs {
    /// Start, ms (excluded).
    pub t0_ms: f64,
    /// End, ms (included).
    pub t1_ms: f64,
}

impl WindowMs {
    /// Whether `t_ms` lies in the window.
    pub fn contains(&self, t_ms: f64) -> bool {
        t_ms > self.t0_ms && t_ms <= self.t1_ms
    }

    /// Length in ms.
    pub fn len_ms(&self) -> f64 {
        self.t1_ms - self.t0_ms
    }
}

/// Which element of a list field of a trial record a `trial_mean` takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrialElement {
    /// The bin at this pull distance (mm), one of the task's `bins_mm`.
    BinMm(f64),
    /// 0-based index.
    Index(u32),
}

/// A measured quantity of a run (see [`MetricSection`] for the file syntax).
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    /// Fraction of successful trials of body engine `engine`.
    SuccessRate {
        /// The body engine.
        engine: String,
        /// The trials (None: all).
        trials: Option<TrialRange>,
    },
    /// Mean of a numeric trial-record field over the trials where it has a value.
    TrialMean {
        /// The body engine.
        engine: String,
        /// Field name.
        field: String,
        /// The trials (None: all).
        trials: Option<TrialRange>,
        /// Element of a list field.
        element: Option<TrialElement>,
    },
    /// Quotient of two metrics.
    Ratio(Box<Metric>, Box<Metric>),
    /// Difference of two metrics (the first minus the second).
    Difference(Box<Metric>, Box<Metric>),
    /// Absolute value of a metric.
    Abs(Box<Metric>),
    /// Mean of one channel of a recorded analog or scalar port.
    Mean {
        /// The port.
        port: PortRef,
        /// The channel (None: the only one).
        channel: Option<ChannelSelect>,
        /// The window (None: the whole run).
        window: Option<WindowMs>,
    },
    /// RMS of the difference of two recorded channels, paired by step.
    RmsError {
        /// The port.
        port: PortRef,
        /// Its channel.
        channel: Option<ChannelSelect>,
        /// The reference port.
        reference: PortRef,
        /// Its channel.
        reference_channel: Option<ChannelSelect>,
        /// The window (None: the whole run).
        window: Option<WindowMs>,
    },
    /// A quantity of population decoders' estimates (error, cue weight).
    Decoded(Box<Decoded>),
    /// Number of spikes of a recorded spike port.
    SpikeCount {
        /// The port.
        port: PortRef,
        /// Neurons `(first, last)`, 0-based inclusive (None: all).
        neurons: Option<(u32, u32)>,
        /// The window (None: the whole run).
        window: Option<WindowMs>,
    },
    /// Mean rate per neuron of a recorded spike port, Hz.
    SpikeRate {
        /// The port.
        port: PortRef,
        /// Neurons `(first, last)`, 0-based inclusive (None: the whole population).
        neurons: Option<(u32, u32)>,
        /// The window (None: the whole run).
        window: Option<WindowMs>,
    },
}

/// A population decoder (a `[[decoders]]` table): the value a population codes for, read from its
/// recorded spikes as the spike-count-weighted mean of its neurons' preferred values.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoder {
    /// Name.
    pub name: String,
    /// The recorded spikes port.
    pub port: PortRef,
    /// Preferred value of neuron 0.
    pub first: f64,
    /// Step between neighbouring preferred values.
    pub step: f64,
    /// Neurons per value (>= 1).
    pub per: u32,
    /// The lattice repeats every `period` neurons.
    pub period: Option<u32>,
    /// Fewest spikes in a window for an estimate.
    pub min_spikes: u32,
}

impl Decoder {
    /// The preferred value of neuron `i`: `first + step * floor((i mod period) / per)`.
    pub fn preferred(&self, i: u32) -> f64 {
        let i = self.period.map_or(i, |p| i % p.max(1));
        self.first + self.step * f64::from(i / self.per.max(1))
    }
}

/// What a [`Metric::Decoded`] measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DecodedQuantity {
    /// RMS error of `decoders[0]`.
    RmsError,
    /// Weight of cue `decoders[1 + cue]` in the combined estimate `decoders[0]`, measured (least
    /// squares) or predicted (inverse variance) from the cues `decoders[1..]`.
    Weight {
        /// Index among the cues.
        cue: usize,
        /// Predicted rather than measured.
        predicted: bool,
    },
}

/// Population decoders' estimates compared with a recorded channel: at sample times t every
/// `every_ms` in the window, each decoder's estimate from the spikes in `(t - decode_ms, t]` against
/// the mean of the reference channel over the same steps; a sample counts where every decoder has
/// an estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The quantity.
    pub quantity: DecodedQuantity,
    /// The decoders (see [`DecodedQuantity`] for the order).
    pub decoders: Vec<Decoder>,
    /// The reference port.
    pub reference: PortRef,
    /// Its channel.
    pub reference_channel: Option<ChannelSelect>,
    /// Sliding window, ms.
    pub decode_ms: f64,
    /// Sampling interval, ms.
    pub every_ms: f64,
    /// The samples' window (None: the whole run).
    pub window: Option<WindowMs>,
}

fn fmt_channel(c: &Option<ChannelSelect>) -> String {
    match c {
        None => String::new(),
        Some(ChannelSelect::Index(i)) => format!("[{i}]"),
        Some(ChannelSelect::Name(n)) => format!(".{n}"),
    }
}

fn fmt_window(w: &Option<WindowMs>) -> String {
    match w {
        None => "whole run".to_string(),
        Some(w) => format!("{}-{} ms", w.t0_ms, w.t1_ms),
    }
}

fn fmt_trials(t: &Option<TrialRange>) -> String {
    match t {
        None => "all trials".to_string(),
        Some(t) => format!("trials {}-{}", t.first, t.last),
    }
}

fn fmt_neurons(n: &Option<(u32, u32)>) -> String {
    match n {
        None => String::new(),
        Some((a, b)) => format!(" neurons {a}-{b}"),
    }
}

impl std::fmt::Display for Metric {
    /// A compact description, e.g. `success_rate(body, trials 200-250)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Metric::SuccessRate { engine, trials } => {
                write!(f, "success_rate({engine}, {})", fmt_trials(trials))
            }
            Metric::TrialMean {
                engine,
                field,
                trials,
                element,
            } => {
                let e = match element {
                    None => String::new(),
                    Some(TrialElement::BinMm(b)) => format!(" at {b} mm"),
                    Some(TrialElement::Index(i)) => format!("[{i}]"),
                };
                write!(f, "trial_mean({engine} {field}{e}, {})", fmt_trials(trials))
            }
            Metric::Ratio(a, b) => write!(f, "{a} / {b}"),
            Metric::Difference(a, b) => write!(f, "({a} - {b})"),
            Metric::Abs(a) => write!(f, "|{a}|"),
            Metric::Mean {
                port,
                channel,
                window,
            } => write!(
                f,
                "mean({port}{}, {})",
                fmt_channel(channel),
                fmt_window(window)
            ),
            Metric::RmsError {
                port,
                channel,
                reference,
                reference_channel,
                window,
            } => write!(
                f,
                "rms_error({port}{} - {reference}{}, {})",
                fmt_channel(channel),
                fmt_channel(reference_channel),
                fmt_window(window)
            ),
            Metric::Decoded(d) => {
                let names: Vec<&str> = d.decoders.iter().map(|x| x.name.as_str()).collect();
                let what = match d.quantity {
                    DecodedQuantity::RmsError => format!("decoded_rms_error({}", names[0]),
                    DecodedQuantity::Weight { cue, predicted } => format!(
                        "cue_weight({} in {}, {}",
                        names[1 + cue],
                        names[0],
                        if predicted { "predicted" } else { "measured" }
                    ),
                };
                write!(
                    f,
                    "{what} - {}{}, {})",
                    d.reference,
                    fmt_channel(&d.reference_channel),
                    fmt_window(&d.window)
                )
            }
            Metric::SpikeCount {
                port,
                neurons,
                window,
            } => write!(
                f,
                "spike_count({port}{}, {})",
                fmt_neurons(neurons),
                fmt_window(window)
            ),
            Metric::SpikeRate {
                port,
                neurons,
                window,
            } => write!(
                f,
                "spike_rate({port}{}, {})",
                fmt_neurons(neurons),
                fmt_window(window)
            ),
        }
    }
}

/// Resolves the `[[expect]]` tables. Entries with problems are left out. A window may end after the
/// run (a run shortened with `--set run.duration_ms=...` keeps its file valid): what it holds is only
/// known when the run folder is measured.
pub(crate) fn resolve(
    sections: &[ExpectSection],
    decoder_sections: &[DecoderSection],
    problems: &mut Vec<Problem>,
) -> (Vec<Expectation>, ExpectOrigins) {
    let decoders = Decoders {
        ok: resolve_decoders(decoder_sections, problems),
        names: decoder_sections.iter().map(|d| d.name.clone()).collect(),
    };
    let mut out = Vec::new();
    let mut origins = ExpectOrigins(Vec::new());
    for (i, e) in sections.iter().enumerate() {
        let path = format!("expect[{i}]");
        let start = problems.len();
        let mut bad =
            |key: &str, message: String| problems.push(Problem::new(join(&path, key), message));
        if e.name.trim().is_empty() {
            bad("name", "name = \"\" must not be empty".into());
        }
        for (v, key) in [(e.min, "min"), (e.max, "max")] {
            if let Some(v) = v.filter(|v| !v.is_finite()) {
                bad(key, format!("{key} = {v} must be a finite number"));
            }
        }
        if let (Some(a), Some(b)) = (e.min, e.max) {
            if a > b {
                bad("max", format!("max = {b} is below min = {a}"));
            }
        }
        let metric = resolve_metric(&e.metric, &join(&path, "metric"), &decoders, problems);
        if problems.len() == start {
            if let Some(metric) = metric {
                out.push(Expectation {
                    name: e.name.clone(),
                    metric,
                    min: e.min,
                    max: e.max,
                    note: e.note.clone(),
                });
                origins.0.push(i);
            }
        }
    }
    (out, origins)
}

fn trial_range(
    t: &Option<[u32; 2]>,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<TrialRange> {
    let [first, last] = (*t)?;
    if first == 0 || last < first {
        problems.push(Problem::new(
            join(path, "trials"),
            format!(
                "trials = [{first}, {last}] must be [first, last] with 1 <= first <= last (trials count from 1)"
            ),
        ));
    }
    Some(TrialRange { first, last })
}

fn window(w: &Option<[f64; 2]>, path: &str, problems: &mut Vec<Problem>) -> Option<WindowMs> {
    let [t0, t1] = (*w)?;
    let key = join(path, "window_ms");
    if !(t0.is_finite() && t1.is_finite() && t0 >= 0.0 && t0 < t1) {
        problems.push(Problem::new(
            key,
            format!("window_ms = [{t0}, {t1}] must be [t0, t1] with 0 <= t0 < t1"),
        ));
    }
    Some(WindowMs {
        t0_ms: t0,
        t1_ms: t1,
    })
}

fn neuron_range(
    n: &Option<[u32; 2]>,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<(u32, u32)> {
    let [a, b] = (*n)?;
    if b < a {
        problems.push(Problem::new(
            join(path, "neurons"),
            format!("neurons = [{a}, {b}] must be [first, last] with first <= last (0-based)"),
        ));
    }
    Some((a, b))
}

fn port_ref(text: &str, path: &str, key: &str, problems: &mut Vec<Problem>) -> Option<PortRef> {
    match super::resolve::parse_ref(text) {
        Ok(r) => Some(r),
        Err(m) => {
            problems.push(Problem::new(join(path, key), m));
            None
        }
    }
}

fn engine_name(engine: &str, path: &str, problems: &mut Vec<Problem>) {
    if !crate::port::valid_name(engine) {
        problems.push(Problem::new(
            join(path, "engine"),
            format!("engine = \"{engine}\" is not an engine name (letters, digits and _)"),
        ));
    }
}

/// Resolves the `[[decoders]]` tables; entries with problems are left out (a metric naming one is
/// then reported as naming an unknown decoder only if the name is not there at all).
fn resolve_decoders(sections: &[DecoderSection], problems: &mut Vec<Problem>) -> Vec<Decoder> {
    let mut out: Vec<Decoder> = Vec::new();
    for (i, d) in sections.iter().enumerate() {
        let path = format!("decoders[{i}]");
        let start = problems.len();
        if !crate::port::valid_name(&d.name) {
            problems.push(Problem::new(
                join(&path, "name"),
                format!(
                    "name = \"{}\" is not a decoder name (letters, digits and _)",
                    d.name
                ),
            ));
        } else if out.iter().any(|o| o.name == d.name)
            || sections[..i].iter().any(|o| o.name == d.name)
        {
            problems.push(Problem::new(
                join(&path, "name"),
                format!("decoder \"{}\" is defined twice", d.name),
            ));
        }
        let p = &d.preferred;
        if !(p.first.is_finite() && p.step.is_finite()) {
            problems.push(Problem::new(
                join(&path, "preferred"),
                "first and step must be finite numbers".to_string(),
            ));
        }
        if p.per == 0 || p.period == Some(0) {
            problems.push(Problem::new(
                join(&path, "preferred"),
                "per and period must be at least 1".to_string(),
            ));
        }
        if d.min_spikes == 0 {
            problems.push(Problem::new(
                join(&path, "min_spikes"),
                "min_spikes = 0: an estimate needs at least one spike".to_string(),
            ));
        }
        let port = port_ref(&d.port, &path, "port", problems);
        if let (Some(port), true) = (port, problems.len() == start) {
            out.push(Decoder {
                name: d.name.clone(),
                port,
                first: p.first,
                step: p.step,
                per: p.per,
                period: p.period,
                min_spikes: d.min_spikes,
            });
        }
    }
    out
}

/// The `[[decoders]]` of a file: those without problems, and every name written.
struct Decoders {
    ok: Vec<Decoder>,
    names: Vec<String>,
}

/// The decoders named `names`, in order; a problem at `path.key` for a name not defined (a decoder
/// that is defined but has its own problem is None without another one).
fn named_decoders(
    names: &[&String],
    decoders: &Decoders,
    path: &str,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Option<Vec<Decoder>> {
    let mut out = Vec::new();
    for name in names {
        match decoders.ok.iter().find(|d| &&d.name == name) {
            Some(d) => out.push(d.clone()),
            None if decoders.names.contains(name) => {}
            None => {
                let known: Vec<&str> = decoders.names.iter().map(String::as_str).collect();
                problems.push(Problem::new(
                    join(path, key),
                    format!(
                        "decoder \"{name}\" is not defined in [[decoders]] (defined: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
    }
    (out.len() == names.len()).then_some(out)
}

fn sampling(decode_ms: f64, every_ms: f64, path: &str, problems: &mut Vec<Problem>) {
    for (v, key) in [(decode_ms, "decode_ms"), (every_ms, "every_ms")] {
        if !(v.is_finite() && v > 0.0) {
            problems.push(Problem::new(
                join(path, key),
                format!("{key} = {v} must be a positive number of ms"),
            ));
        }
    }
}

fn resolve_metric(
    m: &MetricSection,
    path: &str,
    decoders: &Decoders,
    problems: &mut Vec<Problem>,
) -> Option<Metric> {
    Some(match m {
        MetricSection::SuccessRate { engine, trials } => {
            engine_name(engine, path, problems);
            Metric::SuccessRate {
                engine: engine.clone(),
                trials: trial_range(trials, path, problems),
            }
        }
        MetricSection::TrialMean {
            engine,
            field,
            trials,
            bin_mm,
            index,
        } => {
            engine_name(engine, path, problems);
            if field.trim().is_empty() {
                problems.push(Problem::new(
                    join(path, "field"),
                    "field = \"\": name a numeric field of the trial records".to_string(),
                ));
            }
            let element = match (bin_mm, index) {
                (Some(_), Some(_)) => {
                    problems.push(Problem::new(
                        join(path, "index"),
                        "give bin_mm or index, not both".to_string(),
                    ));
                    None
                }
                (Some(b), None) => {
                    if !(b.is_finite() && *b > 0.0) {
                        problems.push(Problem::new(
                            join(path, "bin_mm"),
                            format!("bin_mm = {b} must be a pull distance > 0 mm"),
                        ));
                    }
                    Some(TrialElement::BinMm(*b))
                }
                (None, Some(i)) => Some(TrialElement::Index(*i)),
                (None, None) => None,
            };
            Metric::TrialMean {
                engine: engine.clone(),
                field: field.clone(),
                trials: trial_range(trials, path, problems),
                element,
            }
        }
        MetricSection::Ratio {
            numerator,
            denominator,
        } => {
            let a = resolve_metric(numerator, &join(path, "numerator"), decoders, problems);
            let b = resolve_metric(denominator, &join(path, "denominator"), decoders, problems);
            Metric::Ratio(Box::new(a?), Box::new(b?))
        }
        MetricSection::Difference { of, minus } => {
            let a = resolve_metric(of, &join(path, "of"), decoders, problems);
            let b = resolve_metric(minus, &join(path, "minus"), decoders, problems);
            Metric::Difference(Box::new(a?), Box::new(b?))
        }
        MetricSection::Abs { of } => Metric::Abs(Box::new(resolve_metric(
            of,
            &join(path, "of"),
            decoders,
            problems,
        )?)),
        MetricSection::Mean {
            port,
            channel,
            window_ms,
        } => {
            let w = window(window_ms, path, problems);
            Metric::Mean {
                port: port_ref(port, path, "port", problems)?,
                channel: channel.clone(),
                window: w,
            }
        }
        MetricSection::RmsError {
            port,
            channel,
            reference,
            reference_channel,
            window_ms,
        } => {
            let w = window(window_ms, path, problems);
            let p = port_ref(port, path, "port", problems);
            let r = port_ref(reference, path, "reference", problems);
            Metric::RmsError {
                port: p?,
                channel: channel.clone(),
                reference: r?,
                reference_channel: reference_channel.clone(),
                window: w,
            }
        }
        MetricSection::DecodedRmsError {
            decoder,
            reference,
            reference_channel,
            decode_ms,
            every_ms,
            samples,
            window_ms,
        } => {
            let w = window(window_ms, path, problems);
            sampling(*decode_ms, *every_ms, path, problems);
            let r = port_ref(reference, path, "reference", problems);
            let mut names = vec![decoder];
            names.extend(samples.iter().flatten().filter(|s| *s != decoder));
            let d = named_decoders(&names[..1], decoders, path, "decoder", problems);
            let s = named_decoders(&names[1..], decoders, path, "samples", problems);
            let mut all = d?;
            all.extend(s?);
            Metric::Decoded(Box::new(Decoded {
                quantity: DecodedQuantity::RmsError,
                decoders: all,
                reference: r?,
                reference_channel: reference_channel.clone(),
                decode_ms: *decode_ms,
                every_ms: *every_ms,
                window: w,
            }))
        }
        MetricSection::CueWeight {
            cue,
            combined,
            cues,
            estimate,
            reference,
            reference_channel,
            decode_ms,
            every_ms,
            window_ms,
        } => {
            let w = window(window_ms, path, problems);
            sampling(*decode_ms, *every_ms, path, problems);
            let r = port_ref(reference, path, "reference", problems);
            let index = cues.iter().position(|c| c == cue);
            if index.is_none() {
                problems.push(Problem::new(
                    join(path, "cue"),
                    format!("cue = \"{cue}\" is not one of cues = {cues:?}"),
                ));
            }
            if cues.iter().any(|c| c == combined) {
                problems.push(Problem::new(
                    join(path, "combined"),
                    format!("combined = \"{combined}\" is also one of the cues"),
                ));
            }
            let c = named_decoders(&[combined], decoders, path, "combined", problems);
            let names: Vec<&String> = cues.iter().collect();
            let k = named_decoders(&names, decoders, path, "cues", problems);
            let mut all = c?;
            all.extend(k?);
            Metric::Decoded(Box::new(Decoded {
                quantity: DecodedQuantity::Weight {
                    cue: index?,
                    predicted: *estimate == WeightEstimate::Predicted,
                },
                decoders: all,
                reference: r?,
                reference_channel: reference_channel.clone(),
                decode_ms: *decode_ms,
                every_ms: *every_ms,
                window: w,
            }))
        }
        MetricSection::SpikeCount {
            port,
            neurons,
            window_ms,
        } => {
            let w = window(window_ms, path, problems);
            let n = neuron_range(neurons, path, problems);
            Metric::SpikeCount {
                port: port_ref(port, path, "port", problems)?,
                neurons: n,
                window: w,
            }
        }
        MetricSection::SpikeRate {
            port,
            neurons,
            window_ms,
        } => {
            let w = window(window_ms, path, problems);
            let n = neuron_range(neurons, path, problems);
            Metric::SpikeRate {
                port: port_ref(port, path, "port", problems)?,
                neurons: n,
                window: w,
            }
        }
    })
}

/// Key path of every expectation's metric, in the order of [`Experiment::expect`] (entries with
/// problems were left out, so the file index is kept beside).
pub(crate) struct ExpectOrigins(pub(crate) Vec<usize>);

impl ExpectOrigins {
    pub(crate) fn identity(exp: &Experiment) -> Self {
        ExpectOrigins((0..exp.expect.len()).collect())
    }
}

/// Checks that need no ports: trial metrics name engines of the experiment, port metrics name
/// recorded ports.
pub(crate) fn check_refs(exp: &Experiment, origins: &ExpectOrigins) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, e) in exp.expect.iter().enumerate() {
        let path = format!("expect[{}].metric", origins.0.get(i).copied().unwrap_or(i));
        visit(&e.metric, &path, &mut |m, path| match m {
            Metric::SuccessRate { engine, .. } | Metric::TrialMean { engine, .. } => {
                if !exp.engines.iter().any(|x| &x.name == engine) {
                    let names: Vec<&str> = exp.engines.iter().map(|e| e.name.as_str()).collect();
                    problems.push(Problem::new(
                        join(path, "engine"),
                        format!(
                            "engine \"{engine}\" does not exist (engines: {})",
                            names.join(", ")
                        ),
                    ));
                }
            }
            _ => {
                for (key, port) in port_refs(m) {
                    if !exp.record.contains(port) {
                        problems.push(Problem::new(
                            join(path, key),
                            format!(
                                "{port} is not recorded: add \"{port}\" to [record] ports to measure it"
                            ),
                        ));
                    }
                }
            }
        });
    }
    problems
}

/// Calls `f` on every metric that is not a ratio or an absolute value, with its key path.
fn visit(m: &Metric, path: &str, f: &mut dyn FnMut(&Metric, &str)) {
    match m {
        Metric::Ratio(a, b) => {
            visit(a, &join(path, "numerator"), f);
            visit(b, &join(path, "denominator"), f);
        }
        Metric::Difference(a, b) => {
            visit(a, &join(path, "of"), f);
            visit(b, &join(path, "minus"), f);
        }
        Metric::Abs(a) => visit(a, &join(path, "of"), f),
        other => f(other, path),
    }
}

/// The ports a metric reads, with their keys.
fn port_refs(m: &Metric) -> Vec<(&'static str, &PortRef)> {
    match m {
        Metric::Mean { port, .. }
        | Metric::SpikeCount { port, .. }
        | Metric::SpikeRate { port, .. } => vec![("port", port)],
        Metric::RmsError {
            port, reference, ..
        } => vec![("port", port), ("reference", reference)],
        Metric::Decoded(d) => std::iter::once(("reference", &d.reference))
            .chain(d.decoders.iter().map(|x| ("decoder", &x.port)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The index of channel `c` of an analog or scalar port of kind `kind`, or why there is none.
pub fn channel_index(kind: &PortKind, c: &Option<ChannelSelect>) -> Result<usize, String> {
    let names: Vec<&str> = match kind {
        PortKind::Analog { channels } => channels.iter().map(|c| c.name.as_str()).collect(),
        PortKind::Scalar { .. } => vec!["value"],
        other => {
            return Err(format!(
                "is {}: only analog and scalar ports have channels",
                other.describe()
            ))
        }
    };
    match c {
        None if names.len() == 1 => Ok(0),
        None => Err(format!(
            "has {} channels: choose one by name or 0-based index ({})",
            names.len(),
            names.join(", ")
        )),
        Some(ChannelSelect::Index(i)) if (*i as usize) < names.len() => Ok(*i as usize),
        Some(ChannelSelect::Index(i)) => Err(format!(
            "has no channel {i} (it has {} channels)",
            names.len()
        )),
        Some(ChannelSelect::Name(n)) => names
            .iter()
            .position(|x| x == n)
            .ok_or_else(|| format!("has no channel \"{n}\" (channels: {})", names.join(", "))),
    }
}

/// Checks that need ports: a measured port is an output of the right type, its channel exists, its
/// neuron range fits. Engines absent from `ports` are skipped.
pub(crate) fn check_ports(
    exp: &Experiment,
    ports: &BTreeMap<String, Vec<PortSpec>>,
    origins: &ExpectOrigins,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let find = |r: &PortRef| -> Option<&PortSpec> {
        ports
            .get(&r.engine)?
            .iter()
            .find(|p| p.name == r.port && p.direction == Direction::Output)
    };
    for (i, e) in exp.expect.iter().enumerate() {
        let path = format!("expect[{}].metric", origins.0.get(i).copied().unwrap_or(i));
        visit(&e.metric, &path, &mut |m, path| {
            let channels: Vec<(&str, &PortRef, &Option<ChannelSelect>)> = match m {
                Metric::Mean { port, channel, .. } => vec![("channel", port, channel)],
                Metric::RmsError {
                    port,
                    channel,
                    reference,
                    reference_channel,
                    ..
                } => vec![
                    ("channel", port, channel),
                    ("reference_channel", reference, reference_channel),
                ],
                Metric::Decoded(d) => {
                    vec![("reference_channel", &d.reference, &d.reference_channel)]
                }
                _ => Vec::new(),
            };
            if let Metric::Decoded(d) = m {
                for x in &d.decoders {
                    if let Some(p) = find(&x.port) {
                        if !matches!(p.kind, PortKind::Spikes { .. }) {
                            problems.push(Problem::new(
                                join(path, "decoder"),
                                format!(
                                    "decoder \"{}\" reads {}, which is {}: a decoder needs a spikes port",
                                    x.name,
                                    x.port,
                                    p.kind.describe()
                                ),
                            ));
                        }
                    }
                }
            }
            for (key, port, c) in channels {
                if let Some(p) = find(port) {
                    if let Err(why) = channel_index(&p.kind, c) {
                        problems.push(Problem::new(join(path, key), format!("{port} {why}")));
                    }
                }
            }
            if let Metric::SpikeCount { port, neurons, .. }
            | Metric::SpikeRate { port, neurons, .. } = m
            {
                if let Some(p) = find(port) {
                    match &p.kind {
                        PortKind::Spikes { size } => {
                            if let Some((_, last)) = neurons.filter(|(_, l)| l >= size) {
                                problems.push(Problem::new(
                                    join(path, "neurons"),
                                    format!(
                                        "neuron {last} is past {port}'s {size} neurons (0-based)"
                                    ),
                                ));
                            }
                        }
                        other => problems.push(Problem::new(
                            join(path, "port"),
                            format!(
                                "{port} is {}: spike metrics need a spikes port",
                                other.describe()
                            ),
                        )),
                    }
                }
            }
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{check_ports as check_all_ports, parse, parse_recorded};
    use super::*;

    const BASE: &str = r#"[run]
duration_ms = 2000.0

[engines.plant]
kind = "spring"
step_ms = 1.0

[engines.body]
kind = "body"
step_ms = 1.0

[record]
ports = ["plant.position", "plant.spikes"]
"#;

    fn with(extra: &str) -> String {
        format!("{BASE}\n{extra}")
    }

    #[test]
    fn every_metric_kind_reads() {
        let text = with(
            r#"
[[expect]]
name = "late success"
metric = { kind = "success_rate", engine = "body", trials = [200, 250] }
min = 0.7
note = "paper: 0.8"

[[expect]]
name = "adaptation"
metric = { kind = "ratio", numerator = { kind = "abs", of = { kind = "trial_mean", engine = "body", field = "lateral_at_bins_mm", bin_mm = 1.5, trials = [166, 175] } }, denominator = { kind = "abs", of = { kind = "trial_mean", engine = "body", field = "lateral_at_bins_mm", index = 2, trials = [76, 85] } } }
max = 0.7

[[expect]]
name = "settled"
metric = { kind = "mean", port = "plant.position", channel = "x", window_ms = [1900, 2000] }
min = 0.0066
max = 0.0067

[[expect]]
name = "tracking"
metric = { kind = "rms_error", port = "plant.position", channel = 0, reference = "plant.position", reference_channel = "x" }
max = 1.0

[[expect]]
name = "count"
metric = { kind = "spike_count", port = "plant.spikes", neurons = [0, 9], window_ms = [0.0, 500.0] }
min = 1

[[expect]]
name = "rate"
metric = { kind = "spike_rate", port = "plant.spikes" }

[[expect]]
name = "after-effect"
metric = { kind = "difference", of = { kind = "trial_mean", engine = "body", field = "lateral_at_bins_mm", bin_mm = 1.0, trials = [176, 185] }, minus = { kind = "success_rate", engine = "body" } }
max = 0.0
"#,
        );
        let exp = parse(&text, None, &[]).unwrap();
        assert_eq!(exp.expect.len(), 7);
        let Metric::Difference(a, b) = &exp.expect[6].metric else {
            panic!("{:?}", exp.expect[6].metric)
        };
        assert!(matches!(**a, Metric::TrialMean { .. }), "{a:?}");
        assert!(
            matches!(**b, Metric::SuccessRate { trials: None, .. }),
            "{b:?}"
        );
        let e = &exp.expect[0];
        assert_eq!(
            e.metric,
            Metric::SuccessRate {
                engine: "body".into(),
                trials: Some(TrialRange {
                    first: 200,
                    last: 250
                })
            }
        );
        assert_eq!(
            (e.min, e.max, e.note.as_deref()),
            (Some(0.7), None, Some("paper: 0.8"))
        );
        assert!(e.passes(0.7) && !e.passes(0.69) && !e.passes(f64::NAN));
        assert_eq!(e.bounds(), ">= 0.7");
        let Metric::Ratio(a, b) = &exp.expect[1].metric else {
            panic!("{:?}", exp.expect[1].metric)
        };
        assert!(
            matches!(&**a, Metric::Abs(m) if matches!(&**m, Metric::TrialMean { element: Some(TrialElement::BinMm(b)), .. } if *b == 1.5))
        );
        assert!(
            matches!(&**b, Metric::Abs(m) if matches!(&**m, Metric::TrialMean { element: Some(TrialElement::Index(2)), .. }))
        );
        assert_eq!(
            exp.expect[2].metric.to_string(),
            "mean(plant.position.x, 1900-2000 ms)"
        );
        assert_eq!(exp.expect[2].bounds(), "in [0.0066, 0.0067]");
        assert_eq!(
            exp.expect[3].metric.to_string(),
            "rms_error(plant.position[0] - plant.position.x, whole run)"
        );
        assert_eq!(
            exp.expect[4].metric,
            Metric::SpikeCount {
                port: PortRef {
                    engine: "plant".into(),
                    port: "spikes".into()
                },
                neurons: Some((0, 9)),
                window: Some(WindowMs {
                    t0_ms: 0.0,
                    t1_ms: 500.0
                })
            }
        );
        // No bound: reports only.
        assert!(exp.expect[5].passes(3.0) && exp.expect[5].bounds() == "no bound");
    }

    /// The (path, line, column) of every problem of `text`.
    fn problems(text: &str) -> Vec<(String, Option<usize>, Option<usize>, String)> {
        parse(text, None, &[])
            .unwrap_err()
            .problems
            .into_iter()
            .map(|p| (p.path, p.line, p.column, p.message))
            .collect()
    }

    #[test]
    fn bad_expectations_are_placed() {
        let base_lines = BASE.lines().count() + 1;
        let ps = problems(&with(
            r#"[[expect]]
name = "bad ranges"
metric = { kind = "success_rate", engine = "body", trials = [0, 5] }
min = 0.9
max = 0.1
"#,
        ));
        let paths: Vec<&str> = ps.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            paths,
            ["expect[0].metric.trials", "expect[0].max"],
            "{ps:?}"
        );
        assert_eq!(ps[0].1, Some(base_lines + 3));
        assert_eq!(ps[0].2, Some(52));
        assert!(ps[0].3.contains("count from 1"));
        assert!(ps[1].3.contains("below min = 0.9"));

        let ps = problems(&with(
            r#"[[expect]]
name = "unknown"
metric = { kind = "median", port = "plant.position" }
"#,
        ));
        assert_eq!(ps.len(), 1, "{ps:?}");
        assert_eq!(ps[0].1, Some(base_lines + 3), "{ps:?}");
        assert!(ps[0].3.contains("unknown variant `median`"), "{ps:?}");
        assert!(ps[0].3.contains("success_rate"), "{ps:?}");

        let ps = problems(&with(
            r#"[[expect]]
name = "window"
metric = { kind = "mean", port = "plant.position", window_ms = [2000, 1500] }

[[expect]]
name = "not recorded"
metric = { kind = "ratio", numerator = { kind = "mean", port = "plant.force" }, denominator = { kind = "success_rate", engine = "arm" } }

[[expect]]
name = ""
metric = { kind = "trial_mean", engine = "body", field = "lateral_at_bins_mm", bin_mm = 1.0, index = 1 }
min = inf
"#,
        ));
        let got: Vec<(&str, Option<usize>)> = ps.iter().map(|p| (p.0.as_str(), p.1)).collect();
        let l = base_lines;
        assert_eq!(
            got,
            [
                ("expect[0].metric.window_ms", Some(l + 3)),
                ("expect[1].metric.numerator.port", Some(l + 7)),
                ("expect[1].metric.denominator.engine", Some(l + 7)),
                ("expect[2].name", Some(l + 10)),
                ("expect[2].metric.index", Some(l + 11)),
                ("expect[2].min", Some(l + 12)),
            ],
            "{ps:?}"
        );
        assert!(ps[0].3.contains("0 <= t0 < t1"), "{ps:?}");
        assert!(ps[1].3.contains("plant.force is not recorded"), "{ps:?}");
        assert!(ps[2].3.contains("engine \"arm\" does not exist"), "{ps:?}");
    }

    #[test]
    fn decoders_and_decoded_metrics_read_and_bad_ones_are_placed() {
        let text = with(
            r#"[[decoders]]
name = "a"
port = "plant.spikes"
preferred = { first = -1.0, step = 0.5, per = 2, period = 8 }
min_spikes = 3

[[decoders]]
name = "b"
port = "plant.spikes"
preferred = { first = 0.0, step = 1.0 }

[[expect]]
name = "error"
metric = { kind = "decoded_rms_error", decoder = "a", samples = ["b", "a"], reference = "plant.position", reference_channel = "x", every_ms = 5, window_ms = [100, 2000] }
max = 1.0

[[expect]]
name = "weight"
metric = { kind = "cue_weight", cue = "b", combined = "a", cues = ["b"], estimate = "predicted", reference = "plant.position", reference_channel = "x" }
"#,
        );
        let exp = parse(&text, None, &[]).unwrap();
        let Metric::Decoded(d) = &exp.expect[0].metric else {
            panic!("{:?}", exp.expect[0].metric)
        };
        // The decoder first, then the other sample conditions (a named twice counts once).
        let names: Vec<&str> = d.decoders.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            (d.decode_ms, d.every_ms, d.decoders[0].min_spikes),
            (50.0, 5.0, 3)
        );
        // Neuron i prefers first + step * floor((i mod period) / per).
        let pref: Vec<f64> = [0, 1, 2, 7, 8, 11]
            .iter()
            .map(|&i| d.decoders[0].preferred(i))
            .collect();
        assert_eq!(pref, [-1.0, -1.0, -0.5, 0.5, -1.0, -0.5]);
        assert_eq!(
            exp.expect[1].metric.to_string(),
            "cue_weight(b in a, predicted - plant.position.x, whole run)"
        );

        let l = BASE.lines().count() + 1;
        let ps = problems(&with(
            r#"[[decoders]]
name = "a"
port = "plant"
preferred = { first = 0.0, step = 1.0, per = 0 }

[[decoders]]
name = "b"
port = "plant.spikes"
preferred = { first = 0.0, step = 1.0 }
min_spikes = 0

[[expect]]
name = "unknown decoder"
metric = { kind = "decoded_rms_error", decoder = "c", reference = "plant.position", decode_ms = 0 }

[[expect]]
name = "cue not among the cues"
metric = { kind = "cue_weight", cue = "x", combined = "b", cues = ["b"], estimate = "measured", reference = "plant.position" }
"#,
        ));
        let got: Vec<(&str, Option<usize>)> = ps.iter().map(|p| (p.0.as_str(), p.1)).collect();
        assert_eq!(
            got,
            [
                ("decoders[0].port", Some(l + 3)),
                ("decoders[0].preferred", Some(l + 4)),
                ("decoders[1].min_spikes", Some(l + 10)),
                ("expect[0].metric.decoder", Some(l + 14)),
                ("expect[0].metric.decode_ms", Some(l + 14)),
                ("expect[1].metric.cue", Some(l + 18)),
                ("expect[1].metric.combined", Some(l + 18)),
            ],
            "{ps:?}"
        );
        assert!(
            ps[0].3.contains("not of the form \"engine.port\""),
            "{ps:?}"
        );
        assert!(
            ps[1].3.contains("per and period must be at least 1"),
            "{ps:?}"
        );
        assert!(
            ps[2].3.contains("an estimate needs at least one spike"),
            "{ps:?}"
        );
        assert!(
            ps[3]
                .3
                .contains("decoder \"c\" is not defined in [[decoders]] (defined: a, b)"),
            "{ps:?}"
        );
        assert!(
            ps[4].3.contains("decode_ms = 0 must be a positive number"),
            "{ps:?}"
        );
        assert!(ps[5].3.contains("cue = \"x\" is not one of cues"), "{ps:?}");
        assert!(
            ps[6].3.contains("combined = \"b\" is also one of the cues"),
            "{ps:?}"
        );
    }

    #[test]
    fn port_level_checks() {
        let text = with(
            r#"[[expect]]
name = "channel"
metric = { kind = "mean", port = "plant.position", channel = "z" }

[[expect]]
name = "two channels"
metric = { kind = "rms_error", port = "plant.position", channel = 1, reference = "plant.position" }

[[expect]]
name = "neurons"
metric = { kind = "spike_rate", port = "plant.spikes", neurons = [0, 10] }

[[expect]]
name = "type"
metric = { kind = "spike_count", port = "plant.position" }
"#,
        );
        let exp = parse(&text, None, &[]).unwrap();
        let ports = BTreeMap::from([(
            "plant".to_string(),
            vec![
                PortSpec::output("position", PortKind::analog(&[("x", "m"), ("v", "m/s")])),
                PortSpec::output("spikes", PortKind::Spikes { size: 10 }),
            ],
        )]);
        let ps = check_all_ports(&exp, &ports);
        let got: Vec<(&str, &str)> = ps
            .iter()
            .map(|p| (p.path.as_str(), p.message.as_str()))
            .collect();
        let paths: Vec<&str> = got.iter().map(|p| p.0).collect();
        assert_eq!(
            paths,
            [
                "expect[0].metric.channel",
                "expect[1].metric.reference_channel",
                "expect[2].metric.neurons",
                "expect[3].metric.port"
            ],
            "{got:?}"
        );
        assert!(
            got[0].1.contains("no channel \"z\" (channels: x, v)"),
            "{got:?}"
        );
        assert!(got[1].1.contains("has 2 channels"), "{got:?}");
        assert!(got[2].1.contains("neuron 10 is past"), "{got:?}");
        assert!(
            got[3].1.contains("spike metrics need a spikes port"),
            "{got:?}"
        );
    }

    #[test]
    fn a_recorded_experiment_counts_only_its_expectations() {
        // A missing executable does not stop a check of a run that happened.
        let text = with(
            r#"[engines.ext]
kind = "./gone/engine"
step_ms = 1.0

[[expect]]
name = "settled"
metric = { kind = "mean", port = "plant.position", channel = "x" }
"#,
        );
        let dir = std::env::temp_dir().join("neuroloop-expect-no-such-dir/exp.toml");
        assert!(parse(&text, Some(&dir), &[]).is_err());
        let exp = parse_recorded(&text, Some(&dir), &[]).unwrap();
        assert_eq!(exp.expect.len(), 1);
        let bad = text.replace("channel = \"x\"", "channel = \"x\", window_ms = [5, 1]");
        let e = parse_recorded(&bad, Some(&dir), &[]).unwrap_err();
        assert_eq!(e.problems.len(), 1, "{e}");
        assert_eq!(e.problems[0].path, "expect[0].metric.window_ms");
    }
}
