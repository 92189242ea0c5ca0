//! What the tests that compare with NEST 3.10 share: running a script of `bridges/nest/` with the
//! Python of `.venv` (installed by `scripts/setup_nest.sh`), and NEST's time grid.
//!
//! A plain `cargo test` lists these tests as ignored, with what they need (`#[ignore = "compares with
//! NEST 3.10: ..."]`); `scripts/test.sh`, the README's test command, installs NEST and runs them with
//! `--include-ignored`. Run without NEST they never pass silently: a missing `.venv` or a failing
//! script fails the test with the command to run.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The simulation resolution of the single-neuron and plasticity comparisons, ms.
pub const H: f64 = 0.1;
/// NEST tics (0.001 ms) per step of [`H`].
pub const H_TICS: u64 = 100;

/// Grid time of step `k` in ms, as a user would type it (k h, correctly rounded).
pub fn t_ms(k: u64) -> f64 {
    (k * H_TICS) as f64 / 1000.0
}

/// Steps of [`H`] in `ms`, rounded to the nearest.
pub fn steps(ms: f64) -> i64 {
    (ms / H).round() as i64
}

/// Runs `bridges/nest/<script>` with `args`, writing `stdin` (JSON) to it when given; fails the test
/// with the script's stderr unless it succeeds.
pub fn run_bridge(script: &str, args: &[String], stdin: Option<&Value>) -> Output {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} not found: run scripts/setup_nest.sh to install NEST 3.10 into .venv (these tests compare with NEST)",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(root.join("bridges/nest").join(script))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e}; run scripts/setup_nest.sh",
                python.display()
            )
        });
    if let Some(request) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(request.to_string().as_bytes())
            .expect("the NEST bridge reads its request");
    }
    let out = child.wait_with_output().expect("the NEST bridge ends");
    assert!(
        out.status.success(),
        "NEST bridge {script} failed ({}); if NEST is missing, run scripts/setup_nest.sh\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The command line of the network bridges (`brunel.py`, `microcircuit.py`).
pub fn network_args(scale: f64, threads: usize, sim_ms: f64, seed: u64) -> Vec<String> {
    [
        ("--scale", scale.to_string()),
        ("--threads", threads.to_string()),
        ("--sim-ms", sim_ms.to_string()),
        ("--seed", seed.to_string()),
    ]
    .into_iter()
    .flat_map(|(k, v)| [k.to_string(), v])
    .collect()
}

/// Sends `request` to a scenario bridge (`single_neuron.py`, `stdp.py`), which answers
/// `{"nest_version": .., "scenarios": [..]}`; checks NEST is 3.10 and that there is one result per
/// scenario. Returns NEST's version and the results.
pub fn run_scenarios(script: &str, request: &Value, n: usize) -> (String, Vec<Value>) {
    let out = run_bridge(script, &[], Some(request));
    let resp: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON from the NEST bridge: {e}\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let version = resp["nest_version"].as_str().unwrap_or("?").to_string();
    assert!(
        version.starts_with("3.10"),
        "NEST {version} (expected 3.10.x)"
    );
    let scenarios = resp["scenarios"]
        .as_array()
        .unwrap_or_else(|| panic!("no scenarios in the bridge's answer: {resp}"))
        .clone();
    assert_eq!(scenarios.len(), n);
    (version, scenarios)
}
