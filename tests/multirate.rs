//! Multi-rate lockstep, end to end: a 3 ms `probe` engine fed by a 1 ms Poisson source (spikes
//! accumulate across the probe's step, each delivered exactly once) and by a 1 ms spring (held value,
//! one step of delay, stamped with when it was made). Checked from the recordings of a real run.

mod common;

use std::time::Duration;

use common::*;

const DURATION_MS: f64 = 300.0;
const PROBE_STEP_MS: f64 = 3.0;

#[test]
fn slow_probe_sees_fast_producers_by_the_lockstep_rules() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("multirate");
    run_experiment(&experiment("tests/multirate.toml"), &out, &id, &[])
        .expect_code(0)
        .expect_no_panic();
    assert_no_leftovers(&id, Duration::from_secs(3));

    let seen = Table::read(&out.join("probe.seen.parquet"));
    assert_eq!(
        seen.names,
        [
            "step",
            "t_ms",
            "value",
            "value_stamp_ms",
            "spikes_now",
            "spikes_total",
            "episode"
        ]
    );
    let probe_steps = (DURATION_MS / PROBE_STEP_MS) as usize;
    // One row per probe step, plus the initial outputs at t = 0.
    assert_eq!(seen.rows(), probe_steps + 1);
    let t_end = seen.col("t_ms");
    for (k, &t) in t_end.iter().enumerate() {
        assert_eq!(t, k as f64 * PROBE_STEP_MS, "row {k}");
    }

    let spikes = Table::read(&out.join("source.spikes.parquet"));
    let spike_t = spikes.col("t_ms");
    assert!(
        spike_t.len() > 100,
        "too few source spikes: {}",
        spike_t.len()
    );
    let pos = Table::read(&out.join("plant.position.parquet"));
    assert_eq!(pos.rows(), DURATION_MS as usize + 1);

    let (value, stamp) = (seen.col("value"), seen.col("value_stamp_ms"));
    let (now, total) = (seen.col("spikes_now"), seen.col("spikes_total"));
    for k in 1..seen.rows() {
        let start = t_end[k] - PROBE_STEP_MS;
        // Held value: made by the spring's step that ended at the probe's step start (1 ms boundaries,
        // so exactly `start`), and equal to the recorded position at that time (linear gain 1).
        assert_eq!(
            stamp[k], start,
            "value stamp at the probe step starting at {start} ms"
        );
        assert_eq!(
            value[k],
            pos.col("x")[start as usize],
            "value at the probe step starting at {start} ms"
        );
        // Spikes: exactly those made in [start - 3, start), i.e. since the probe's previous step.
        let expected = spike_t
            .iter()
            .filter(|&&t| t < start && t >= start - PROBE_STEP_MS)
            .count();
        assert_eq!(
            now[k], expected as f64,
            "spikes received at the probe step starting at {start} ms"
        );
    }
    // Every spike made before the probe's last step start is received exactly once; none twice.
    let last_start = DURATION_MS - PROBE_STEP_MS;
    let expected_total = spike_t.iter().filter(|&&t| t < last_start).count() as f64;
    assert_eq!(now.iter().sum::<f64>(), expected_total);
    assert_eq!(total[probe_steps], expected_total);
}
