//! External engines: an engine marked `external = true` is started by hand with `neuroloop engine`,
//! possibly late; the run waits for it up to `run.join_timeout_ms` and fails clearly if it never comes.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn external_engine_joining_late_completes_the_run() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("ext");
    let endpoint = free_endpoint();
    let file = experiment_with(
        "tests/external_controller.toml",
        tmp.path(),
        &format!("[zenoh]\nlisten = \"{endpoint}\""),
    );
    let coord = Proc::neuroloop(&[
        "run",
        file.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--run-id",
        &id,
        "-q",
    ]);
    // Join late: the coordinator and its built-in plant are up and waiting by now.
    std::thread::sleep(Duration::from_millis(1500));
    let mut coord = coord;
    assert!(
        coord.running(),
        "the coordinator did not wait for the external engine"
    );
    let engine = Proc::neuroloop(&[
        "engine",
        "p_controller",
        "--run-id",
        &id,
        "--name",
        "controller",
        "--connect",
        &endpoint,
    ]);
    let o = coord.wait(Duration::from_secs(120));
    o.expect_code(0).expect_no_panic();
    assert!(
        o.stderr.contains("waiting up to") && o.stderr.contains("'controller'"),
        "the coordinator should say it waits for the external engine:\n{}",
        o.stderr
    );
    // The external engine follows the coordinator's Shutdown and exits on its own.
    let e = engine.wait(Duration::from_secs(20));
    e.expect_code(0).expect_no_panic();
    assert_no_leftovers(&id, Duration::from_secs(3));

    let m = manifest(&out);
    assert_eq!(m["exit_status"], "ok");
    let force = Table::read(&out.join("controller.force.parquet"));
    assert_eq!(force.rows(), 500 / 2 + 1);
    let pos = Table::read(&out.join("plant.position.parquet"));
    assert_eq!(pos.rows(), 500 + 1);
    // The loop is closed: the controller pushed the mass towards its target.
    assert!(*pos.col("x").last().unwrap() < 0.05);
}

#[test]
fn external_engine_that_never_joins_fails_the_run() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("noext");
    let started = Instant::now();
    let o = run_experiment(&experiment("tests/external_never.toml"), &out, &id, &[]);
    o.expect_code(1)
        .expect_no_panic()
        .expect_stderr("did not join")
        .expect_stderr("'controller'");
    // run.join_timeout_ms = 1500.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_no_leftovers(&id, Duration::from_secs(3));
    assert_eq!(manifest(&out)["exit_status"], "error");
}
