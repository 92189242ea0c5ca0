//! Unit tests of network building and simulation.

use serde_json::json;

use super::spec::{Connect, Dist, Multimeter, SpikeGenerator, SynapseSpec};
use super::*;
use crate::iaf_psc_exp;

fn opts(threads: usize) -> BuildOptions {
    BuildOptions {
        seed: 3,
        threads,
        memory_limit_bytes: None,
    }
}

#[test]
fn poisson_draws_have_the_poisson_mean_and_variance() {
    let lambda = 2.0;
    let table = PoissonTable::new(lambda);
    let mut st = mix(7, 0, 0);
    let n = 1_000_000;
    let (mut sum, mut sum2) = (0.0, 0.0);
    for _ in 0..n {
        let c = table.count(next_u64(&mut st));
        sum += c as f64;
        sum2 += (c * c) as f64;
    }
    let mean = sum / n as f64;
    let var = sum2 / n as f64 - mean * mean;
    assert!((mean - lambda).abs() < 0.01, "mean {mean}");
    assert!((var - lambda).abs() < 0.02, "variance {var}");
}

/// The guide table only shortens the search: every draw is the plain inversion's count (the
/// number of thresholds `<= r`, the last left out), at random points and at every threshold.
#[test]
fn the_poisson_guide_table_draws_the_inversion_count() {
    for lambda in [0.0, 1e-4, 0.16, 1.6, 2.32, 30.0, 900.0] {
        let table = PoissonTable::new(lambda);
        let thr = &table.thresholds;
        let plain = |r: u64| thr[..thr.len() - 1].iter().filter(|&&t| t <= r).count();
        let mut st = mix(11, 0, lambda.to_bits());
        let edges = thr
            .iter()
            .flat_map(|&t| [t.saturating_sub(1), t, t.saturating_add(1)]);
        let bytes = (0..256u64).flat_map(|j| [j << 56, (j << 56) | ((1 << 56) - 1)]);
        for r in (0..100_000)
            .map(|_| next_u64(&mut st))
            .chain(edges)
            .chain(bytes)
            .chain([0, u64::MAX])
        {
            assert_eq!(table.count(r), plain(r), "lambda {lambda}, r {r:#x}");
        }
    }
}

