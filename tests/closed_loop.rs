//! The closed loop through the spiking brain (issue 11, part 2), shortened for CI: the first 40 s of
//! `experiments/joystick_reward_learning.toml` (brain and body, each its own process). The brain's motor
//! spikes reach the muscles through `group_rate -> linear`, the task's 'go' state reaches the brain
//! through `select -> gaussian -> poisson`, trials start, and the naive brain succeeds in fewer than
//! 20 % of them (the experiment's first expectation). The learning itself (250 trials, 5 seeds) is in
//! `scripts/experiments.sh`.

mod common;

use std::time::Duration;

use common::{experiment, run_neuroloop, tempdir, unique_run_id, Table};

#[test]
fn brain_spikes_move_the_arm_and_the_naive_brain_rarely_succeeds() {
    let dir = tempdir();
    let run = dir.path().join("run");
    let file = experiment("joystick_reward_learning.toml");
    let id = unique_run_id("closed-loop");
    let out = run_neuroloop(
        &[
            "run",
            file.to_str().unwrap(),
            "--output",
            run.to_str().unwrap(),
            "--run-id",
            &id,
            "-q",
            "--set",
            "run.duration_ms=40000.0",
        ],
        Duration::from_secs(400),
    );
    out.expect_code(0).expect_no_panic();

    // Spikes reached the muscles: the delivered excitations (recorded on the body's input port).
    let exc = Table::read(&run.join("body.excitations.parquet"));
    assert!(exc.rows() > 39_000, "{} rows", exc.rows());
    let max_exc = exc
        .names
        .iter()
        .filter(|n| !matches!(n.as_str(), "step" | "t_ms"))
        .flat_map(|n| exc.col(n).iter().copied())
        .fold(0.0_f64, f64::max);
    assert!(max_exc > 0.3, "largest excitation {max_exc}");

    // Trials started, and few succeeded.
    let text = std::fs::read_to_string(run.join("body.trials.jsonl")).expect("trials file");
    let trials: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(trials.len() >= 15, "{} trials in 40 s", trials.len());
    let successes = trials
        .iter()
        .filter(|t| t["outcome"] == serde_json::json!("success"))
        .count();
    let rate = successes as f64 / trials.len() as f64;
    assert!(
        rate < 0.2,
        "naive success {successes}/{} = {rate}",
        trials.len()
    );
}
