//! The brain engine against the library on the same network: Brunel (2000) simulated by
//! `Network::simulate` in one call, and by `BrainEngine::step` at a 1 ms sync step (as a closed loop
//! drives it: every population recorded, spike outputs and the `rates` output filled each step).
//! Prints wall seconds per simulated second for both and their ratio, best of `--rounds` rounds.
//!
//! `cargo run --release -p neuroloop-brain --example engine_vs_library -- --scale 0.2 --sim-ms 1000`

use std::time::Instant;

use neuroloop_brain::engine::BrainEngine;
use neuroloop_brain::network::brunel::{spec, BrunelConfig};
use neuroloop_brain::network::spec::SpikeOutput;
use neuroloop_brain::network::{BuildOptions, Network};
use neuroloop_core::engine::{Engine, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::time::Step;

fn main() {
    let mut c = BrunelConfig {
        scale: 0.2,
        ..BrunelConfig::default()
    };
    let mut rounds = 3;
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
            "--rounds" => rounds = value.parse().unwrap_or_else(|_| bad("--rounds")),
            "-h" | "--help" => {
                println!(
                    "engine_vs_library [--scale S (0.2)] [--threads N (2)] [--sim-ms MS (1000)] [--rounds R (3)]"
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
    let mut s = spec(&c);
    s.outputs = vec![
        SpikeOutput {
            name: "e_spikes".into(),
            population: "E".into(),
        },
        SpikeOutput {
            name: "i_spikes".into(),
            population: "I".into(),
        },
    ];
    let steps_1ms = (1.0 / s.resolution_ms).round() as u64;
    let n_sync = (c.sim_ms).round() as u64;
    let (mut best_lib, mut best_eng) = (f64::INFINITY, f64::INFINITY);
    let (mut lib_spikes, mut eng_spikes) = (0usize, 0usize);
    for _ in 0..rounds {
        // The library: one call, every population recorded.
        let opts = BuildOptions {
            seed: c.seed,
            threads: c.threads,
            ..BuildOptions::default()
        };
        let mut net = Network::build(&s, &opts).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1)
        });
        for p in 0..net.population_names.len() {
            net.record_spikes(p, true);
        }
        let t = Instant::now();
        net.simulate(n_sync * steps_1ms);
        best_lib = best_lib.min(t.elapsed().as_secs_f64());
        lib_spikes = net.spikes.len();
        drop(net);
        // The engine, stepped at 1 ms.
        let ctx = InitContext {
            name: "brain".into(),
            config: serde_json::json!({"network": s, "threads": c.threads}),
            seed: c.seed,
            base_step_ms: 1.0,
            period: 1,
            episode: 0,
        };
        let mut e = BrainEngine::new_in(&ctx, None).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1)
        });
        let ports = e.ports();
        let inputs = Inputs::for_ports(&ports);
        let mut outputs = Outputs::for_ports(&ports);
        let mut spikes = 0;
        let t = Instant::now();
        for k in 0..n_sync {
            outputs.begin_step();
            let sc = StepContext {
                step: Step(k),
                n_steps: 1,
                base_step_ms: 1.0,
            };
            e.step(&sc, &inputs, &mut outputs).unwrap_or_else(|e| {
                eprintln!("error: {e}");
                std::process::exit(1)
            });
            for port in [0, 1] {
                if let neuroloop_core::payload::Payload::Spikes(b) = outputs.get(port) {
                    spikes += b.neuron.len();
                }
            }
        }
        best_eng = best_eng.min(t.elapsed().as_secs_f64());
        eng_spikes = spikes;
    }
    let per_s = 1000.0 / c.sim_ms;
    println!(
        "brunel scale {} ({} neurons), {} threads, {} ms simulated, best of {rounds}:",
        c.scale,
        s.populations.iter().map(|p| p.n).sum::<usize>(),
        c.threads,
        c.sim_ms
    );
    println!(
        "library {:.3} s per simulated s ({lib_spikes} spikes); engine at 1 ms {:.3} s per simulated s ({eng_spikes} spikes); engine / library = {:.3}",
        best_lib * per_s,
        best_eng * per_s,
        best_eng / best_lib
    );
}
