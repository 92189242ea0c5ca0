//! The closed loop through the spiking brain (issue 11, part 2), shortened for CI: the first 40 s of
//! `experiments/joystick_reward_learning.toml` (brain and body, each its own process). The brain's motor
//! spikes reach the muscles through `group_rate -> linear`, the task's 'go' state reaches the brain
//! through `select -> gaussian -> poisson`, trials start, and the naive brain succeeds in fewer than
//! 20 % of them (the experiment's first expectation). Then 165 s of one seed, with and without
//! dopamine: the reward teaches the pull within 100 trials, and nothing is learnt without it. The full
//! sessions (250 trials, 5 seeds, reload with plasticity off) are in `scripts/experiments.sh`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{experiment, run_neuroloop, tempdir, unique_run_id, Table};

/// Runs the reward-learning experiment for `ms` simulated ms with extra `--set`s; returns the temporary
/// folder (kept alive by the caller) and the run folder in it.
fn session(ms: f64, sets: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempdir();
    let run = dir.path().join("run");
    let file = experiment("joystick_reward_learning.toml");
    let id = unique_run_id("closed-loop");
    let duration = format!("run.duration_ms={ms:.1}");
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--output",
        run.to_str().unwrap(),
        "--run-id",
        &id,
        "-q",
        "--set",
        &duration,
    ];
    for s in sets {
        args.extend_from_slice(&["--set", s]);
    }
    run_neuroloop(&args, Duration::from_secs(600))
        .expect_code(0)
        .expect_no_panic();
    (dir, run)
}

/// The trial outcomes of a run folder in order (true = success).
fn outcomes_of(run: &Path) -> Vec<bool> {
    let text = std::fs::read_to_string(run.join("body.trials.jsonl")).expect("trials file");
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .map(|t| t["outcome"] == serde_json::json!("success"))
        .collect()
}

/// The outcomes of `ms` simulated ms of the experiment with `seed` and extra `--set`s.
fn outcomes(seed: u64, ms: f64, extra: &[&str]) -> Vec<bool> {
    let seed = format!("run.seed={seed}");
    let sets: Vec<&str> = std::iter::once(seed.as_str())
        .chain(extra.iter().copied())
        .collect();
    outcomes_of(&session(ms, &sets).1)
}

fn rate(v: &[bool]) -> f64 {
    v.iter().filter(|x| **x).count() as f64 / v.len().max(1) as f64
}

#[test]
fn brain_spikes_move_the_arm_and_the_naive_brain_rarely_succeeds() {
    let (_dir, run) = session(40_000.0, &[]);

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
    let trials = outcomes_of(&run);
    assert!(trials.len() >= 15, "{} trials in 40 s", trials.len());
    let r = rate(&trials);
    assert!(r < 0.2, "naive success {r} of {} trials", trials.len());
}

/// The learning itself, shortened: seed 4 (in the full run: 4, 4, 52, 72 % in its first four blocks of
/// 25 trials) learns within 100 trials from the reward alone, and the same brain without dopamine (the
/// reward link's gain 0) does not.
#[test]
fn the_reward_teaches_the_pull_within_100_trials_and_nothing_is_learnt_without_it() {
    let learnt = outcomes(4, 165_000.0, &[]);
    assert!(learnt.len() >= 100, "{} trials", learnt.len());
    let (first, late) = (rate(&learnt[..30]), rate(&learnt[75..100]));
    assert!(first < 0.2, "first 30 trials {first}");
    assert!(late >= 0.5, "trials 76-100 {late} (first 30 {first})");

    // Failed trials last longer (the full movement window): 100 of them need more time.
    let control = outcomes(
        4,
        180_000.0,
        &[r#"links[2].transfer={ kind = "linear", gain = 0.0 }"#],
    );
    assert!(control.len() >= 100, "{} trials", control.len());
    let c = rate(&control[..100]);
    assert!(c < 0.2, "control, trials 1-100: {c}");
}