#[test]
fn brunel_does_not_depend_on_the_number_of_threads() {
    let run = |threads| {
        let c = brunel::BrunelConfig {
            scale: 0.1,
            threads,
            sim_ms: 200.0,
            seed: 3,
            ..Default::default()
        };
        let o = BuildOptions {
            seed: c.seed,
            threads,
            memory_limit_bytes: None,
        };
        let mut net = Network::build(&brunel::spec(&c), &o).unwrap();
        net.simulate(2000);
        (net.n_synapses, net.spikes)
    };
    let one = run(1);
    assert!(one.1.len() > 1000, "only {} spikes", one.1.len());
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

/// Every model, every rule, drawn weights and delays, every device.
fn mixed() -> NetworkSpec {
    let mut s = NetworkSpec::default();
    s.population("A", "iaf_psc_exp", 60, json!({"I_e": 300.0}))
        .v_m(Dist::Normal {
            mean: -60.0,
            std: 4.0,
            min: -80.0,
            max: -56.0,
        })
        .population("B", "iaf_psc_alpha", 40, json!({}))
        .population("C", "iaf_cond_exp", 30, json!({}))
        .population("D", "izhikevich", 20, json!({}))
        .population("E", "aeif_cond_exp", 20, json!({}))
        .population("F", "iaf_psc_delta", 30, json!({}));
    let normal_w = Dist::Normal {
        mean: 60.0,
        std: 20.0,
        min: 0.0,
        max: f64::INFINITY,
    };
    let delay = Dist::Normal {
        mean: 1.5,
        std: 0.7,
        min: 0.1,
        max: f64::INFINITY,
    };
    let syn = |w: Dist, d: Dist| SynapseSpec {
        weight: w,
        delay: Some(d),
        ..SynapseSpec::default()
    };
    s.connect(
        "A",
        "A",
        Connect::fixed_indegree(8).with(false, false),
        syn(normal_w, delay),
    )
    .connect(
        "A",
        "B",
        Connect::pairwise_bernoulli(0.2),
        syn(normal_w, Dist::Const(1.0)),
    )
    .connect(
        "B",
        "A",
        Connect::fixed_outdegree(5),
        syn(
            Dist::Uniform {
                min: -150.0,
                max: 40.0,
            },
            delay,
        ),
    )
    .connect(
        "A",
        "C",
        Connect::fixed_total_number(300),
        SynapseSpec::fixed(5.0, 0.5),
    )
    .connect(
        "C",
        "D",
        Connect::all_to_all(),
        syn(Dist::Const(0.5), delay),
    )
    .connect(
        "D",
        "E",
        Connect::fixed_indegree(4),
        SynapseSpec::fixed(20.0, 1.0),
    )
    .connect(
        "C",
        "F",
        Connect::one_to_one().with(true, true),
        SynapseSpec::fixed(3.0, 1.0),
    )
    .connect(
        "F",
        "F",
        Connect::pairwise_bernoulli(0.3),
        SynapseSpec::fixed(-1.0, 2.0),
    )
    .poisson("B", 20_000.0, 30.0, 1.0)
    .poisson("C", 10_000.0, 4.0, 1.0)
    .poisson("D", 2_000.0, 6.0, 1.0)
    .poisson("E", 20_000.0, 8.0, 1.0)
    .poisson("F", 5_000.0, 2.0, 1.0)
    .dc("A", 80.0)
    .record_spikes("A")
    .record_spikes("C")
    .record_spikes("D")
    .record_spikes("E")
    .record_spikes("F");
    s.multimeters.push(Multimeter {
        population: "E".into(),
        record_from: vec!["V_m".into(), "w".into()],
        interval: 0.5,
        n: Some(15),
    });
    s
}

#[test]
fn every_model_rule_and_device_gives_the_same_run_on_any_thread_count() {
    let run = |threads| {
        let mut net = Network::build(&mixed(), &opts(threads)).unwrap();
        net.simulate(1000);
        net.simulate(1000);
        (
            net.n_synapses,
            net.spikes.clone(),
            net.multimeters().to_vec(),
        )
    };
    let one = run(1);
    for p in ["A", "C", "D", "E", "F"] {
        let i = mixed().population_index(p).unwrap();
        let (a, b) = (
            mixed().populations[..i]
                .iter()
                .map(|p| p.n as u32)
                .sum::<u32>(),
            mixed().populations[..=i]
                .iter()
                .map(|p| p.n as u32)
                .sum::<u32>(),
        );
        let n = one
            .1
            .iter()
            .filter(|s| s.neuron >= a && s.neuron < b)
            .count();
        assert!(n > 10, "population {p} fired {n} spikes");
    }
    let m = &one.2[0];
    assert_eq!(m.senders.len(), 400 * 15);
    assert_eq!(m.times_ms[0], 0.5);
    assert_eq!(m.values.len(), 2);
    assert!(
        m.values[1].iter().any(|&w| w > 0.0),
        "adaptation never moved"
    );
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn a_neuron_in_a_network_matches_the_neuron_alone() {
    // One iaf_psc_exp neuron driven by a spike generator (delay 1.2 ms) and a dc generator
    // (start 5 ms, stop 15 ms): the multimeter must see exactly the stand-alone population's trace
    // under NEST's timing (tests/against_nest.rs checks that timing against NEST itself).
    let h = 0.1;
    let mut s = NetworkSpec::default();
    s.population("N", "iaf_psc_exp", 1, json!({}));
    s.spike_generators.push(SpikeGenerator {
        target: "N".into(),
        spike_times: vec![2.0, 2.0, 7.5],
        weight: 400.0,
        delay: Some(1.2),
    });
    s.spike_generators.push(SpikeGenerator {
        target: "N".into(),
        spike_times: vec![9.0],
        weight: -300.0,
        delay: Some(1.2),
    });
    s.dc_generators.push(spec::DcGenerator {
        target: "N".into(),
        amplitude: 500.0,
        start: 5.0,
        stop: Some(15.0),
    });
    s.multimeters.push(Multimeter {
        population: "N".into(),
        record_from: vec!["V_m".into(), "I_syn_ex".into(), "I_syn_in".into()],
        interval: h,
        n: None,
    });
    s.record_spikes("N");
    let mut net = Network::build(&s, &opts(1)).unwrap();
    net.simulate(300);
    let p = iaf_psc_exp::Params::default();
    let d = iaf_psc_exp::prepare(&p, h).unwrap();
    let mut pop = iaf_psc_exp::Population::new(1, &p);
    let mut spiked = Vec::new();
    let mut spikes = Vec::new();
    let m = &net.multimeters()[0];
    for k in 0..300u64 {
        // Arrivals: 2.0 + 1.2 ends step 31; 7.5 + 1.2 ends step 86; 9.0 + 1.2 ends step 101.
        let ex = match k {
            31 => 800.0,
            86 => 400.0,
            _ => 0.0,
        };
        let inh = if k == 101 { -300.0 } else { 0.0 };
        let i_stim = if (50..150).contains(&k) { 500.0 } else { 0.0 };
        pop.step(&d, &[ex], &[inh], &[i_stim], &mut spiked);
        if !spiked.is_empty() {
            spikes.push(Spike { step: k, neuron: 0 });
        }
        let i = k as usize;
        assert_eq!(m.values[0][i], pop.v_m[0], "V_m at step {k}");
        assert_eq!(m.values[1][i], pop.i_syn_ex[0], "I_syn_ex at step {k}");
        assert_eq!(m.values[2][i], pop.i_syn_in[0], "I_syn_in at step {k}");
    }
    assert!(!spikes.is_empty());
    assert_eq!(net.spikes, spikes);
}

#[test]
fn injected_spikes_arrive_at_their_step() {
    let mut s = NetworkSpec::default();
    s.population("N", "iaf_psc_delta", 3, json!({}));
    s.multimeters.push(Multimeter {
        population: "N".into(),
        record_from: vec!["V_m".into()],
        interval: 0.1,
        n: None,
    });
    s.inputs.push(spec::SpikeInput {
        name: "in".into(),
        target: "N".into(),
        weight: 1.0,
        delay: Some(2.0),
    });
    let mut net = Network::build(&s, &opts(2)).unwrap();
    assert!(net.inject(1, 5, 2.0));
    assert!(net.inject(2, 5, -1.0));
    assert!(!net.inject(7, 5, 1.0), "no neuron 7");
    assert!(!net.inject(0, 500, 1.0), "beyond the rings");
    net.simulate(10);
    let m = &net.multimeters()[0];
    // Sample i*3 + j: neuron j after step i; the jump appears in the sample of step 5.
    let v = |step: usize, j: usize| m.values[0][step * 3 + j];
    assert_eq!(v(4, 1), -70.0);
    assert_eq!(v(5, 1), -68.0);
    assert_eq!(v(5, 2), -71.0);
    assert_eq!(v(5, 0), -70.0);
}

#[test]
fn bad_descriptions_are_refused_with_their_key() {
    type Change = Box<dyn Fn(&mut NetworkSpec)>;
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|s| s.projections[2].synapse.delay = Some(Dist::Const(0.05))),
            "projections[2].synapse.delay",
        ),
        (
            Box::new(|s| s.projections[0].source = "X".into()),
            "projections[0].source: no population \"X\"",
        ),
        (
            Box::new(|s| s.populations[1].model = "hh".into()),
            "populations[1].model: unknown model",
        ),
        (
            Box::new(|s| s.populations[0].params = json!({"tau_m": -1.0})),
            "populations[0]",
        ),
        (
            Box::new(|s| s.projections[1].connect = Connect::one_to_one()),
            "projections[1].connect: one_to_one needs populations of equal size",
        ),
        (
            Box::new(|s| {
                s.multimeters.push(Multimeter {
                    population: "E".into(),
                    record_from: vec!["g_ex".into()],
                    interval: 1.0,
                    n: None,
                })
            }),
            "multimeters[0].record_from[0]: iaf_psc_delta has no recordable \"g_ex\"",
        ),
        (
            Box::new(|s| s.poisson_generators[0].rate = -1.0),
            "poisson_generators[0].rate",
        ),
        (
            Box::new(|s| {
                s.spike_generators.push(SpikeGenerator {
                    target: "E".into(),
                    spike_times: vec![1.0, 0.55],
                    weight: 1.0,
                    delay: None,
                })
            }),
            "spike_generators[0].spike_times[1]",
        ),
    ];
    for (change, expect) in cases {
        let mut spec = brunel::spec(&brunel::BrunelConfig {
            scale: 0.01,
            ..Default::default()
        });
        change(&mut spec);
        let e = Network::build(&spec, &opts(1)).err().unwrap().to_string();
        assert!(e.contains(expect), "expected {expect:?} in: {e}");
    }
}

