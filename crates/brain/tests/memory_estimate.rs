//! The memory estimate ([`Network::estimate`], what a build is refused by) against the measured peak
//! resident memory of a build and a short run: Brunel (2000) at scale 1 (12,500 neurons, 15.6 M
//! synapses, constant weights and delays: 3-byte synapses) and the Potjans & Diesmann (2014)
//! microcircuit at scale 0.25 (19,292 neurons, 74.7 M synapses, drawn weights and delays: 7-byte
//! synapses), each within 25 % (issue 17, item 1).
//!
//! One test in its own process: the peak (VmHWM) is the process's, so the smaller network goes first
//! and its network is dropped before the larger one is built. Linux only (elsewhere the peak is not
//! read and the test only checks that both build).

use neuroloop_brain::network::brunel::{self, peak_rss_mb, BrunelConfig};
use neuroloop_brain::network::microcircuit;
use neuroloop_brain::network::{BuildOptions, Network, NetworkSpec};

/// Builds `spec` on 2 threads, simulates 10 ms, returns (estimate, peak) in MiB.
fn measure(spec: &NetworkSpec) -> (f64, f64) {
    let mib = 1024.0 * 1024.0;
    let estimate = Network::estimate(spec, 2).unwrap().bytes as f64 / mib;
    let opts = BuildOptions {
        seed: 1,
        threads: 2,
        memory_limit_bytes: None,
    };
    let mut net = Network::build(spec, &opts).unwrap();
    net.simulate(100);
    (estimate, peak_rss_mb())
}

#[test]
fn the_estimate_is_within_25_percent_of_the_measured_peak() {
    let brunel = brunel::spec(&BrunelConfig {
        scale: 1.0,
        ..Default::default()
    });
    let cases = [
        ("brunel scale 1", brunel),
        ("microcircuit scale 0.25", microcircuit::spec(0.25)),
    ];
    for (name, spec) in cases {
        let (estimate, peak) = measure(&spec);
        eprintln!("{name}: estimate {estimate:.0} MiB, peak {peak:.0} MiB");
        if peak.is_nan() {
            continue;
        }
        assert!(
            (estimate / peak - 1.0).abs() <= 0.25,
            "{name}: estimate {estimate:.0} MiB, measured peak {peak:.0} MiB"
        );
    }
}
