use serde::Deserialize;

use super::*;
use crate::payload::SpikeBatch;
use crate::port::Channel;

/// A link table as in an experiment file, for parsing inline `transfer = { ... }` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Link {
    transfer: TransferSpec,
}

fn parse(inline: &str) -> Result<TransferSpec, String> {
    toml::from_str::<Link>(&format!("transfer = {inline}\n"))
        .map(|l| l.transfer)
        .map_err(|e| e.to_string())
}

fn spikes(n: u32) -> PortKind {
    PortKind::Spikes { size: n }
}

fn analog(n: usize) -> PortKind {
    PortKind::Analog {
        channels: (0..n)
            .map(|i| Channel {
                name: format!("c{i}"),
                unit: "V".into(),
            })
            .collect(),
    }
}

fn scalar() -> PortKind {
    PortKind::Scalar { unit: "1".into() }
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

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

// ---- parsing ----

#[test]
fn parses_every_kind_from_toml() {
    assert_eq!(
        parse(r#"{ kind = "spike_rate", filter = "window", window_ms = 50, per = "population" }"#)
            .unwrap(),
        TransferSpec::SpikeRate(SpikeRate {
            filter: RateFilter::Window { window_ms: 50.0 },
            per: RatePer::Population
        })
    );
    assert_eq!(
        parse(r#"{ kind = "spike_rate", filter = "exponential", tau_ms = 20 }"#).unwrap(),
        TransferSpec::SpikeRate(SpikeRate {
            filter: RateFilter::Exponential { tau_ms: 20.0 },
            per: RatePer::Neuron
        })
    );
    assert_eq!(
        parse(r#"{ kind = "poisson" }"#).unwrap(),
        TransferSpec::Poisson(Poisson {
            scale_hz: PerChannel::All(1.0),
            offset_hz: PerChannel::All(0.0),
            neurons_per_channel: 1,
            resolution_ms: 0.1
        })
    );
    assert_eq!(
        parse(
            r#"{ kind = "poisson", scale_hz = 250.5, neurons_per_channel = 20, resolution_ms = 1 }"#
        )
        .unwrap(),
        TransferSpec::Poisson(Poisson {
            scale_hz: PerChannel::All(250.5),
            offset_hz: PerChannel::All(0.0),
            neurons_per_channel: 20,
            resolution_ms: 1.0
        })
    );
    assert_eq!(
        parse(r#"{ kind = "linear" }"#).unwrap(),
        TransferSpec::Linear(Linear {
            gain: PerChannel::All(1.0),
            offset: PerChannel::All(0.0),
            min: None,
            max: None,
            unit: None
        })
    );
    assert_eq!(
        parse(
            r#"{ kind = "linear", gain = [2, -1.5], offset = 1, min = 0, max = 10.5, unit = "N" }"#
        )
        .unwrap(),
        TransferSpec::Linear(Linear {
            gain: PerChannel::Each(vec![2.0, -1.5]),
            offset: PerChannel::All(1.0),
            min: Some(0.0),
            max: Some(10.5),
            unit: Some("N".into())
        })
    );
    assert_eq!(
        parse(r#"{ kind = "population_vector", filter = "window", window_ms = 100 }"#).unwrap(),
        TransferSpec::PopulationVector(PopulationVector {
            filter: RateFilter::Window { window_ms: 100.0 },
            preferred: None
        })
    );
    assert_eq!(
        parse(r#"{ kind = "population_vector", filter = "exponential", tau_ms = 5, preferred = [[1, 0], [0, 1]] }"#)
            .unwrap(),
        TransferSpec::PopulationVector(PopulationVector {
            filter: RateFilter::Exponential { tau_ms: 5.0 },
            preferred: Some(vec![vec![1.0, 0.0], vec![0.0, 1.0]])
        })
    );
    assert_eq!(
        parse(r#"{ kind = "threshold", threshold = 0.5 }"#).unwrap(),
        TransferSpec::Threshold(Threshold {
            threshold: 0.5,
            channel: 0,
            direction: Crossing::Rising
        })
    );
    assert_eq!(
        parse(r#"{ kind = "threshold", threshold = -1, channel = 2, direction = "both" }"#)
            .unwrap(),
        TransferSpec::Threshold(Threshold {
            threshold: -1.0,
            channel: 2,
            direction: Crossing::Both
        })
    );
    // A spec as a whole document (e.g. a `[links.transfer]` table) parses too.
    let doc = "kind = \"threshold\"\nthreshold = 1\ndirection = \"falling\"\n";
    assert_eq!(
        toml::from_str::<TransferSpec>(doc).unwrap(),
        TransferSpec::Threshold(Threshold {
            threshold: 1.0,
            channel: 0,
            direction: Crossing::Falling
        })
    );
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let cases = [
        (
            r#"{ kind = "spike_rate", filter = "window", window_ms = 50, windw = 3 }"#,
            "windw",
        ),
        (
            r#"{ kind = "spike_rate", filter = "exponential", tau_ms = 20, per_neuron = true }"#,
            "per_neuron",
        ),
        (r#"{ kind = "poisson", rate = 3 }"#, "rate"),
        (r#"{ kind = "linear", gains = 2 }"#, "gains"),
        (
            r#"{ kind = "population_vector", filter = "window", window_ms = 5, prefered = [] }"#,
            "prefered",
        ),
        (
            r#"{ kind = "threshold", threshold = 1, chanel = 2 }"#,
            "chanel",
        ),
    ];
    for (text, key) in cases {
        let err = parse(text).unwrap_err();
        assert!(err.contains(&format!("`{key}`")), "{text}: {err}");
    }
}

#[test]
fn bad_filters_and_kinds_are_refused() {
    for (text, needle) in [
        (
            r#"{ kind = "spike_rate", filter = "window" }"#,
            "needs `window_ms`",
        ),
        (
            r#"{ kind = "spike_rate", filter = "exponential" }"#,
            "needs `tau_ms`",
        ),
        (
            r#"{ kind = "spike_rate", filter = "window", tau_ms = 3 }"#,
            "`tau_ms` does not apply",
        ),
        (
            r#"{ kind = "spike_rate", filter = "exponential", tau_ms = 3, window_ms = 2 }"#,
            "`window_ms` does not apply",
        ),
        (
            r#"{ kind = "spike_rate", filter = "boxcar", window_ms = 3 }"#,
            "boxcar",
        ),
        (r#"{ kind = "spike_rate", window_ms = 3 }"#, "filter"),
        (r#"{ kind = "spiking", window_ms = 3 }"#, "spiking"),
        (r#"{ kind = "poisson", neurons_per_channel = -1 }"#, "-1"),
        (r#"{ kind = "threshold" }"#, "threshold"),
    ] {
        let err = parse(text).unwrap_err();
        assert!(err.contains(needle), "{text}: {err}");
    }
}

// ---- output kinds ----

#[test]
fn output_kinds() {
    let rate = |per| {
        TransferSpec::SpikeRate(SpikeRate {
            filter: RateFilter::Window { window_ms: 10.0 },
            per,
        })
    };
    assert_eq!(
        rate(RatePer::Neuron).output_kind(&spikes(3)).unwrap(),
        PortKind::analog(&[("n0", "Hz"), ("n1", "Hz"), ("n2", "Hz")])
    );
    assert_eq!(
        rate(RatePer::Population).output_kind(&spikes(3)).unwrap(),
        PortKind::analog(&[("rate", "Hz")])
    );

    let poisson = TransferSpec::Poisson(Poisson {
        scale_hz: PerChannel::All(1.0),
        offset_hz: PerChannel::All(0.0),
        neurons_per_channel: 4,
        resolution_ms: 0.1,
    });
    assert_eq!(poisson.output_kind(&analog(3)).unwrap(), spikes(12));
    assert_eq!(poisson.output_kind(&scalar()).unwrap(), spikes(4));

    let linear = |unit: Option<&str>| {
        TransferSpec::Linear(Linear {
            gain: PerChannel::Each(vec![1.0, 2.0]),
            offset: PerChannel::All(0.0),
            min: None,
            max: None,
            unit: unit.map(Into::into),
        })
    };
    assert_eq!(
        linear(None).output_kind(&analog(2)).unwrap(),
        PortKind::analog(&[("c0", "V"), ("c1", "V")])
    );
    assert_eq!(
        linear(Some("N")).output_kind(&analog(2)).unwrap(),
        PortKind::analog(&[("c0", "N"), ("c1", "N")])
    );
    let scalar_linear = TransferSpec::Linear(Linear {
        gain: PerChannel::All(2.0),
        offset: PerChannel::All(0.0),
        min: None,
        max: None,
        unit: None,
    });
    assert_eq!(
        scalar_linear
            .output_kind(&PortKind::Scalar { unit: "rad".into() })
            .unwrap(),
        PortKind::Scalar { unit: "rad".into() }
    );

    let pv = |preferred| {
        TransferSpec::PopulationVector(PopulationVector {
            filter: RateFilter::Exponential { tau_ms: 5.0 },
            preferred,
        })
    };
    assert_eq!(
        pv(None).output_kind(&spikes(8)).unwrap(),
        PortKind::analog(&[("x", "1"), ("y", "1")])
    );
    assert_eq!(
        pv(Some(vec![vec![1.0, 0.0, 0.0, 0.0]; 2]))
            .output_kind(&spikes(2))
            .unwrap(),
        PortKind::analog(&[("x", "1"), ("y", "1"), ("d2", "1"), ("d3", "1")])
    );

    let thr = TransferSpec::Threshold(Threshold {
        threshold: 0.0,
        channel: 2,
        direction: Crossing::Rising,
    });
    assert_eq!(
        thr.output_kind(&analog(3)).unwrap(),
        PortKind::Scalar { unit: "1".into() }
    );
    assert_eq!(
        thr.output_kind(&scalar()).unwrap(),
        PortKind::Scalar { unit: "1".into() }
    );
}

#[test]
fn output_kind_errors() {
    let window = |w| RateFilter::Window { window_ms: w };
    let err = |spec: TransferSpec, input: PortKind| spec.output_kind(&input).unwrap_err();

    assert_eq!(
        err(
            TransferSpec::SpikeRate(SpikeRate {
                filter: window(10.0),
                per: RatePer::Neuron
            }),
            analog(3)
        ),
        "spike_rate needs a spikes input, got analog[3]"
    );
    assert!(err(
        TransferSpec::SpikeRate(SpikeRate {
            filter: window(0.0),
            per: RatePer::Neuron
        }),
        spikes(3)
    )
    .contains("window_ms"));
    assert!(err(
        TransferSpec::SpikeRate(SpikeRate {
            filter: RateFilter::Exponential { tau_ms: -1.0 },
            per: RatePer::Neuron
        }),
        spikes(3)
    )
    .contains("tau_ms"));
    assert!(err(
        TransferSpec::SpikeRate(SpikeRate {
            filter: window(10.0),
            per: RatePer::Neuron
        }),
        spikes(0)
    )
    .contains("at least one"));

    let poisson = |npc, res| {
        TransferSpec::Poisson(Poisson {
            scale_hz: PerChannel::All(1.0),
            offset_hz: PerChannel::All(0.0),
            neurons_per_channel: npc,
            resolution_ms: res,
        })
    };
    assert_eq!(
        err(poisson(1, 0.1), spikes(3)),
        "poisson needs an analog or scalar input, got spikes(3)"
    );
    assert!(err(
        poisson(1, 0.1),
        PortKind::Events {
            width: 2,
            height: 2
        }
    )
    .contains("events(2x2)"));
    assert!(err(poisson(0, 0.1), analog(3)).contains("neurons_per_channel"));
    assert!(err(poisson(1, 0.0), analog(3)).contains("resolution_ms"));
    assert!(err(poisson(1, f64::NAN), analog(3)).contains("resolution_ms"));
    assert!(err(poisson(u32::MAX, 0.1), analog(3)).contains("does not fit"));

    let linear = |gain, min, max| {
        TransferSpec::Linear(Linear {
            gain,
            offset: PerChannel::All(0.0),
            min,
            max,
            unit: None,
        })
    };
    assert_eq!(
        err(
            linear(PerChannel::Each(vec![1.0, 2.0]), None, None),
            analog(3)
        ),
        "linear: `gain` has 2 values, the input has 3 channels"
    );
    assert!(err(
        linear(PerChannel::All(1.0), Some(2.0), Some(1.0)),
        analog(3)
    )
    .contains("above `max`"));
    assert_eq!(
        err(linear(PerChannel::All(1.0), None, None), spikes(2)),
        "linear needs an analog or scalar input, got spikes(2)"
    );
    assert!(err(
        linear(PerChannel::Each(vec![1.0, 2.0]), None, None),
        scalar()
    )
    .contains("has 2 values"));

    let pv = |preferred| {
        TransferSpec::PopulationVector(PopulationVector {
            filter: window(10.0),
            preferred,
        })
    };
    assert!(err(pv(Some(vec![vec![1.0, 0.0]; 3])), spikes(4)).contains("3 rows"));
    assert!(err(pv(Some(vec![vec![1.0, 0.0], vec![1.0]])), spikes(2)).contains("components"));
    assert!(err(pv(Some(vec![vec![]; 2])), spikes(2)).contains("at least one component"));
    assert_eq!(
        err(pv(None), analog(2)),
        "population_vector needs a spikes input, got analog[2]"
    );

    let thr = |threshold, channel| {
        TransferSpec::Threshold(Threshold {
            threshold,
            channel,
            direction: Crossing::Both,
        })
    };
    assert!(err(thr(0.0, 3), analog(3)).contains("channel 3 is out of range for analog[3]"));
    assert!(err(thr(f64::NAN, 0), analog(3)).contains("finite"));
    assert_eq!(
        err(thr(0.0, 0), spikes(3)),
        "threshold needs an analog or scalar input, got spikes(3)"
    );

    // Transfer::new reports the same errors.
    assert_eq!(
        Transfer::new(&thr(0.0, 0), &spikes(3), 1).unwrap_err(),
        "threshold needs an analog or scalar input, got spikes(3)"
    );
}

// ---- spike_rate ----

#[test]
fn window_rate_of_regular_train_is_its_frequency() {
    let spec = TransferSpec::SpikeRate(SpikeRate {
        filter: RateFilter::Window { window_ms: 50.0 },
        per: RatePer::Neuron,
    });
    let mut tf = Transfer::new(&spec, &spikes(2), 0).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    // Neuron 1 fires every 10 ms (100 Hz), neuron 0 never; consumer steps of 1 ms.
    for step in 0..500u32 {
        let t = f64::from(step);
        let delivered: Vec<(u32, f64)> = if step > 0 && (step - 1) % 10 == 0 {
            vec![(1, t - 1.0)]
        } else {
            vec![]
        };
        tf.apply(&batch(&delivered), t, t + 1.0, &mut out);
        if t >= 50.0 {
            assert_eq!(analog_of(&out), &[0.0, 100.0], "at t = {t}");
        }
    }
}

#[test]
fn window_drops_old_spikes_and_counts_half_open() {
    let spec = TransferSpec::SpikeRate(SpikeRate {
        filter: RateFilter::Window { window_ms: 10.0 },
        per: RatePer::Neuron,
    });
    let mut tf = Transfer::new(&spec, &spikes(1), 0).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    tf.apply(&batch(&[(0, 0.0), (0, 5.0)]), 10.0, 20.0, &mut out);
    // [0, 10) holds both spikes: 2 / 10 ms = 200 Hz.
    assert_eq!(analog_of(&out), &[200.0]);
    tf.apply(&batch(&[]), 15.0, 20.0, &mut out);
    // [5, 15) holds the spike at 5 only.
    assert_eq!(analog_of(&out), &[100.0]);
    tf.apply(&batch(&[]), 15.5, 20.0, &mut out);
    assert_eq!(analog_of(&out), &[0.0]);
}

#[test]
fn exponential_rate_of_one_spike_is_the_closed_form() {
    let tau = 20.0;
    let spec = TransferSpec::SpikeRate(SpikeRate {
        filter: RateFilter::Exponential { tau_ms: tau },
        per: RatePer::Neuron,
    });
    let mut tf = Transfer::new(&spec, &spikes(3), 0).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    let t_spike = 3.3;
    // Steps of 2 ms; the spike arrives with the batch delivered at t = 4.
    for step in 0..60u32 {
        let t = 2.0 * f64::from(step);
        let delivered = if t == 4.0 {
            batch(&[(2, t_spike)])
        } else {
            batch(&[])
        };
        tf.apply(&delivered, t, t + 2.0, &mut out);
        let expected = if t > t_spike {
            (-(t - t_spike) / tau).exp() / tau * 1000.0
        } else {
            0.0
        };
        let got = analog_of(&out);
        assert_eq!(&got[..2], &[0.0, 0.0]);
        assert!(close(got[2], expected), "t = {t}: {} vs {expected}", got[2]);
    }
}

#[test]
fn exponential_spike_delivered_early_counts_once_time_passes_it() {
    let tau = 10.0;
    let spec = TransferSpec::SpikeRate(SpikeRate {
        filter: RateFilter::Exponential { tau_ms: tau },
        per: RatePer::Neuron,
    });
    let mut tf = Transfer::new(&spec, &spikes(1), 0).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    // A spike at t = 5 delivered with the step starting at 5 is not counted at 5 (t_k < t) ...
    tf.apply(&batch(&[(0, 5.0)]), 5.0, 6.0, &mut out);
    assert_eq!(analog_of(&out), &[0.0]);
    // ... but is at 7.
    tf.apply(&batch(&[]), 7.0, 8.0, &mut out);
    assert!(close(analog_of(&out)[0], (-0.2f64).exp() / tau * 1000.0));
}

#[test]
fn population_rate_is_the_mean_over_neurons() {
    for filter in [
        RateFilter::Window { window_ms: 100.0 },
        RateFilter::Exponential { tau_ms: 30.0 },
    ] {
        let per_neuron = TransferSpec::SpikeRate(SpikeRate {
            filter,
            per: RatePer::Neuron,
        });
        let population = TransferSpec::SpikeRate(SpikeRate {
            filter,
            per: RatePer::Population,
        });
        let mut a = Transfer::new(&per_neuron, &spikes(4), 0).unwrap();
        let mut b = Transfer::new(&population, &spikes(4), 0).unwrap();
        let mut out_a = Payload::empty_for(a.output_kind());
        let mut out_b = Payload::empty_for(b.output_kind());
        let input = batch(&[(0, 10.0), (1, 20.0), (0, 30.0), (3, 40.5)]);
        a.apply(&input, 50.0, 51.0, &mut out_a);
        b.apply(&input, 50.0, 51.0, &mut out_b);
        let rates = analog_of(&out_a);
        let mean = rates.iter().sum::<f64>() / 4.0;
        assert_eq!(analog_of(&out_b).len(), 1);
        assert!(close(analog_of(&out_b)[0], mean));
        if let RateFilter::Window { .. } = filter {
            assert_eq!(rates, &[20.0, 10.0, 0.0, 10.0]);
            assert_eq!(analog_of(&out_b), &[10.0]);
        }
    }
}

#[test]
fn rate_ignores_neurons_outside_the_population_and_reset_forgets() {
    let spec = TransferSpec::SpikeRate(SpikeRate {
        filter: RateFilter::Window { window_ms: 10.0 },
        per: RatePer::Neuron,
    });
    let mut tf = Transfer::new(&spec, &spikes(2), 0).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    tf.apply(
        &batch(&[(0, 1.0), (7, 2.0), (1, f64::NAN)]),
        5.0,
        6.0,
        &mut out,
    );
    assert_eq!(analog_of(&out), &[100.0, 0.0]);
    tf.reset();
    tf.apply(&batch(&[]), 5.0, 6.0, &mut out);
    assert_eq!(analog_of(&out), &[0.0, 0.0]);
}

// ---- poisson ----

fn poisson_run(
    tf: &mut Transfer,
    input: &Payload,
    steps: u32,
    step_ms: f64,
) -> Vec<(f64, f64, SpikeBatch)> {
    let mut out = Payload::empty_for(tf.output_kind());
    (0..steps)
        .map(|s| {
            let t0 = f64::from(s) * step_ms;
            let t1 = t0 + step_ms;
            tf.apply(input, t0, t1, &mut out);
            let Payload::Spikes(b) = &out else {
                panic!("expected spikes")
            };
            (t0, t1, b.clone())
        })
        .collect()
}

#[test]
fn poisson_mean_count_matches_rate() {
    // Input 2.0 x 100 Hz per unit = 200 Hz, 10 neurons, 1000 steps of 1 ms: 2000 spikes expected.
    let spec = TransferSpec::Poisson(Poisson {
        scale_hz: PerChannel::All(100.0),
        offset_hz: PerChannel::All(0.0),
        neurons_per_channel: 10,
        resolution_ms: 0.1,
    });
    let mut tf = Transfer::new(&spec, &analog(1), 42).unwrap();
    let run = poisson_run(&mut tf, &Payload::Analog(vec![2.0]), 1000, 1.0);
    let total: usize = run.iter().map(|(_, _, b)| b.len()).sum();
    let expected = 200.0 * 1.0 * 10.0;
    assert!(
        (total as f64 - expected).abs() < 0.05 * expected,
        "{total} spikes, expected {expected}"
    );
    // Every neuron fires, within 30% of its 200 expected spikes.
    let mut per_neuron = [0usize; 10];
    run.iter()
        .flat_map(|(_, _, b)| b.neuron.iter())
        .for_each(|&n| per_neuron[n as usize] += 1);
    assert!(
        per_neuron.iter().all(|&c| (140..=260).contains(&c)),
        "{per_neuron:?}"
    );
}

#[test]
fn poisson_spikes_are_on_the_grid_inside_the_step_and_sorted() {
    let spec = TransferSpec::Poisson(Poisson {
        scale_hz: PerChannel::All(1.0),
        offset_hz: PerChannel::All(0.0),
        neurons_per_channel: 5,
        resolution_ms: 0.1,
    });
    let mut tf = Transfer::new(&spec, &analog(3), 7).unwrap();
    // 0.7 ms steps: the steps start on and off the 0.1 grid's float representation.
    let run = poisson_run(
        &mut tf,
        &Payload::Analog(vec![500.0, 0.0, 2000.0]),
        300,
        0.7,
    );
    let mut total = 0;
    for (t0, t1, b) in &run {
        total += b.len();
        for i in 0..b.len() {
            let (n, t) = (b.neuron[i], b.time_ms[i]);
            assert!(*t0 <= t && t < *t1, "{t} outside [{t0}, {t1})");
            assert!(
                ((t / 0.1) - (t / 0.1).round()).abs() < 1e-6,
                "{t} is off the grid"
            );
            assert!(
                n < 15 && !(5..10).contains(&n),
                "neuron {n} (channel 1 has rate 0)"
            );
            if i > 0 {
                assert!(
                    (b.time_ms[i - 1], b.neuron[i - 1]) <= (t, n),
                    "not sorted at {i}"
                );
            }
        }
    }
    assert!(total > 0);
}

#[test]
fn poisson_is_deterministic_per_seed_and_reset_replays() {
    let spec = TransferSpec::Poisson(Poisson {
        scale_hz: PerChannel::All(1.0),
        offset_hz: PerChannel::All(0.0),
        neurons_per_channel: 3,
        resolution_ms: 0.1,
    });
    let input = Payload::Scalar(300.0);
    let mut a = Transfer::new(&spec, &scalar(), 99).unwrap();
    let mut b = Transfer::new(&spec, &scalar(), 99).unwrap();
    let mut c = Transfer::new(&spec, &scalar(), 100).unwrap();
    let run_a = poisson_run(&mut a, &input, 200, 1.0);
    let run_b = poisson_run(&mut b, &input, 200, 1.0);
    let run_c = poisson_run(&mut c, &input, 200, 1.0);
    assert_eq!(run_a, run_b);
    assert_ne!(run_a, run_c);
    a.reset();
    assert_eq!(poisson_run(&mut a, &input, 200, 1.0), run_a);
}

#[test]
fn poisson_silent_for_non_positive_rates() {
    let spec = TransferSpec::Poisson(Poisson {
        scale_hz: PerChannel::All(1.0),
        offset_hz: PerChannel::All(0.0),
        neurons_per_channel: 2,
        resolution_ms: 0.1,
    });
    let mut tf = Transfer::new(&spec, &analog(2), 1).unwrap();
    let run = poisson_run(&mut tf, &Payload::Analog(vec![-50.0, f64::NAN]), 100, 1.0);
    assert!(run.iter().all(|(_, _, b)| b.is_empty()));
    // An infinite rate is capped rather than exhausting memory.
    let mut out = Payload::empty_for(tf.output_kind());
    tf.apply(
        &Payload::Analog(vec![f64::INFINITY, 0.0]),
        0.0,
        1.0,
        &mut out,
    );
    assert!(matches!(&out, Payload::Spikes(b) if !b.is_empty()));
}

// ---- linear ----

#[test]
fn linear_per_channel_gains_and_clipping() {
    let spec = TransferSpec::Linear(Linear {
        gain: PerChannel::Each(vec![2.0, -1.0, 0.5]),
        offset: PerChannel::Each(vec![0.0, 1.0, -0.25]),
        min: Some(-1.0),
        max: Some(3.0),
        unit: None,
    });
    let mut tf = Transfer::new(&spec, &analog(3), 0).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    tf.apply(&Payload::Analog(vec![1.0, 1.0, 1.0]), 0.0, 1.0, &mut out);
    assert_eq!(analog_of(&out), &[2.0, 0.0, 0.25]);
    tf.apply(&Payload::Analog(vec![5.0, 5.0, 1.0]), 1.0, 2.0, &mut out);
    assert_eq!(analog_of(&out), &[3.0, -1.0, 0.25]);

    let scalar_spec = TransferSpec::Linear(Linear {
        gain: PerChannel::All(3.0),
        offset: PerChannel::All(1.0),
        min: None,
        max: Some(5.0),
        unit: Some("N".into()),
    });
    let mut tf = Transfer::new(&scalar_spec, &scalar(), 0).unwrap();
    assert_eq!(tf.output_kind(), &PortKind::Scalar { unit: "N".into() });
    let mut out = Payload::empty_for(tf.output_kind());
    tf.apply(&Payload::Scalar(1.0), 0.0, 1.0, &mut out);
    assert_eq!(out, Payload::Scalar(4.0));
    tf.apply(&Payload::Scalar(-10.0), 0.0, 1.0, &mut out);
    assert_eq!(out, Payload::Scalar(-29.0));
    tf.apply(&Payload::Scalar(10.0), 0.0, 1.0, &mut out);
    assert_eq!(out, Payload::Scalar(5.0));
}

#[test]
fn wrong_payloads_leave_out_unchanged() {
    let spec = TransferSpec::Linear(Linear {
        gain: PerChannel::All(2.0),
        offset: PerChannel::All(0.0),
        min: None,
        max: None,
        unit: None,
    });
    let mut tf = Transfer::new(&spec, &analog(2), 0).unwrap();
    let mut out = Payload::Analog(vec![7.0, 8.0]);
    tf.apply(&Payload::Scalar(1.0), 0.0, 1.0, &mut out);
    tf.apply(&Payload::Analog(vec![1.0, 2.0, 3.0]), 0.0, 1.0, &mut out);
    tf.apply(&batch(&[(0, 0.0)]), 0.0, 1.0, &mut out);
    assert_eq!(out, Payload::Analog(vec![7.0, 8.0]));

    let spec = TransferSpec::SpikeRate(SpikeRate {
        filter: RateFilter::Window { window_ms: 10.0 },
        per: RatePer::Neuron,
    });
    let mut tf = Transfer::new(&spec, &spikes(2), 0).unwrap();
    let mut out = Payload::Analog(vec![1.0, 2.0]);
    tf.apply(&Payload::Analog(vec![1.0, 2.0]), 0.0, 1.0, &mut out);
    assert_eq!(out, Payload::Analog(vec![1.0, 2.0]));
}

// ---- population_vector ----

#[test]
fn population_vector_of_one_active_neuron_is_its_direction() {
    // Default directions: neuron i of 4 at angle i * 90 degrees.
    let spec = TransferSpec::PopulationVector(PopulationVector {
        filter: RateFilter::Window { window_ms: 20.0 },
        preferred: None,
    });
    let mut tf = Transfer::new(&spec, &spikes(4), 0).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    tf.apply(&batch(&[]), 0.0, 1.0, &mut out);
    assert_eq!(analog_of(&out), &[0.0, 0.0]);
    tf.apply(&batch(&[(1, 2.0), (1, 3.0)]), 5.0, 6.0, &mut out);
    let v = analog_of(&out);
    assert!(v[0].abs() < 1e-12 && close(v[1], 1.0), "{v:?}");

    let preferred = vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.0, -2.0]];
    let spec = TransferSpec::PopulationVector(PopulationVector {
        filter: RateFilter::Exponential { tau_ms: 10.0 },
        preferred: Some(preferred),
    });
    let mut tf = Transfer::new(&spec, &spikes(2), 0).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    tf.apply(&batch(&[(1, 0.5)]), 1.0, 2.0, &mut out);
    assert_eq!(analog_of(&out), &[0.0, 0.0, -2.0]);
    // Two neurons with equal rates: the mean of their directions.
    tf.reset();
    tf.apply(&batch(&[(0, 0.5), (1, 0.5)]), 1.0, 2.0, &mut out);
    let v = analog_of(&out);
    assert!(
        close(v[0], 0.5) && v[1] == 0.0 && close(v[2], -1.0),
        "{v:?}"
    );
}

// ---- threshold ----

fn threshold_run(direction: Crossing, input: &PortKind, values: &[f64]) -> Vec<f64> {
    let spec = TransferSpec::Threshold(Threshold {
        threshold: 1.0,
        channel: 1,
        direction,
    });
    let mut tf = Transfer::new(&spec, input, 0).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    values
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let payload = match input {
                PortKind::Scalar { .. } => Payload::Scalar(x),
                _ => Payload::Analog(vec![-100.0, x]),
            };
            tf.apply(&payload, i as f64, i as f64 + 1.0, &mut out);
            match out {
                Payload::Scalar(v) => v,
                ref other => panic!("expected scalar, got {other:?}"),
            }
        })
        .collect()
}

#[test]
fn threshold_crossings() {
    // The first value (2.0, above) gives no event: there is no previous value.
    let values = [2.0, 0.0, 1.0, 1.0, 3.0, 0.5, 0.9, 1.0, 0.99];
    let rising = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    let falling = [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
    let both: Vec<f64> = rising.iter().zip(falling).map(|(r, f)| r + f).collect();
    for input in [analog(2), scalar()] {
        assert_eq!(threshold_run(Crossing::Rising, &input, &values), rising);
        assert_eq!(threshold_run(Crossing::Falling, &input, &values), falling);
        assert_eq!(threshold_run(Crossing::Both, &input, &values), both);
    }
}

#[test]
fn threshold_reset_forgets_the_previous_value() {
    let spec = TransferSpec::Threshold(Threshold {
        threshold: 0.0,
        channel: 0,
        direction: Crossing::Rising,
    });
    let mut tf = Transfer::new(&spec, &scalar(), 0).unwrap();
    let mut out = Payload::empty_for(tf.output_kind());
    tf.apply(&Payload::Scalar(-1.0), 0.0, 1.0, &mut out);
    tf.reset();
    tf.apply(&Payload::Scalar(1.0), 1.0, 2.0, &mut out);
    assert_eq!(out, Payload::Scalar(0.0));
    tf.apply(&Payload::Scalar(-1.0), 2.0, 3.0, &mut out);
    tf.apply(&Payload::Scalar(1.0), 3.0, 4.0, &mut out);
    assert_eq!(out, Payload::Scalar(1.0));
}

/// The example of the module documentation, step by step.
#[test]
fn module_doc_example() {
    let spec: TransferSpec = toml::from_str(
        r#"kind = "spike_rate"
                      filter = "window"
                      window_ms = 50
                      per = "population""#,
    )
    .unwrap();
    let input = PortKind::Spikes { size: 2 };
    let mut tf = Transfer::new(&spec, &input, 0).unwrap();
    assert_eq!(tf.output_kind(), &PortKind::analog(&[("rate", "Hz")]));
    let mut out = Payload::empty_for(tf.output_kind());
    let batch = SpikeBatch {
        neuron: vec![0, 1, 0],
        time_ms: vec![10.0, 20.0, 30.0],
    };
    tf.apply(&Payload::Spikes(batch), 50.0, 60.0, &mut out);
    assert_eq!(out, Payload::Analog(vec![30.0]));
}