#[test]
fn a_network_too_large_is_refused_before_allocation() {
    let mut s = NetworkSpec::default();
    s.population("A", "iaf_psc_exp", 2_000_000, json!({}))
        .connect(
            "A",
            "A",
            Connect::all_to_all(),
            SynapseSpec::fixed(1.0, 1.0),
        );
    let o = BuildOptions {
        memory_limit_bytes: Some(8 << 30),
        ..opts(2)
    };
    let t = std::time::Instant::now();
    let e = Network::build(&s, &o).err().unwrap();
    assert!(t.elapsed().as_secs_f64() < 1.0);
    match e {
        NetworkError::TooLarge {
            needed_bytes,
            synapses,
            ..
        } => {
            assert_eq!(synapses, 4_000_000_000_000);
            assert!(needed_bytes > 16_000_000_000_000);
        }
        other => panic!("{other}"),
    }
    let est = Network::estimate(&brunel::spec(&brunel::BrunelConfig::default()), 2).unwrap();
    assert_eq!(est.synapses, 15_625_000);
    // Brunel: 3 bytes per synapse (target and delay) and small change; measured peak 109 MiB
    // (`tests/memory_estimate.rs` checks it within 25 %).
    assert!(
        est.bytes > 60_000_000 && est.bytes < 400_000_000,
        "{}",
        est.bytes
    );
}

#[test]
fn cutting_a_run_into_calls_changes_nothing() {
    let whole = {
        let mut net = Network::build(&mixed(), &opts(2)).unwrap();
        net.simulate(1200);
        (net.spikes.clone(), net.multimeters().to_vec())
    };
    let mut net = Network::build(&mixed(), &opts(2)).unwrap();
    let mut done = 0;
    for chunk in [7u64, 10, 3, 1, 20].iter().cycle() {
        let n = (*chunk).min(1200 - done);
        net.simulate(n);
        done += n;
        if done == 1200 {
            break;
        }
    }
    assert_eq!(net.steps_done(), 1200);
    assert_eq!((net.spikes.clone(), net.multimeters().to_vec()), whole);
}

#[test]
fn a_restored_checkpoint_continues_the_run_exactly() {
    let mut whole = Network::build(&mixed(), &opts(2)).unwrap();
    whole.simulate(1500);
    let mut first = Network::build(&mixed(), &opts(2)).unwrap();
    first.simulate(700);
    let bytes = first.save_state();
    let mut second = Network::build(&mixed(), &opts(2)).unwrap();
    second.load_state(&bytes).unwrap();
    assert_eq!(second.steps_done(), 700);
    second.simulate(800);
    let tail: Vec<Spike> = whole
        .spikes
        .iter()
        .copied()
        .filter(|s| s.step >= 700)
        .collect();
    assert!(!tail.is_empty());
    assert_eq!(second.spikes, tail);
    // Another seed, another thread count, garbage: refused, nothing changed.
    let mut other = Network::build(&mixed(), &opts(1)).unwrap();
    assert!(other
        .load_state(&bytes)
        .unwrap_err()
        .contains("another network"));
    assert!(other.load_state(b"junk").is_err());
    assert_eq!(other.steps_done(), 0);
}

