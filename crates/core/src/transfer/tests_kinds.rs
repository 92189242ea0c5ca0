//! Tests of chains and of the kinds added with them (`group_rate`, `select`, `gaussian`,
//! `events_to_spikes`, per-channel `poisson`).

use serde::Deserialize;

use super::*;
use crate::payload::{EventBatch, SpikeBatch};
use crate::port::Channel;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Link {
    transfer: TransferChainSpec,
}

/// Parses `transfer = <value>` as in a link table.
fn parse_chain(value: &str) -> Result<TransferChainSpec, String> {
    toml::from_str::<Link>(&format!("transfer = {value}\n"))
        .map(|l| l.transfer)
        .map_err(|e| e.to_string())
}

/// Parses one inline table.
fn parse(value: &str) -> Result<TransferSpec, String> {
    let chain = parse_chain(value)?;
    assert!(!chain.listed);
    Ok(chain.steps.into_iter().next().unwrap())
}

fn spikes(n: u32) -> PortKind {
    PortKind::Spikes { size: n }
}

fn named(names: &[&str], unit: &str) -> PortKind {
    PortKind::Analog {
        channels: names
            .iter()
            .map(|n| Channel {
                name: (*n).into(),
                unit: unit.into(),
            })
            .collect(),
    }
}

fn batch(spikes: &[(u32, f64)]) -> Payload {
    Payload::Spikes(SpikeBatch {
        neuron: spikes.iter().map(|s| s.0).collect(),
        time_ms: spikes.iter().map(|s| s.1).collect(),
    })
}

fn analog_of(p: &Payload) -> &[f64] {
    match p {
        Payload::Analog(v) => v,
        other => panic!("expected analog, got {other:?}"),
    }
}

fn spikes_of(p: &Payload) -> &SpikeBatch {
    match p {
        Payload::Spikes(b) => b,
        other => panic!("expected spikes, got {other:?}"),
    }
}

