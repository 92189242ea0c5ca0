//! The brain engine in a real run (experiments/brain_brunel.toml): stepped in lockstep at 1 ms as its
//! own process, the Brunel network gives exactly the spikes the library gives when it simulates the same
//! description in one piece with the same seed, and its rate output matches its spikes.

mod common;

use common::{experiment, manifest, root, run_experiment, tempdir, unique_run_id, Table};
use neuroloop_brain::network::{BuildOptions, Network, NetworkSpec};

#[test]
fn the_engine_reproduces_the_library_run_spike_for_spike() {
    let dir = tempdir();
    run_experiment(
        &experiment("brain_brunel.toml"),
        dir.path(),
        &unique_run_id("brain"),
        &[],
    )
    .expect_code(0);
    let m = manifest(dir.path());
    assert_eq!(m["exit_status"], "ok");
    assert_eq!(m["steps"], 500);

    let e = Table::read(&dir.path().join("brain.E.parquet"));
    let got: Vec<(u32, f64)> = e
        .col("neuron")
        .iter()
        .zip(e.col("t_ms"))
        .map(|(&n, &t)| (n as u32, t))
        .collect();

    // The same network, seed (engines.brain.seed = 7) and threads, simulated by the library.
    let spec = NetworkSpec::load(&root().join("crates/brain/networks/brunel.toml")).unwrap();
    let opts = BuildOptions {
        seed: 7,
        threads: 2,
        memory_limit_bytes: None,
    };
    let mut net = Network::build(&spec, &opts).unwrap();
    net.simulate(5000);
    let (a, b) = net.population_ranges[0];
    let expected: Vec<(u32, f64)> = net
        .spikes
        .iter()
        .filter(|s| s.neuron >= a && s.neuron < b)
        .map(|s| (s.neuron - a, (s.step + 1) as f64 * net.h_ms))
        .collect();
    assert!(expected.len() > 10_000, "{} spikes", expected.len());
    assert_eq!(got.len(), expected.len());
    for (g, x) in got.iter().zip(&expected) {
        assert_eq!(g.0, x.0);
        assert!((g.1 - x.1).abs() < 1e-9, "{g:?} vs {x:?}");
    }

    // The rates port: E's rate in each 1 ms step is its spike count / 2000 neurons / 1 ms.
    let rates = Table::read(&dir.path().join("brain.rates.parquet"));
    let rate_e = rates.col("E");
    let steps = rates.col("step");
    for (&s, &r) in steps.iter().zip(rate_e).skip(1) {
        let k = s as u64; // the end of the step that produced it
        let n = expected
            .iter()
            .filter(|x| x.1 > (k - 1) as f64 + 1e-9 && x.1 <= k as f64 + 1e-9)
            .count();
        assert!(
            (r - n as f64 / 2000.0 / 1e-3).abs() < 1e-9,
            "step {k}: {r} Hz, {n} spikes"
        );
    }
    let mean = rate_e.iter().sum::<f64>() / rate_e.len() as f64;
    assert!(mean > 5.0 && mean < 100.0, "mean E rate {mean} Hz");
}