/// One pre and one post neuron made to fire at given times (strong spike generators), linked by a
/// plastic synapse of tiny weight.
fn pair(synapse: SynapseSpec, pre_ms: Vec<f64>, post_ms: Vec<f64>) -> NetworkSpec {
    let mut s = NetworkSpec::default();
    s.population("pre", "iaf_psc_delta", 1, json!({}))
        .population("post", "iaf_psc_delta", 1, json!({}));
    for (target, times) in [("pre", pre_ms), ("post", post_ms)] {
        s.spike_generators.push(SpikeGenerator {
            target: target.into(),
            spike_times: times,
            weight: 100.0,
            delay: Some(0.1),
        });
    }
    s.connect("pre", "post", Connect::one_to_one(), synapse)
        .record_spikes("pre")
        .record_spikes("post");
    s
}

#[test]
fn stdp_in_a_network_follows_the_synapse_rule_in_nest_order() {
    use crate::plasticity::{stdp_synapse, PostArchive};
    let params = json!({"tau_plus": 15.0, "lambda": 0.05, "alpha": 1.2, "mu_plus": 0.0, "mu_minus": 0.0, "Wmax": 10.0});
    let syn = SynapseSpec {
        synapse_model: spec::SynapseModel::StdpSynapse,
        weight: Dist::Const(1.0),
        delay: Some(Dist::Const(1.0)),
        params: params.clone(),
        volume_transmitter: None,
    };
    let pre: Vec<f64> = (1..40).map(|i| (i * 23) as f64 * 0.5).collect();
    let post: Vec<f64> = (1..40).map(|i| (i * 17) as f64 * 0.6 + 0.3).collect();
    let mut net = Network::build(&pair(syn, pre, post), &opts(2)).unwrap();
    net.simulate(5000);
    let spikes = net.spikes.clone();
    assert!(spikes.len() > 60);
    // Replay with the rule alone: slices of min delay (1 ms = 10 steps), post spikes archived as
    // they happen, pre spikes sent at the slice end.
    let p: stdp_synapse::Params = serde_json::from_value(params).unwrap();
    let mut state = stdp_synapse::State::new(1.0, &p).unwrap();
    let mut post_archive = PostArchive::new(20.0).unwrap();
    stdp_synapse::connect(&state, 1.0, &mut post_archive);
    let t = |k: u64| ((k + 1) * 100) as f64 * 0.001;
    let mut weights = Vec::new();
    for slice in 0..500u64 {
        let (a, b) = (slice * 10, slice * 10 + 10);
        for sp in spikes
            .iter()
            .filter(|s| s.neuron == 1 && (a..b).contains(&s.step))
        {
            post_archive.record_spike(t(sp.step), 1.0);
        }
        for sp in spikes
            .iter()
            .filter(|s| s.neuron == 0 && (a..b).contains(&s.step))
        {
            weights.push(stdp_synapse::send(
                &p,
                &mut state,
                t(sp.step),
                1.0,
                &post_archive,
            ));
        }
    }
    assert!(
        weights.iter().any(|&w| (w - 1.0).abs() > 0.01),
        "{weights:?}"
    );
    let w = net.weights(0);
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].0, w[0].1), (0, 1));
    assert_eq!(w[0].2, state.weight);
}

#[test]
fn dopamine_turns_eligibility_into_weight_change_and_checkpoints_keep_it() {
    let vt = spec::VolumeTransmitterSpec {
        name: "vt".into(),
        population: None,
        reward_port: Some("reward".into()),
        deliver_interval: 1,
        delay: None,
    };
    let syn = SynapseSpec {
        synapse_model: spec::SynapseModel::StdpDopamineSynapse,
        weight: Dist::Const(5.0),
        delay: Some(Dist::Const(1.0)),
        params: json!({"A_plus": 2.0, "A_minus": 1.0, "tau_c": 500.0, "tau_n": 100.0, "Wmax": 50.0}),
        volume_transmitter: Some("vt".into()),
    };
    // Pre fires 5 ms before post, again and again: positive eligibility.
    let pre: Vec<f64> = (1..30).map(|i| i as f64 * 20.0).collect();
    let post: Vec<f64> = (1..30).map(|i| i as f64 * 20.0 + 5.0).collect();
    let mut s = pair(syn, pre, post);
    s.volume_transmitters.push(vt);
    let run = |reward: bool, split: Option<u64>| {
        let mut net = Network::build(&s, &opts(2)).unwrap();
        let v = net.volume_transmitter("vt").unwrap();
        let mut done = 0;
        while done < 7000 {
            if reward && done % 1000 == 0 && done > 0 {
                assert!(net.add_dopamine(v, done, 2.0));
            }
            if split == Some(done) {
                let bytes = net.save_state();
                net = Network::build(&s, &opts(2)).unwrap();
                net.load_state(&bytes).unwrap();
            }
            net.simulate(100);
            done += 100;
        }
        net.weights(0)[0].2
    };
    let without = run(false, None);
    let with = run(true, None);
    assert_eq!(without, 5.0, "no dopamine, no change (b = 0)");
    assert!(with > 5.5, "rewarded causal pairs grow: {with}");
    assert_eq!(
        run(true, Some(3500)),
        with,
        "a checkpoint in the middle changes nothing"
    );
}

