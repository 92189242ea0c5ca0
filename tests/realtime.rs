//! Real-time pacing: `--realtime` paces simulated time to the wall clock and reports late steps.

use std::process::Command;
use std::time::Instant;

#[test]
fn realtime_run_takes_at_least_its_simulated_duration() {
    let dir = tempfile::tempdir().unwrap();
    let exp = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../experiments/demo_spring.toml"
    );
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_neuroloop"))
        .args([
            "run",
            exp,
            "--realtime",
            "--set",
            "run.duration_ms=500",
            "--output",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("paced to the wall clock"), "{stdout}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["realtime"], true);
    assert!(m["late_steps"].is_u64());
    // The stepping loop cannot be faster than the wall clock: 500 ms simulated take >= 0.5 s
    // (the last step starts at 499 ms); the real-time factor is therefore at most ~1.
    let loop_s = m["wall_s"].as_f64().unwrap();
    assert!(loop_s >= 0.499, "stepping took {loop_s} s for 500 ms");
    assert!(wall >= 0.499);
    let rtf = m["realtime_factor"].as_f64().unwrap();
    assert!(rtf <= 1.01, "real-time factor {rtf}");
}
