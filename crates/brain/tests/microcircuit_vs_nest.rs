//! Benchmark 2 (Potjans & Diesmann 2014 cortical microcircuit) against NEST 3.10: the same network at a
//! small scale, built by `bridges/nest/microcircuit.py` and by
//! `neuroloop_brain::network::microcircuit::run`, compared population by population.
//!
//! Scale 0.05 with full in-degrees (3,858 neurons, 14.9 M synapses), 300 ms of network time, seed 1,
//! 1 thread on each side (neuroloop does not depend on the thread count, NEST only statistically; one
//! thread keeps the CPU time low on a loaded 2-core machine).
//!
//! The two simulators draw different connectivity, initial potentials and Poisson input, so only the
//! statistics can agree, and a network this small fluctuates a lot (the rates count every spike from
//! t = 0, initial transient included). Measured at this scale and time (with 3,859 neurons, before the
//! population sizes were rounded ties-to-even; rates in Hz, L23E .. L6I):
//!
//! * NEST seed 1: 2.69 6.54 4.41 7.65 13.37 11.07 1.64 10.34;
//!   NEST seed 2: 6.68 12.00 3.98 11.18 15.10 15.66 1.56 13.29 (L23E differs by a factor 2.5);
//! * neuroloop, seeds 1 to 10: L23E 2.74 to 7.73, L23I 6.55 to 17.28, L5E 11.07 to 26.05, the others
//!   within a factor 1.6;
//! * the largest factor between any neuroloop seed and either NEST seed: 2.87 (L23E);
//! * NEST without the L4E -> L23E doubling (seed 1): L23E 0.65 Hz, a factor 4.2 or more below every
//!   run above; NEST with inhibitory weights -1 x instead of -4 x 87.81 pA: 268 to 312 Hz everywhere.
//!
//! So each population's rate must lie within a factor MAX_FACTOR = 3 of NEST's: every measured pair of
//! correct networks passes, both broken networks fail. With the fixed seeds the test is deterministic;
//! with 3,858 neurons, seed 1: NEST 2.53 5.94 4.64 7.81 11.78 11.51 1.81 9.93, neuroloop 4.98 8.58 3.49
//! 11.12 14.71 12.77 1.54 11.27, largest factor 1.97 (L23E). About 17 s on 2 loaded cores (NEST 13.5 s
//! of it), plus compiling.
//!
//! Needs NEST: run `scripts/setup_nest.sh` once. Without it this test fails (it never passes silently).

mod common;

use neuroloop_brain::network::microcircuit::{run, MicrocircuitConfig, POPULATIONS};
use serde_json::Value;

const SCALE: f64 = 0.05;
const THREADS: usize = 1;
const SIM_MS: f64 = 300.0;
const SEED: u64 = 1;
/// Largest factor between a population's rate and NEST's (either way).
const MAX_FACTOR: f64 = 3.0;

/// NEST's figures, from one JSON line of `bridges/nest/microcircuit.py`.
struct NestResult {
    n_neurons: u64,
    n_synapses: u64,
    build_s: f64,
    sim_s: f64,
    rates_hz: Vec<f64>,
}

fn run_nest() -> NestResult {
    let args = common::network_args(SCALE, THREADS, SIM_MS, SEED);
    let out = common::run_bridge("microcircuit.py", &args, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The bridge names NEST's version on stderr ("NEST 3.10.0").
    let version = stderr
        .lines()
        .find_map(|l| l.strip_prefix("NEST "))
        .unwrap_or("?");
    assert!(
        version.starts_with("3.10"),
        "NEST {version} (expected 3.10.x)\n{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("no output from the NEST bridge\nstderr:\n{stderr}"));
    let v: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("bad JSON from the NEST bridge: {e}\n{line}"));
    println!("NEST {version}: {line}");
    let f = |key: &str| -> f64 {
        v[key]
            .as_f64()
            .unwrap_or_else(|| panic!("NEST result has no number `{key}`: {line}"))
    };
    let u = |key: &str| -> u64 {
        v[key]
            .as_u64()
            .unwrap_or_else(|| panic!("NEST result has no integer `{key}`: {line}"))
    };
    let rates_hz: Vec<f64> = v["rates_hz"]
        .as_array()
        .unwrap_or_else(|| panic!("NEST result has no list `rates_hz`: {line}"))
        .iter()
        .map(|r| {
            r.as_f64()
                .unwrap_or_else(|| panic!("bad rate {r} in NEST's result: {line}"))
        })
        .collect();
    assert_eq!(
        rates_hz.len(),
        8,
        "NEST gave {} rates: {line}",
        rates_hz.len()
    );
    NestResult {
        n_neurons: u("n_neurons"),
        n_synapses: u("n_synapses"),
        build_s: f("build_s"),
        sim_s: f("sim_s"),
        rates_hz,
    }
}

#[test]
#[ignore = "compares with NEST 3.10: needs scripts/setup_nest.sh; scripts/test.sh runs it (--include-ignored)"]
fn microcircuit_rates_match_nest() {
    let nest = run_nest();
    let rust = run(&MicrocircuitConfig {
        scale: SCALE,
        threads: THREADS,
        sim_ms: SIM_MS,
        presim_ms: 0.0,
        seed: SEED,
    })
    .unwrap_or_else(|e| panic!("neuroloop microcircuit run failed: {e:?}"));
    println!(
        "neuroloop: neurons {} synapses {} build {:.3} s sim {:.3} s rates {:?}",
        rust.n_neurons, rust.n_synapses, rust.build_s, rust.sim_s, rust.rates_hz
    );
    println!(
        "NEST:      neurons {} synapses {} build {:.3} s sim {:.3} s rates {:?}",
        nest.n_neurons, nest.n_synapses, nest.build_s, nest.sim_s, nest.rates_hz
    );

    // The same network size on both sides (sizes and synapse counts are not random).
    assert_eq!(rust.n_neurons, nest.n_neurons, "neuron counts differ");
    assert_eq!(
        rust.n_synapses, nest.n_synapses,
        "recurrent synapse counts differ"
    );
    assert_eq!(rust.rates_hz.len(), 8, "neuroloop gave {:?}", rust.rates_hz);

    // Sanity: NEST itself is in the asynchronous-irregular regime (every population fires, none runs away).
    for (p, &r) in POPULATIONS.iter().zip(&nest.rates_hz) {
        assert!(r > 0.3 && r < 40.0, "NEST's {p} rate {r} Hz");
    }

    let mut worst = (0.0_f64, "");
    for ((p, &a), &b) in POPULATIONS.iter().zip(&rust.rates_hz).zip(&nest.rates_hz) {
        let factor = (a / b).max(b / a);
        println!(
            "{p:>5}: neuroloop {a:8.3} Hz, NEST {b:8.3} Hz (x{:.3})",
            a / b
        );
        if factor.is_nan() || factor > worst.0 {
            worst = (factor, p);
        }
    }
    println!("largest factor: {:.3} ({})", worst.0, worst.1);
    for ((p, &a), &b) in POPULATIONS.iter().zip(&rust.rates_hz).zip(&nest.rates_hz) {
        assert!(
            a > 0.0 && (a / b).max(b / a) < MAX_FACTOR,
            "{p}: rate {a} Hz is not within a factor {MAX_FACTOR} of NEST's {b} Hz \
             (neuroloop {:?}, NEST {:?})",
            rust.rates_hz,
            nest.rates_hz
        );
    }
}