/// A population with three kinds of groups: two consecutive blocks, a range and an index list.
fn grouped() -> NetworkSpec {
    NetworkSpec::from_toml(
        r#"
[[populations]]
name = "M1"
model = "iaf_psc_delta"
n = 40
groups = [{ name = "Foot1", size = 10 }, { name = "Foot2", size = 10 },
          { name = "late", range = [30, 40] }, { name = "odd", neurons = [25, 21, 23] }]

[[populations]]
name = "S"
model = "iaf_psc_delta"
n = 30
"#,
    )
    .unwrap()
}

#[test]
fn projections_between_groups_connect_only_their_neurons() {
    let mut s = grouped();
    s.connect(
        "M1.Foot1",
        "M1.late",
        Connect::fixed_indegree(4),
        SynapseSpec::fixed(1.0, 1.0),
    )
    .connect(
        "S",
        "M1.odd",
        Connect::all_to_all(),
        SynapseSpec::fixed(1.0, 1.0),
    )
    .connect(
        "M1.odd",
        "M1.Foot2",
        Connect::fixed_outdegree(2),
        SynapseSpec::fixed(1.0, 1.0),
    )
    .connect(
        "M1.odd",
        "M1.odd",
        Connect::all_to_all().with(false, true),
        SynapseSpec::fixed(1.0, 1.0),
    );
    for threads in [1, 2, 3] {
        let net = Network::build(&s, &opts(threads)).unwrap();
        let w0 = net.weights(0);
        assert_eq!(w0.len(), 40, "10 targets x indegree 4");
        assert!(w0.iter().all(|&(a, b, _)| a < 10 && (30..40).contains(&b)));
        for t in 30..40 {
            assert_eq!(w0.iter().filter(|x| x.1 == t).count(), 4);
        }
        let w1 = net.weights(1);
        assert_eq!(w1.len(), 90);
        assert!(w1
            .iter()
            .all(|&(a, b, _)| (40..70).contains(&a) && [21, 23, 25].contains(&b)));
        let w2 = net.weights(2);
        assert_eq!(w2.len(), 6);
        assert!(w2
            .iter()
            .all(|&(a, b, _)| [21, 23, 25].contains(&a) && (10..20).contains(&b)));
        for a in [21, 23, 25] {
            assert_eq!(w2.iter().filter(|x| x.0 == a).count(), 2);
        }
        // Autapses are the same neuron, not the same index.
        let w3 = net.weights(3);
        assert_eq!(w3.len(), 6);
        assert!(w3.iter().all(|&(a, b, _)| a != b));
        assert_eq!(net.groups(0)[3], ("odd".to_string(), vec![25, 21, 23]));
        assert_eq!(
            net.members("M1.odd").unwrap().2,
            Members::List(vec![25, 21, 23])
        );
        assert_eq!(net.members("M1.late").unwrap().2, Members::Range(30, 40));
        assert_eq!(net.members("S").unwrap().2, Members::Range(40, 70));
        assert!(net.members("M1.x").is_none());
    }
}

#[test]
fn a_group_of_the_whole_population_connects_as_the_population() {
    // Same seed, same rules: a group that is the whole population draws the same synapses.
    let base = mixed();
    let mut grouped = base.clone();
    for p in &mut grouped.populations {
        p.groups = vec![spec::GroupSpec::block("all", p.n)];
    }
    for pr in &mut grouped.projections {
        pr.source = format!("{}.all", pr.source);
        pr.target = format!("{}.all", pr.target);
    }
    let (a, b) = (
        Network::build(&base, &opts(2)).unwrap(),
        Network::build(&grouped, &opts(2)).unwrap(),
    );
    for i in 0..base.projections.len() {
        assert_eq!(a.weights(i), b.weights(i), "projection {i}");
    }
}

#[test]
fn devices_and_recorders_reach_only_their_group() {
    let mut s = grouped();
    s.poisson("M1.odd", 50_000.0, 30.0, 1.0)
        .poisson("M1.Foot2", 50_000.0, 30.0, 1.0)
        .record_spikes("M1.Foot2")
        .record_spikes("M1.odd");
    s.dc_generators.push(spec::DcGenerator {
        target: "S.x".into(),
        amplitude: 1.0,
        start: 0.0,
        stop: None,
    });
    let e = Network::build(&s, &opts(2)).err().unwrap().to_string();
    assert!(
        e.contains("dc_generators[0].target: population \"S\" has no group \"x\""),
        "{e}"
    );
    s.dc_generators.clear();
    let mut net = Network::build(&s, &opts(2)).unwrap();
    net.simulate(500);
    let fired: std::collections::BTreeSet<u32> = net.spikes.iter().map(|sp| sp.neuron).collect();
    let expect: std::collections::BTreeSet<u32> = (10..20).chain([21, 23, 25]).collect();
    assert_eq!(fired, expect);
}