fn run_once(spec: &str, input: &PortKind, payload: &Payload, t: f64) -> (PortKind, Payload) {
    let spec = parse(spec).unwrap();
    let mut tf = Transfer::new(&spec, input, 1).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    tf.apply(payload, t, t + 1.0, &mut out);
    (tf.output_kind().clone(), out)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

// ---- the kind table ----

#[test]
fn every_kind_name_parses_and_reports_its_name() {
    let examples = [
        r#"{ kind = "spike_rate", filter = "window", window_ms = 5 }"#,
        r#"{ kind = "group_rate", groups = { size = 2 }, filter = "window", window_ms = 5 }"#,
        r#"{ kind = "poisson" }"#,
        r#"{ kind = "linear" }"#,
        r#"{ kind = "affine", weights = [[1.0]] }"#,
        r#"{ kind = "select", channels = [0] }"#,
        r#"{ kind = "gaussian", range = [0, 1], count = 3, max_hz = 10 }"#,
        r#"{ kind = "population_vector", filter = "window", window_ms = 5 }"#,
        r#"{ kind = "threshold", threshold = 1 }"#,
        r#"{ kind = "in_range", min = 0, max = 1 }"#,
        r#"{ kind = "events_to_spikes" }"#,
    ];
    let names: Vec<&str> = examples
        .iter()
        .map(|e| parse(e).unwrap().kind_name())
        .collect();
    assert_eq!(names, KIND_NAMES);
}

#[test]
fn new_kinds_refuse_unknown_keys_by_name() {
    for (text, key) in [
        (
            r#"{ kind = "group_rate", groups = { size = 2 }, filter = "window", window_ms = 5, name = [] }"#,
            "name",
        ),
        (
            r#"{ kind = "group_rate", groups = { sise = 2 }, filter = "window", window_ms = 5 }"#,
            "sise",
        ),
        (
            r#"{ kind = "group_rate", groups = [{ neuron = [1] }], filter = "window", window_ms = 5 }"#,
            "neuron",
        ),
        (r#"{ kind = "select", channel = [0] }"#, "channel"),
        (
            r#"{ kind = "gaussian", range = [0, 1], count = 3, max_hz = 10, width = 1 }"#,
            "width",
        ),
        (
            r#"{ kind = "events_to_spikes", pooling = [2, 2] }"#,
            "pooling",
        ),
        (r#"{ kind = "poisson", offset = 3 }"#, "offset"),
    ] {
        let err = parse(text).unwrap_err();
        assert!(err.contains(&format!("`{key}`")), "{text}: {err}");
    }
    for (text, needle) in [
        (
            r#"{ kind = "group_rate", groups = [[0, 1, 2]], filter = "window", window_ms = 5 }"#,
            "got 3 numbers",
        ),
        (
            r#"{ kind = "group_rate", groups = { size = 2 }, filter = "window" }"#,
            "needs `window_ms`",
        ),
        (r#"{ kind = "select", channels = [-1] }"#, "negative"),
        (
            r#"{ kind = "gaussian", range = "wide", count = 3, max_hz = 10 }"#,
            "[lo, hi]",
        ),
        (
            r#"{ kind = "gaussian", range = [0, 1], count = 3 }"#,
            "max_hz",
        ),
        (r#"{ kind = "events_to_spikes", polarity = "up" }"#, "up"),
    ] {
        let err = parse(text).unwrap_err();
        assert!(err.contains(needle), "{text}: {err}");
    }
}

// ---- chains ----

#[test]
fn chains_parse_as_a_table_or_a_list() {
    let one = parse_chain(r#"{ kind = "linear", gain = 2 }"#).unwrap();
    assert!(!one.listed);
    assert_eq!(one.steps.len(), 1);
    assert_eq!(one.step_key(0), "transfer");
    let three = parse_chain(
        r#"[{ kind = "select", channels = [0, 1] }, { kind = "linear", gain = 2.0 }, { kind = "poisson", scale_hz = 1.0 }]"#,
    )
    .unwrap();
    assert!(three.listed);
    assert_eq!(three.describe(), "select -> linear -> poisson");
    assert_eq!(three.step_key(2), "transfer[2]");
    assert!(parse_chain("[]").unwrap_err().contains("empty list"));
    let err = parse_chain(r#"[{ kind = "linear" }, { kind = "linear", gian = 2 }]"#).unwrap_err();
    assert!(err.contains("transfer[1]: unknown field `gian`"), "{err}");
}

#[test]
fn chain_output_kinds_follow_each_step_and_name_the_failing_one() {
    let chain = parse_chain(
        r#"[{ kind = "select", channels = ["b", "c"] }, { kind = "linear", gain = 2.0 }, { kind = "poisson", neurons_per_channel = 3 }]"#,
    )
    .unwrap();
    let input = named(&["a", "b", "c"], "1");
    let kinds = chain.output_kinds(&input).unwrap();
    assert_eq!(kinds[0], named(&["b", "c"], "1"));
    assert_eq!(kinds[1], named(&["b", "c"], "1"));
    assert_eq!(kinds[2], spikes(6));
    assert_eq!(chain.output_kind(&input).unwrap(), spikes(6));
    let err = chain.output_kind(&named(&["a", "b"], "1")).unwrap_err();
    assert_eq!(err.step, 0);
    assert!(err.message.contains("no channel named \"c\""), "{err:?}");
    let bad = parse_chain(r#"[{ kind = "poisson" }, { kind = "linear" }]"#).unwrap();
    let err = bad.output_kind(&named(&["a"], "1")).unwrap_err();
    assert_eq!(err.step, 1);
    assert_eq!(
        err.message,
        "linear needs an analog or scalar input, got spikes(1)"
    );
}

#[test]
fn a_chain_gives_the_composition_of_its_steps() {
    let chain_spec = parse_chain(
        r#"[{ kind = "group_rate", groups = [[0, 2], [2, 4]], filter = "window", window_ms = 10 }, { kind = "linear", gain = 0.01, offset = [0, 0.5], min = 0, max = 1, unit = "1" }]"#,
    )
    .unwrap();
    let mut chain = TransferChain::new(&chain_spec, &spikes(4), |_| 0).unwrap();
    assert_eq!(chain.output_kind(), &named(&["g0", "g1"], "1"));
    assert_eq!(chain.steps().len(), 2);
    let mut out = Payload::empty_for(chain.output_kind());
    // Group 0: 3 spikes in 10 ms over 2 neurons = 150 Hz -> 1.5 -> clipped to 1.
    // Group 1: 1 spike over 2 neurons = 50 Hz -> 0.5 + 0.5 = 1.0; then nothing.
    let input = batch(&[(0, 1.0), (1, 2.0), (0, 3.0), (3, 4.0)]);
    chain.apply(&input, 10.0, 11.0, &mut out);
    assert_eq!(analog_of(&out), &[1.0, 1.0]);
    chain.apply(&batch(&[(2, 12.0)]), 15.0, 16.0, &mut out);
    // [5, 15): group 0 has none, group 1 has the spike at 12: 50 Hz -> 0.5 + 0.5.
    assert_eq!(analog_of(&out), &[0.0, 1.0]);
    chain.apply(&batch(&[]), 30.0, 31.0, &mut out);
    assert_eq!(analog_of(&out), &[0.0, 0.5]);
    chain.reset();
    chain.apply(&input, 10.0, 11.0, &mut out);
    assert_eq!(analog_of(&out), &[1.0, 1.0]);
}

#[test]
fn chain_steps_get_their_own_seeds_and_reset_replays() {
    let two = parse_chain(
        r#"[{ kind = "linear" }, { kind = "poisson", scale_hz = 500, neurons_per_channel = 10 }]"#,
    )
    .unwrap();
    let run = |seed: u64| {
        let mut c = TransferChain::new(&two, &named(&["x"], "1"), |k| seed + k as u64).unwrap();
        let mut out = Payload::empty_for(c.output_kind());
        let mut all = Vec::new();
        for s in 0..50 {
            let t = f64::from(s);
            c.apply(&Payload::Analog(vec![1.0]), t, t + 1.0, &mut out);
            all.push(spikes_of(&out).clone());
        }
        (c, all)
    };
    let (mut c, a) = run(5);
    let (_, b) = run(5);
    let (_, other) = run(7);
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert!(a.iter().map(SpikeBatch::len).sum::<usize>() > 0);
    c.reset();
    let mut out = Payload::empty_for(c.output_kind());
    c.apply(&Payload::Analog(vec![1.0]), 0.0, 1.0, &mut out);
    assert_eq!(spikes_of(&out), &a[0]);
}

// ---- group_rate ----

#[test]
fn group_rate_is_the_mean_rate_of_each_group() {
    let (kind, out) = run_once(
        r#"{ kind = "group_rate", groups = { size = 2 }, filter = "window", window_ms = 20 }"#,
        &spikes(6),
        &batch(&[(0, 1.0), (0, 2.0), (1, 3.0), (5, 4.0)]),
        20.0,
    );
    assert_eq!(kind, named(&["g0", "g1", "g2"], "Hz"));
    // Group 0: 3 spikes / 2 neurons / 20 ms = 75 Hz; group 2: 1 / 2 / 20 ms = 25 Hz.
    assert_eq!(analog_of(&out), &[75.0, 0.0, 25.0]);

    let (kind, out) = run_once(
        r#"{ kind = "group_rate", groups = [[0, 1], { neurons = [1, 4, 5] }, [2, 6]], names = ["a", "b", "c"], filter = "window", window_ms = 10 }"#,
        &spikes(6),
        &batch(&[(0, 1.0), (1, 2.0), (4, 3.0), (5, 4.0), (5, 5.0)]),
        10.0,
    );
    assert_eq!(kind, named(&["a", "b", "c"], "Hz"));
    // a = {0}: 100 Hz; b = {1, 4, 5}: 4 spikes / 3 / 10 ms; c = {2..6}: 3 spikes / 4 / 10 ms.
    let v = analog_of(&out);
    assert_eq!(v[0], 100.0);
    assert!(close(v[1], 400.0 / 3.0), "{v:?}");
    assert_eq!(v[2], 75.0);
}

#[test]
fn group_rate_equals_the_mean_of_spike_rate_with_the_exponential_filter() {
    let per_neuron =
        parse(r#"{ kind = "spike_rate", filter = "exponential", tau_ms = 15 }"#).unwrap();
    let groups = parse(
        r#"{ kind = "group_rate", groups = [[0, 3], { neurons = [4, 1] }], filter = "exponential", tau_ms = 15 }"#,
    )
    .unwrap();
    let mut a = Transfer::new(&per_neuron, &spikes(5), 0).unwrap();
    let mut b = Transfer::new(&groups, &spikes(5), 0).unwrap();
    let mut out_a = Payload::empty_for(a.output_kind());
    let mut out_b = Payload::empty_for(b.output_kind());
    for step in 0..40u32 {
        let t = f64::from(step) * 2.0;
        let input = batch(&[((step * 7 % 5), t - 1.5), ((step * 3 % 5), t - 0.5)]);
        a.apply(&input, t, t + 2.0, &mut out_a);
        b.apply(&input, t, t + 2.0, &mut out_b);
        let r = analog_of(&out_a);
        let g = analog_of(&out_b);
        assert!(close(g[0], (r[0] + r[1] + r[2]) / 3.0), "t = {t}");
        assert!(close(g[1], (r[4] + r[1]) / 2.0), "t = {t}");
    }
}

#[test]
fn group_rate_errors_name_the_problem() {
    let err = |text: &str, n: u32| parse(text).unwrap().output_kind(&spikes(n)).unwrap_err();
    let w = r#"filter = "window", window_ms = 5"#;
    assert_eq!(
        err(
            &format!(r#"{{ kind = "group_rate", groups = {{ size = 50 }}, {w} }}"#),
            120
        ),
        "group_rate: 120 neurons cannot be split into groups of 50 (120 is not a multiple of 50)"
    );
    assert!(err(
        &format!(r#"{{ kind = "group_rate", groups = {{ size = 0 }}, {w} }}"#),
        4
    )
    .contains("at least 1"));
    assert!(err(
        &format!(r#"{{ kind = "group_rate", groups = [[0, 5]], {w} }}"#),
        4
    )
    .contains("group 0 [0, 5]"));
    assert!(err(
        &format!(r#"{{ kind = "group_rate", groups = [[2, 2]], {w} }}"#),
        4
    )
    .contains("group 0"));
    assert!(err(
        &format!(r#"{{ kind = "group_rate", groups = [[0, 1], {{ neurons = [9] }}], {w} }}"#),
        4
    )
    .contains("group 1 names neuron 9"));
    assert!(err(
        &format!(r#"{{ kind = "group_rate", groups = [], {w} }}"#),
        4
    )
    .contains("empty"));
    assert!(err(
        &format!(r#"{{ kind = "group_rate", groups = {{ size = 2 }}, names = ["a"], {w} }}"#),
        4
    )
    .contains("1 names for 2 groups"));
    assert!(err(
        &format!(r#"{{ kind = "group_rate", groups = {{ size = 2 }}, names = ["a", "a"], {w} }}"#),
        4
    )
    .contains("twice"));
    assert_eq!(
        parse(&format!(
            r#"{{ kind = "group_rate", groups = {{ size = 2 }}, {w} }}"#
        ))
        .unwrap()
        .output_kind(&named(&["x"], "1"))
        .unwrap_err(),
        "group_rate needs a spikes input, got analog[1]"
    );
}

// ---- select ----

#[test]
fn select_picks_channels_by_index_or_name() {
    let input = PortKind::Analog {
        channels: vec![
            Channel {
                name: "x".into(),
                unit: "m".into(),
            },
            Channel {
                name: "y".into(),
                unit: "m".into(),
            },
            Channel {
                name: "f".into(),
                unit: "N".into(),
            },
        ],
    };
    let x = Payload::Analog(vec![1.0, 2.0, 3.0]);
    let (kind, out) = run_once(r#"{ kind = "select", channels = [2, 0] }"#, &input, &x, 0.0);
    assert_eq!(kind, PortKind::analog(&[("f", "N"), ("x", "m")]));
    assert_eq!(analog_of(&out), &[3.0, 1.0]);
    let (kind, out) = run_once(
        r#"{ kind = "select", channels = ["y", 1, "f"] }"#,
        &input,
        &x,
        0.0,
    );
    assert_eq!(
        kind,
        PortKind::analog(&[("y", "m"), ("y", "m"), ("f", "N")])
    );
    assert_eq!(analog_of(&out), &[2.0, 2.0, 3.0]);

    let err = |text: &str, input: &PortKind| parse(text).unwrap().output_kind(input).unwrap_err();
    assert_eq!(
        err(r#"{ kind = "select", channels = ["z"] }"#, &input),
        "select: the input has no channel named \"z\" (its channels: x, y, f)"
    );
    assert_eq!(
        err(r#"{ kind = "select", channels = [3] }"#, &input),
        "select: channel 3 is out of range for analog[3]"
    );
    assert!(err(r#"{ kind = "select", channels = [] }"#, &input).contains("empty"));
    assert!(err(r#"{ kind = "select", neurons = [0, 1] }"#, &input).contains("needs `channels`"));
    assert!(err(r#"{ kind = "select", channels = [0] }"#, &spikes(3)).contains("needs `neurons"));
    assert!(err(
        r#"{ kind = "select", channels = [0] }"#,
        &PortKind::Scalar { unit: "1".into() }
    )
    .contains("analog or spikes input, got scalar"));
}

#[test]
fn select_neurons_renumbers_a_range() {
    let (kind, out) = run_once(
        r#"{ kind = "select", neurons = [2, 5] }"#,
        &spikes(8),
        &batch(&[(1, 0.5), (2, 0.6), (4, 0.7), (5, 0.8), (3, 0.9)]),
        1.0,
    );
    assert_eq!(kind, spikes(3));
    let b = spikes_of(&out);
    assert_eq!(b.neuron, [0, 2, 1]);
    assert_eq!(b.time_ms, [0.6, 0.7, 0.9]);
    let err = parse(r#"{ kind = "select", neurons = [2, 9] }"#)
        .unwrap()
        .output_kind(&spikes(8))
        .unwrap_err();
    assert!(err.contains("not a range inside 0..8"), "{err}");
    let err = parse(r#"{ kind = "select", neurons = [2] }"#)
        .unwrap()
        .output_kind(&spikes(8))
        .unwrap_err();
    assert!(err.contains("got 1 numbers"), "{err}");
}

// ---- gaussian ----

#[test]
fn gaussian_tuning_curves_are_the_closed_form() {
    // Preferred values 0, 0.5, 1 (spacing 0.5 = default sigma); 10 Hz baseline, 110 Hz peak.
    let spec = r#"{ kind = "gaussian", range = [0, 1], count = 3, max_hz = 110, min_hz = 10 }"#;
    let input = named(&["pos"], "m");
    let (kind, out) = run_once(spec, &input, &Payload::Analog(vec![0.5]), 0.0);
    assert_eq!(kind, named(&["pos_0", "pos_1", "pos_2"], "Hz"));
    let e = (-0.5f64).exp(); // one sigma away
    let v = analog_of(&out);
    assert!(close(v[0], 10.0 + 100.0 * e), "{v:?}");
    assert_eq!(v[1], 110.0);
    assert!(close(v[2], 10.0 + 100.0 * e), "{v:?}");
    // Far outside the range every unit is at its baseline; an infinite value too.
    let (_, out) = run_once(spec, &input, &Payload::Analog(vec![1e6]), 0.0);
    assert_eq!(analog_of(&out), &[10.0, 10.0, 10.0]);

    // Two channels with their own ranges and widths; a scalar input is named `x`.
    let spec = r#"{ kind = "gaussian", range = [[0, 2], [-1, 1]], count = 2, sigma = [1, 0.5], max_hz = 50 }"#;
    let (kind, out) = run_once(
        spec,
        &named(&["a", "b"], "rad"),
        &Payload::Analog(vec![1.0, 1.0]),
        0.0,
    );
    assert_eq!(kind, named(&["a_0", "a_1", "b_0", "b_1"], "Hz"));
    let v = analog_of(&out);
    // a: mu = 0, 2, sigma 1, x = 1 -> exp(-1/2) each; b: mu = -1, 1, sigma 0.5, x = 1 -> exp(-8), 1.
    assert!(
        close(v[0], 50.0 * (-0.5f64).exp()) && close(v[1], v[0]),
        "{v:?}"
    );
    assert!(close(v[2], 50.0 * (-8.0f64).exp()) && v[3] == 50.0, "{v:?}");
    let (kind, _) = run_once(
        r#"{ kind = "gaussian", range = [0, 1], count = 2, max_hz = 1 }"#,
        &PortKind::Scalar { unit: "m".into() },
        &Payload::Scalar(0.0),
        0.0,
    );
    assert_eq!(kind, named(&["x_0", "x_1"], "Hz"));
}

#[test]
fn gaussian_errors_name_the_problem() {
    let err = |text: &str, input: &PortKind| parse(text).unwrap().output_kind(input).unwrap_err();
    let one = named(&["a"], "1");
    assert!(err(
        r#"{ kind = "gaussian", range = [0, 1], count = 1, max_hz = 1 }"#,
        &one
    )
    .contains("`count` must be at least 2"));
    assert!(err(
        r#"{ kind = "gaussian", range = [1, 1], count = 2, max_hz = 1 }"#,
        &one
    )
    .contains("lo < hi"));
    assert!(err(
        r#"{ kind = "gaussian", range = [[0, 1], [0, 1]], count = 2, max_hz = 1 }"#,
        &one
    )
    .contains("`range` has 2 pairs, the input has 1 channels"));
    assert!(err(
        r#"{ kind = "gaussian", range = [0, 1], count = 2, max_hz = 1, min_hz = 2 }"#,
        &one
    )
    .contains("min_hz"));
    assert!(err(
        r#"{ kind = "gaussian", range = [0, 1], count = 2, max_hz = 1, sigma = 0 }"#,
        &one
    )
    .contains("`sigma` of channel 0 must be positive"));
    assert_eq!(
        err(
            r#"{ kind = "gaussian", range = [0, 1], count = 2, max_hz = 1 }"#,
            &spikes(2)
        ),
        "gaussian needs an analog or scalar input, got spikes(2)"
    );
}

/// Gaussian -> poisson: the usual encoder of a value into spikes. The unit preferring the value fires
/// at max_hz, its neighbours less.
#[test]
fn gaussian_then_poisson_encodes_a_value_in_spikes() {
    let chain = parse_chain(
        r#"[{ kind = "gaussian", range = [0, 1], count = 5, max_hz = 200 }, { kind = "poisson", neurons_per_channel = 4 }]"#,
    )
    .unwrap();
    let mut c = TransferChain::new(&chain, &named(&["x"], "m"), |k| 11 + k as u64).unwrap();
    assert_eq!(c.output_kind(), &spikes(20));
    let mut out = Payload::empty_for(c.output_kind());
    let mut per_unit = [0usize; 5];
    for s in 0..1000 {
        let t = f64::from(s);
        c.apply(&Payload::Analog(vec![0.25]), t, t + 1.0, &mut out);
        for &n in &spikes_of(&out).neuron {
            per_unit[n as usize / 4] += 1;
        }
    }
    // Unit 1 prefers 0.25: 200 Hz x 4 neurons x 1 s = 800 spikes; units 0 and 2 at one sigma
    // (spacing 0.25): 800 exp(-1/2) = 485; unit 4 at three sigma: 800 exp(-4.5) = 8.9.
    let expect = |k: f64| 800.0 * (-(k * k) / 2.0).exp();
    for (u, k) in [(0, 1.0), (1, 0.0), (2, 1.0), (3, 2.0)] {
        let (got, want) = (per_unit[u] as f64, expect(k));
        assert!(
            (got - want).abs() < 4.0 * want.sqrt() + 5.0,
            "unit {u}: {got} spikes, expected {want:.0} ({per_unit:?})"
        );
    }
}

// ---- poisson, per channel ----

#[test]
fn poisson_scale_and_offset_per_channel() {
    let spec = parse(
        r#"{ kind = "poisson", scale_hz = [100, 0, 0], offset_hz = [0, 300, -50], neurons_per_channel = 5 }"#,
    )
    .unwrap();
    let mut tf = Transfer::new(&spec, &named(&["a", "b", "c"], "1"), 3).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    let mut counts = [0usize; 3];
    for s in 0..1000 {
        let t = f64::from(s);
        tf.apply(&Payload::Analog(vec![2.0, 5.0, 1.0]), t, t + 1.0, &mut out);
        for &n in &spikes_of(&out).neuron {
            counts[n as usize / 5] += 1;
        }
    }
    // a: 2 x 100 = 200 Hz; b: 0 x 5 + 300 = 300 Hz; c: max(0, -50) = 0; 5 neurons x 1 s each.
    assert!((counts[0] as f64 - 1000.0).abs() < 130.0, "{counts:?}");
    assert!((counts[1] as f64 - 1500.0).abs() < 160.0, "{counts:?}");
    assert_eq!(counts[2], 0);
    let err = spec.output_kind(&named(&["a"], "1")).unwrap_err();
    assert_eq!(
        err,
        "poisson: `scale_hz` has 3 values, the input has 1 channels"
    );
}

/// The default offset keeps the former behaviour bit for bit: the same seed and input give the same
/// spikes as a spec that writes `offset_hz = 0` out, and the spike count recorded before per-channel
/// parameters existed (the implementation of commit b6b9a33 gave these totals).
#[test]
fn poisson_default_offset_is_the_former_behaviour() {
    let a = parse(r#"{ kind = "poisson", scale_hz = 300, neurons_per_channel = 3 }"#).unwrap();
    let b = parse(
        r#"{ kind = "poisson", scale_hz = [300, 300], offset_hz = 0, neurons_per_channel = 3 }"#,
    )
    .unwrap();
    let input = named(&["a", "b"], "1");
    let run = |spec: &TransferSpec| {
        let mut tf = Transfer::new(spec, &input, 99).unwrap();
        let mut out = Payload::empty_for(tf.output_kind());
        (0..200)
            .map(|s| {
                let t = f64::from(s);
                tf.apply(&Payload::Analog(vec![1.0, 0.5]), t, t + 1.0, &mut out);
                spikes_of(&out).clone()
            })
            .collect::<Vec<_>>()
    };
    let ra = run(&a);
    assert_eq!(ra, run(&b));
    let total: usize = ra.iter().map(SpikeBatch::len).sum();
    let weighted: f64 = ra
        .iter()
        .flat_map(|b| b.neuron.iter().zip(&b.time_ms))
        .map(|(&n, &t)| f64::from(n + 1) * t)
        .sum();
    assert_eq!((total, weighted), (FORMER_TOTAL, FORMER_WEIGHTED));
}

/// Spike count and sum of (neuron + 1) * time of `poisson_default_offset_is_the_former_behaviour`, as
/// the implementation before per-channel parameters (commit b6b9a33) computed them.
const FORMER_TOTAL: usize = 293;
const FORMER_WEIGHTED: f64 = 86343.0;

// ---- events_to_spikes ----

fn events(list: &[(u16, u16, f64, bool)]) -> Payload {
    let mut b = EventBatch::default();
    for &(x, y, t, p) in list {
        b.push(x, y, t, p);
    }
    Payload::Events(b)
}

#[test]
fn events_become_spikes_per_pixel_on_first() {
    let input = PortKind::Events {
        width: 4,
        height: 3,
    };
    let ev = events(&[
        (0, 0, 0.1, true),
        (3, 2, 0.2, false),
        (1, 1, 0.3, true),
        (9, 0, 0.4, true), // outside the sensor
        (2, 0, 0.5, false),
    ]);
    let (kind, out) = run_once(r#"{ kind = "events_to_spikes" }"#, &input, &ev, 1.0);
    // 12 pixels, ON as 0..12 and OFF as 12..24; pixel index y * 4 + x.
    assert_eq!(kind, spikes(24));
    let b = spikes_of(&out);
    assert_eq!(b.neuron, [0, 12 + 11, 5, 12 + 2]);
    assert_eq!(b.time_ms, [0.1, 0.2, 0.3, 0.5]);

    let (kind, out) = run_once(
        r#"{ kind = "events_to_spikes", polarity = "off" }"#,
        &input,
        &ev,
        1.0,
    );
    assert_eq!(kind, spikes(12));
    assert_eq!(spikes_of(&out).neuron, [11, 2]);
    let (_, out) = run_once(
        r#"{ kind = "events_to_spikes", polarity = "on" }"#,
        &input,
        &ev,
        1.0,
    );
    assert_eq!(spikes_of(&out).neuron, [0, 5]);
}

#[test]
fn events_pool_into_regions_rounding_up() {
    // 5 x 3 pixels in 2 x 2 regions: 3 x 2 regions (the last column and row are partial).
    let input = PortKind::Events {
        width: 5,
        height: 3,
    };
    let ev = events(&[
        (0, 0, 0.1, true),  // region (0, 0) = 0
        (1, 1, 0.2, true),  // region 0
        (4, 0, 0.3, true),  // region (2, 0) = 2
        (4, 2, 0.4, false), // region (2, 1) = 5, OFF -> 6 + 5
        (2, 2, 0.5, true),  // region (1, 1) = 4
    ]);
    let (kind, out) = run_once(
        r#"{ kind = "events_to_spikes", pool = [2, 2] }"#,
        &input,
        &ev,
        1.0,
    );
    assert_eq!(kind, spikes(12));
    assert_eq!(spikes_of(&out).neuron, [0, 0, 2, 11, 4]);
    // The skin's `events` port is n_taxels x 1: pooling [4, 1] groups 4 neighbouring taxels.
    let (kind, out) = run_once(
        r#"{ kind = "events_to_spikes", pool = [4, 1] }"#,
        &PortKind::Events {
            width: 10,
            height: 1,
        },
        &events(&[(9, 0, 0.5, true), (3, 0, 0.6, false)]),
        1.0,
    );
    assert_eq!(kind, spikes(6));
    assert_eq!(spikes_of(&out).neuron, [2, 3]);
}

#[test]
fn events_to_spikes_errors() {
    let err = |text: &str, input: &PortKind| parse(text).unwrap().output_kind(input).unwrap_err();
    assert_eq!(
        err(r#"{ kind = "events_to_spikes" }"#, &spikes(3)),
        "events_to_spikes needs an events input, got spikes(3)"
    );
    let cam = PortKind::Events {
        width: 8,
        height: 8,
    };
    assert!(
        err(r#"{ kind = "events_to_spikes", pool = [0, 1] }"#, &cam).contains("at least [1, 1]")
    );
    assert!(err(
        r#"{ kind = "events_to_spikes" }"#,
        &PortKind::Events {
            width: 0,
            height: 8
        }
    )
    .contains("at least one pixel"));
    // 65535 x 65535 pixels x 2 polarities does not fit in u32.
    assert!(err(
        r#"{ kind = "events_to_spikes" }"#,
        &PortKind::Events {
            width: u16::MAX,
            height: u16::MAX
        }
    )
    .contains("does not fit"));
}
