//! The cost of dopamine-modulated STDP: the same network and activity with static synapses and with
//! `stdp_dopamine_synapse` on every E -> E synapse (NEST's default `deliver_interval = 1`: a delivery
//! every minimum delay), a reward (a dopamine pulse) every second. Prints wall ms per simulated
//! second for
//! - `static`: every synapse `static_synapse`;
//! - `dopamine`: E -> E `stdp_dopamine_synapse` as the network runs it (each synapse catches up with
//!   the deliveries it missed when next used);
//! - `every delivery`: the same, carried through every delivery as NEST does (forced by a baseline
//!   `b = 1e-300`, which changes the weights by nothing measurable: how it ran before the lazy
//!   updates), measured over `--every-ms`;
//!
//! and the ratios to `static`, with each run's mean E rate (same activity) and mean E -> E weight.
//! The network: Brunel (2000) model A at `--scale` (0.32: 3,200 E + 800 I, in-degrees 1,000 and 250,
//! 3.2 million plastic synapses), delays 1.5 ms, h = 0.1 ms; small `A_plus`/`A_minus` keep the
//! weights near 0.1 mV so that the activity stays that of the static network.
//!
//! `cargo run --release -p neuroloop-brain --example dopamine_speed -- --scale 0.32 --sim-ms 2000`

use std::time::Instant;

use neuroloop_brain::network::brunel::{spec, BrunelConfig};
use neuroloop_brain::network::spec::{SynapseModel, VolumeTransmitterSpec};
use neuroloop_brain::network::{BuildOptions, Network, NetworkSpec};

/// Simulates `sim_ms` with a dopamine pulse at 500 ms into every second; returns (wall s, E rate Hz).
fn run(spec: &NetworkSpec, threads: usize, sim_ms: f64) -> (f64, f64, Network) {
    let opts = BuildOptions {
        seed: 1,
        threads,
        ..BuildOptions::default()
    };
    let mut net = Network::build(spec, &opts).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    let vt = net.volume_transmitter("vt");
    let chunk = (100.0 / net.h_ms).round() as u64;
    let chunks = (sim_ms / 100.0).round() as u64;
    let t = Instant::now();
    for c in 0..chunks {
        if let (Some(vt), 5) = (vt, c % 10) {
            net.add_dopamine(vt, net.steps_done(), 1.0);
        }
        net.simulate(chunk);
    }
    let wall = t.elapsed().as_secs_f64();
    let (a, b) = net.population_ranges[0];
    let n_e = net
        .spikes
        .iter()
        .filter(|s| s.neuron >= a && s.neuron < b)
        .count();
    let rate = n_e as f64 / f64::from(b - a) / (chunks as f64 * 0.1);
    (wall, rate, net)
}

fn mean_weight(net: &Network) -> f64 {
    let w = net.weights(0);
    w.iter().map(|x| x.2).sum::<f64>() / w.len().max(1) as f64
}

fn main() {
    let mut c = BrunelConfig {
        scale: 0.32,
        sim_ms: 2000.0,
        ..BrunelConfig::default()
    };
    let mut every_ms = 200.0;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        let bad = |what: &str| -> ! {
            eprintln!("{what}: bad value {value:?}");
            std::process::exit(2)
        };
        match args[i].as_str() {
            "--scale" => c.scale = value.parse().unwrap_or_else(|_| bad("--scale")),
            "--threads" => c.threads = value.parse().unwrap_or_else(|_| bad("--threads")),
            "--sim-ms" => c.sim_ms = value.parse().unwrap_or_else(|_| bad("--sim-ms")),
            "--every-ms" => every_ms = value.parse().unwrap_or_else(|_| bad("--every-ms")),
            "-h" | "--help" => {
                println!(
                    "dopamine_speed [--scale S (0.32)] [--threads N (2)] [--sim-ms MS (2000)] [--every-ms MS (200; 0: skip)]"
                );
                return;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2)
            }
        }
        i += 2;
    }
    let fixed = spec(&c);
    let plastic = |b: f64| {
        let mut s = fixed.clone();
        let ee = &mut s.projections[0];
        assert_eq!((ee.source.as_str(), ee.target.as_str()), ("E", "E"));
        ee.synapse.synapse_model = SynapseModel::StdpDopamineSynapse;
        ee.synapse.params = serde_json::json!({
            "A_plus": 1e-3, "A_minus": 1.5e-3, "Wmin": 0.0, "Wmax": 0.2, "b": b,
        });
        ee.synapse.volume_transmitter = Some("vt".into());
        s.volume_transmitters.push(VolumeTransmitterSpec {
            name: "vt".into(),
            population: None,
            reward_port: Some("reward".into()),
            deliver_interval: 1,
            delay: None,
        });
        s
    };
    let per_s = |wall: f64, ms: f64| wall * 1e3 * 1000.0 / ms;
    let (ws, rs, net) = run(&fixed, c.threads, c.sim_ms);
    println!(
        "Brunel scale {} ({} neurons, {} synapses, {} E->E), {} threads, min delay {} ms",
        c.scale,
        net.n_neurons,
        net.n_synapses,
        net.weights(0).len(),
        c.threads,
        net.min_delay_steps() as f64 * net.h_ms
    );
    drop(net);
    let static_ms = per_s(ws, c.sim_ms);
    println!(
        "static          {static_ms:9.1} ms per simulated s  (E rate {rs:.2} Hz, over {} ms)",
        c.sim_ms
    );
    let (wd, rd, net) = run(&plastic(0.0), c.threads, c.sim_ms);
    let dopa_ms = per_s(wd, c.sim_ms);
    println!(
        "dopamine        {dopa_ms:9.1} ms per simulated s  (E rate {rd:.2} Hz, mean E->E weight {:.6} mV)  {:.2}x static",
        mean_weight(&net),
        dopa_ms / static_ms
    );
    drop(net);
    if every_ms > 0.0 {
        let (we, re, net) = run(&plastic(1e-300), c.threads, every_ms);
        let every = per_s(we, every_ms);
        println!(
            "every delivery  {every:9.1} ms per simulated s  (E rate {re:.2} Hz, mean E->E weight {:.6} mV, over {every_ms} ms)  {:.2}x static",
            mean_weight(&net),
            every / static_ms
        );
    }
}