#[test]
fn bad_groups_are_refused_with_their_key() {
    let cases = [
        (
            "groups = [{ name = \"a\", size = 30 }, { name = \"b\", size = 20 }]",
            "populations[0].groups[1].size: neuron 40 is outside population \"M1\" of 40 neurons",
        ),
        (
            "groups = [{ name = \"a\", range = [0, 10] }, { name = \"b\", neurons = [3] }]",
            "populations[0].groups[1].neurons: neuron 3 is also in group \"a\"",
        ),
        (
            "groups = [{ name = \"a\", range = [5, 5] }]",
            "populations[0].groups[0].range: [5, 5] is empty",
        ),
        (
            "groups = [{ name = \"a\", size = 3, range = [0, 3] }]",
            "populations[0].groups[0]: give exactly one of `size`, `range` or `neurons`",
        ),
        (
            "groups = [{ name = \"a\", size = 3 }, { name = \"a\", size = 3 }]",
            "populations[0].groups[1].name: \"a\" is used twice",
        ),
        (
            "groups = [{ name = \"a.b\", size = 3 }]",
            "populations[0].groups[0].name",
        ),
        (
            "groups = [{ name = \"a\", neurons = [1, 1] }]",
            "populations[0].groups[0].neurons: neuron 1 is listed twice",
        ),
    ];
    for (groups, expect) in cases {
        let text = format!(
            "[[populations]]\nname = \"M1\"\nmodel = \"iaf_psc_delta\"\nn = 40\n{groups}\n"
        );
        let s = NetworkSpec::from_toml(&text).unwrap();
        let e = Network::build(&s, &opts(1)).err().unwrap().to_string();
        assert!(e.contains(expect), "{groups}: {e}");
    }
    let mut s = grouped();
    s.connect(
        "M1.Foot3",
        "S",
        Connect::all_to_all(),
        SynapseSpec::fixed(1.0, 1.0),
    );
    let e = Network::build(&s, &opts(1)).err().unwrap().to_string();
    assert!(
        e.contains(
            "projections[0].source: population \"M1\" has no group \"Foot3\" (groups: Foot1, Foot2, late, odd)"
        ),
        "{e}"
    );
    s.projections[0].source = "X.Foot1".into();
    let e = Network::build(&s, &opts(1)).err().unwrap().to_string();
    assert!(
        e.contains("projections[0].source: no population \"X\""),
        "{e}"
    );
    // Rules count within groups: one_to_one needs equal group sizes.
    s.projections[0].source = "M1.odd".into();
    s.projections[0].target = "M1.Foot1".into();
    s.projections[0].connect = Connect::one_to_one();
    let e = Network::build(&s, &opts(1)).err().unwrap().to_string();
    assert!(e.contains("(3 sources, 10 targets)"), "{e}");
}

/// Recurrent excitatory network with every kind of plastic synapse: `stdp_synapse`, dopamine STDP
/// fed by a dopaminergic population (`b = 0`, lazy) and by rewards (`b != 0`, carried at every
/// delivery, `deliver_interval` 2).
fn plastic_mix() -> NetworkSpec {
    NetworkSpec::from_json(json!({
        "populations": [
            {"name": "E", "model": "iaf_psc_exp", "n": 60, "params": {"I_e": 200.0}},
            {"name": "DA", "model": "iaf_psc_exp", "n": 6, "params": {"I_e": 360.0}},
        ],
        "poisson_generators": [
            {"target": "E", "rate": 8000.0, "weight": 25.0},
            {"target": "DA", "rate": 6000.0, "weight": 25.0},
        ],
        "projections": [
            {"source": "E", "target": "E", "connect": {"rule": "fixed_indegree", "indegree": 8},
             "synapse": {"synapse_model": "stdp_synapse", "weight": 40.0,
                         "delay": {"distribution": "normal", "mean": 1.5, "std": 0.5, "min": 0.1},
                         "params": {"lambda": 0.05, "Wmax": 120.0}}},
            {"source": "E", "target": "E", "connect": {"rule": "fixed_indegree", "indegree": 8},
             "synapse": {"synapse_model": "stdp_dopamine_synapse", "weight": 40.0, "delay": 1.0,
                         "params": {"A_plus": 0.02, "A_minus": 0.015, "tau_n": 100.0, "Wmax": 150.0},
                         "volume_transmitter": "da"}},
            {"source": "E", "target": "E", "connect": {"rule": "fixed_indegree", "indegree": 4},
             "synapse": {"synapse_model": "stdp_dopamine_synapse", "weight": 30.0, "delay": 1.0,
                         "params": {"A_plus": 0.05, "A_minus": 0.04, "b": 0.0002, "tau_n": 100.0, "Wmax": 150.0},
                         "volume_transmitter": "reward"}},
        ],
        "volume_transmitters": [
            {"name": "da", "population": "DA", "delay": 1.0},
            {"name": "reward", "reward_port": "reward", "deliver_interval": 2},
        ],
        "spike_recorders": [{"population": "E"}, {"population": "DA"}],
    }))
    .unwrap()
}

/// Every projection's (source, target, weight), as [`Network::weights`].
type Weights = Vec<Vec<(u32, u32, f64)>>;

/// Runs `plastic_mix` for 500 ms with a reward every 50 ms: the recorded spikes and the weights.
fn plastic_mix_run(net: &mut Network) -> (Vec<Spike>, Weights) {
    let v = net.volume_transmitter("reward").unwrap();
    for k in 0..10u64 {
        net.add_dopamine(v, k * 500 + 7, 1.5);
        net.simulate(500);
    }
    let w = (0..3).map(|i| net.weights(i)).collect();
    (net.spikes.clone(), w)
}

