//! Expected results (`[[expect]]` tables): their resolved form and their checks, without ports (the
//! references, ranges and bounds) and with ports (the port exists, has the right type, the channel
//! exists, the neuron range fits the population).

use std::collections::BTreeMap;

use super::paths::join;
use super::spec::{ChannelSelect, ExpectSection, MetricSection};
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
    problems: &mut Vec<Problem>,
) -> (Vec<Expectation>, ExpectOrigins) {
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
        let metric = resolve_metric(&e.metric, &join(&path, "metric"), problems);
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

fn resolve_metric(m: &MetricSection, path: &str, problems: &mut Vec<Problem>) -> Option<Metric> {
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
            let a = resolve_metric(numerator, &join(path, "numerator"), problems);
            let b = resolve_metric(denominator, &join(path, "denominator"), problems);
            Metric::Ratio(Box::new(a?), Box::new(b?))
        }
        MetricSection::Difference { of, minus } => {
            let a = resolve_metric(of, &join(path, "of"), problems);
            let b = resolve_metric(minus, &join(path, "minus"), problems);
            Metric::Difference(Box::new(a?), Box::new(b?))
        }
        MetricSection::Abs { of } => {
            Metric::Abs(Box::new(resolve_metric(of, &join(path, "of"), problems)?))
        }
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
                _ => Vec::new(),
            };
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
