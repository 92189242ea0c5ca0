//! Real-time pacing: `--realtime` paces simulated time to the wall clock and reports late steps.

mod common;

use common::{experiment, manifest, run_experiment, tempdir, unique_run_id};

#[test]
fn realtime_run_takes_at_least_its_simulated_duration() {
    let dir = tempdir();
    let out = run_experiment(
        &experiment("demo_spring.toml"),
        dir.path(),
        &unique_run_id("realtime"),
        &["--realtime", "--set", "run.duration_ms=500"],
    );
    out.expect_code(0);
    assert!(out.elapsed.as_secs_f64() >= 0.499);
    let m = manifest(dir.path());
    assert_eq!(m["realtime"], true);
    assert!(m["late_steps"].is_u64());
    // The stepping loop cannot be faster than the wall clock: 500 ms simulated take >= 0.5 s
    // (the last step starts at 499 ms), so the real-time factor is at most ~1.
    let loop_s = m["wall_s"].as_f64().unwrap();
    assert!(loop_s >= 0.499, "stepping took {loop_s} s for 500 ms");
    let rtf = m["realtime_factor"].as_f64().unwrap();
    assert!(rtf <= 1.01, "real-time factor {rtf}");
}