#[test]
fn plastic_synapses_learn_the_same_on_any_thread_count() {
    // Every thread keeps its own copy of each dopamine signal, sweeps included (every 1000
    // deliveries: 5 in this run): the copies must stay the same.
    let run = |threads| {
        let mut net = Network::build(&plastic_mix(), &opts(threads)).unwrap();
        assert_eq!(net.min_delay_steps(), 1);
        let (spikes, mut weights) = plastic_mix_run(&mut net);
        // In thread order: sorted by (source, target), then weight (multapses).
        for w in &mut weights {
            w.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(a.2.total_cmp(&b.2)));
        }
        (spikes, weights)
    };
    let one = run(1);
    assert!(one.0.len() > 1000, "{} spikes", one.0.len());
    for (i, w) in one.1.iter().enumerate() {
        assert!(w.iter().any(|x| x.2 != w[0].2), "projection {i} learns");
    }
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn dopamine_projections_with_the_same_rule_share_its_tables() {
    let mut s = plastic_mix();
    // A copy of the first dopamine projection, and one with other parameters (the third).
    s.projections.push(s.projections[1].clone());
    let net = Network::build(&s, &opts(1)).unwrap();
    let rule = |i: usize| match &net.parts[0].rows[i].plastic {
        Some(PlasticRows::Dopamine { rule, .. }) => Arc::clone(rule),
        _ => panic!("projection {i} is not a dopamine projection"),
    };
    assert!(Arc::ptr_eq(&rule(1), &rule(3)));
    assert!(!Arc::ptr_eq(&rule(1), &rule(2)));
}

#[test]
fn with_plasticity_off_plastic_synapses_transmit_fixed_weights() {
    let initial = [40.0, 40.0, 30.0];
    // On, every projection learns.
    let mut on = Network::build(&plastic_mix(), &opts(2)).unwrap();
    let (_, learned) = plastic_mix_run(&mut on);
    for (p, ws) in learned.iter().enumerate() {
        assert!(
            ws.iter().all(|w| w.2 != initial[p]),
            "projection {p} did not learn"
        );
    }
    // Off, none does, rewards are refused, and the run is that of static synapses of these weights.
    let mut off = Network::build(&plastic_mix(), &opts(2)).unwrap();
    off.set_plasticity(false);
    assert!(!off.plasticity());
    assert!(!off.add_dopamine(1, 0, 1.0));
    let (spikes, kept) = plastic_mix_run(&mut off);
    assert!(spikes.len() > 1000, "{}", spikes.len());
    for (p, ws) in kept.iter().enumerate() {
        assert!(
            ws.iter().all(|w| w.2 == initial[p]),
            "projection {p} changed"
        );
    }
    let mut fixed = plastic_mix();
    for pr in &mut fixed.projections {
        pr.synapse.synapse_model = SynapseModel::StaticSynapse;
        pr.synapse.params = json!({});
        pr.synapse.volume_transmitter = None;
    }
    let mut fixed = Network::build(&fixed, &opts(2)).unwrap();
    assert_eq!(plastic_mix_run(&mut fixed).0, spikes);
}

#[test]
fn an_stdp_synapse_keeps_its_weight_with_plasticity_off() {
    let syn = SynapseSpec {
        synapse_model: spec::SynapseModel::StdpSynapse,
        weight: Dist::Const(1.0),
        delay: Some(Dist::Const(1.0)),
        params: json!({"lambda": 0.05, "mu_plus": 0.0, "mu_minus": 0.0, "Wmax": 10.0}),
        volume_transmitter: None,
    };
    // Pre 4 ms before post, again and again: potentiation when learning.
    let pre: Vec<f64> = (1..40).map(|i| i as f64 * 25.0).collect();
    let post: Vec<f64> = (1..40).map(|i| i as f64 * 25.0 + 4.0).collect();
    let run = |on: bool| {
        let mut net =
            Network::build(&pair(syn.clone(), pre.clone(), post.clone()), &opts(1)).unwrap();
        net.set_plasticity(on);
        net.simulate(10_000);
        assert!(net.spikes.len() > 70);
        net.weights(0)[0].2
    };
    assert!(run(true) > 1.5, "{}", run(true));
    assert_eq!(run(false), 1.0);
}

