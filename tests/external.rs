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

    // The variables to start it with, in a stable form: a JSON line on stdout and a file.
    let line: serde_json::Value = o
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("external_engine").is_some())
        .expect("a JSON line for the external engine");
    assert_eq!(line["external_engine"], "controller");
    assert_eq!(line["env"]["NEUROLOOP_CONNECT"], endpoint.as_str());
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("external_engines.json")).unwrap())
            .unwrap();
    assert_eq!(file["controller"], line["env"]);
    assert_eq!(file["controller"]["NEUROLOOP_RUN_ID"], id.as_str());
    let run_dir = std::path::absolute(&out).unwrap();
    assert_eq!(
        file["controller"]["NEUROLOOP_RUN_DIR"],
        run_dir.display().to_string()
    );

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

/// An external engine killed mid-run: the error names it with the pid its Hello gave, the run stops
/// at once (no wait for a Bye that cannot come), and the recordings up to then are there.
#[test]
fn an_external_engine_that_dies_is_named_with_its_pid_and_not_waited_for() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("extdie");
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
        "--realtime",
        "--set",
        "run.duration_ms=30000",
    ]);
    let mut engine = Proc::neuroloop(&[
        "engine",
        "p_controller",
        "--run-id",
        &id,
        "--name",
        "controller",
        "--connect",
        &endpoint,
    ]);
    std::thread::sleep(Duration::from_millis(2500));
    let pid = engine.pid();
    engine.kill();
    let killed = Instant::now();
    let o = coord.wait(Duration::from_secs(60));
    o.expect_code(1).expect_no_panic();
    assert!(
        killed.elapsed() < Duration::from_secs(8),
        "the run stopped {:?} after the kill",
        killed.elapsed()
    );
    assert!(
        o.stderr.contains("'controller'") && o.stderr.contains(&format!("pid {pid}")),
        "the error should name the engine and its pid {pid}:\n{}",
        o.stderr
    );
    assert_no_leftovers(&id, Duration::from_secs(3));
    assert_eq!(manifest(&out)["exit_status"], "error");
    assert!(Table::read(&out.join("plant.position.parquet")).rows() > 100);
}

/// A run that fails tells its engines so: an external engine gets `Error` ("the run failed: ...")
/// before `Shutdown`, says so on its stderr and exits non-zero, instead of taking the end for a
/// normal one.
#[test]
fn a_failed_run_tells_an_external_engine_that_it_failed() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("extfail");
    let endpoint = free_endpoint();
    let file = experiment_with(
        "tests/fault_crash.toml",
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
        "--set",
        "engines.controller.external=true",
    ]);
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
    let o = coord.wait(Duration::from_secs(60));
    o.expect_code(1).expect_stderr("'faulty'");
    let e = engine.wait(Duration::from_secs(20));
    assert_ne!(
        e.code,
        Some(0),
        "the engine took the failed run for a finished one"
    );
    assert!(
        e.stderr.contains("the run failed") && e.stderr.contains("faulty"),
        "the engine should say the run failed and why:\n{}",
        e.stderr
    );
    assert_no_leftovers(&id, Duration::from_secs(3));
}