#[test]
fn switching_plasticity_off_keeps_the_reported_weights_and_nothing_piles_up() {
    let mut net = Network::build(&plastic_mix(), &opts(2)).unwrap();
    plastic_mix_run(&mut net);
    // (Not at a sweep, which comes every 1000 deliveries, here steps.)
    net.simulate(37);
    let reported: Vec<_> = (0..3).map(|i| net.weights(i)).collect();
    let stored = |net: &Network| -> Vec<f64> {
        net.parts
            .iter()
            .flat_map(|p| &p.rows)
            .filter_map(|r| match &r.plastic {
                Some(PlasticRows::Dopamine { states, .. }) => Some(states.iter().map(|s| s.weight)),
                _ => None,
            })
            .flatten()
            .collect()
    };
    let bytes = net.save_state();
    // The dopamine synapses were last updated before the last delivery: their stored weights lag
    // behind the reported ones, and switching off carries them there.
    let before = stored(&net);
    net.set_plasticity(false);
    assert_ne!(before, stored(&net));
    let kept: Vec<_> = (0..3).map(|i| net.weights(i)).collect();
    assert_eq!(kept, reported);
    // More time, rewards and dopaminergic spikes: no weight moves, no archive, signal or queue grows.
    let sizes = |net: &mut Network| {
        let archives: Vec<usize> = net
            .parts
            .iter()
            .flat_map(|p| p.archives.iter().map(PostArchive::len))
            .collect();
        let signals: Vec<(usize, usize)> = net
            .parts
            .iter()
            .flat_map(|p| &p.vts)
            .map(|v| (v.signal.spikes().len(), v.pending.len()))
            .collect();
        (archives, signals)
    };
    let held = sizes(&mut net);
    assert!(held.1.iter().all(|&(_, pending)| pending == 0));
    plastic_mix_run(&mut net);
    assert_eq!(sizes(&mut net), held);
    assert_eq!((0..3).map(|i| net.weights(i)).collect::<Vec<_>>(), reported);
    // The checkpoint restores the same weights into a network switched off before or after.
    for off_first in [true, false] {
        let mut restored = Network::build(&plastic_mix(), &opts(2)).unwrap();
        if off_first {
            restored.set_plasticity(false);
        }
        restored.load_state(&bytes).unwrap();
        restored.set_plasticity(false);
        plastic_mix_run(&mut restored);
        assert_eq!(
            (0..3).map(|i| restored.weights(i)).collect::<Vec<_>>(),
            reported
        );
    }
    // A checkpoint written while off restores into a learning network, which goes on learning.
    let mut learning = Network::build(&plastic_mix(), &opts(2)).unwrap();
    learning.load_state(&net.save_state()).unwrap();
    assert!(learning.plasticity());
    plastic_mix_run(&mut learning);
    for (i, r) in reported.iter().enumerate() {
        assert_ne!(&learning.weights(i), r, "projection {i}");
    }
}

/// Drawn weights of static synapses are stored as f32 (see `Weights`): each is the f64 draw rounded
/// to the nearest f32, within 2^-24 of it relatively; a plastic projection keeps the exact draws
/// (its states start from them). The same draw (same projection index and seed) as both shows it,
/// and the targets and delays are packed and unpacked unchanged.
#[test]
fn drawn_static_weights_are_the_draws_rounded_to_f32() {
    let build = |plastic: bool| {
        let mut s = NetworkSpec::default();
        s.population("A", "iaf_psc_exp", 300, json!({})).population(
            "B",
            "iaf_psc_exp",
            200,
            json!({}),
        );
        let syn = SynapseSpec {
            synapse_model: if plastic {
                spec::SynapseModel::StdpSynapse
            } else {
                spec::SynapseModel::StaticSynapse
            },
            weight: Dist::Normal {
                mean: 87.81,
                std: 8.781,
                min: 0.0,
                max: f64::INFINITY,
            },
            delay: Some(Dist::Normal {
                mean: 1.5,
                std: 0.75,
                min: 0.1,
                max: f64::INFINITY,
            }),
            params: if plastic {
                json!({"Wmax": 1000.0})
            } else {
                json!({})
            },
            volume_transmitter: None,
        };
        s.connect("A", "B", Connect::fixed_total_number(5000), syn);
        Network::build(&s, &opts(2)).unwrap()
    };
    let (fixed, exact) = (build(false), build(true));
    let (w32, w64) = (fixed.weights(0), exact.weights(0));
    assert_eq!(w32.len(), 5000);
    assert_eq!(w64.len(), 5000);
    let mut rounded = 0;
    for (a, b) in w32.iter().zip(&w64) {
        assert_eq!((a.0, a.1), (b.0, b.1));
        assert_eq!(a.2, b.2 as f32 as f64);
        assert!((a.2 - b.2).abs() <= b.2.abs() * f64::powi(2.0, -24));
        rounded += usize::from(a.2 != b.2);
    }
    assert!(rounded > 4900, "the draws are f64: almost none is an f32");
    // Delays: every part's words give back the drawn delays (1 to ~6 ms here, 10 to ~60 steps).
    for (p, q) in fixed.parts.iter().zip(&exact.parts) {
        let (r, e) = (&p.rows[0], &q.rows[0]);
        assert_eq!(r.synapses.len(), e.synapses.len());
        assert!(r.const_delay.is_none());
        for i in 0..r.synapses.len() {
            assert_eq!((r.target(i), r.delay(i)), (e.target(i), e.delay(i)));
            assert!((1..100).contains(&r.delay(i)));
        }
        // 100 targets per thread (7 bits) and delays below 128 steps (7 bits): 2-byte words.
        assert_eq!(r.synapses.width, 2);
    }
}

/// A synapse word holds the target in the high bits and the delay in the low ones, in as few bytes
/// as they need.
#[test]
fn packed_words_round_trip_in_every_width() {
    for width in 1..=4 {
        let max = if width == 4 {
            u32::MAX
        } else {
            (1u32 << (8 * width)) - 1
        };
        let values = [0, 1, max / 3, max - 1, max];
        let mut p = Packed::zeros(values.len(), width);
        for (i, &v) in values.iter().enumerate() {
            p.set(i, v);
        }
        assert_eq!(p.len(), values.len());
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(p.get(i), v);
        }
        let words: Vec<u32> = match width {
            1 => p.words::<1>(0, values.len()).collect(),
            2 => p.words::<2>(0, values.len()).collect(),
            3 => p.words::<3>(0, values.len()).collect(),
            _ => p.words::<4>(0, values.len()).collect(),
        };
        assert_eq!(words, values);
    }
}
