//! Fault handling of `neuroloop run`, end to end: an engine that crashes, is killed, hangs or fails,
//! and a Ctrl-C to the coordinator. Every case must end within a bounded time with the right exit
//! code and message, leave a manifest and readable recordings, and leave no engine process behind.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// Checks the recordings of `names` in `dir` are readable, have rows, and stop near `until_ms`.
fn check_partial_recordings(dir: &Path, names: &[&str], until_ms: f64, slack_ms: f64) {
    for name in names {
        let t = Table::read(&dir.join(format!("{name}.parquet")));
        assert!(t.rows() > 0, "{name} has no rows");
        let last = *t.col("t_ms").last().unwrap();
        assert!(
            last <= until_ms + slack_ms && last >= until_ms - slack_ms,
            "{name}: last row at {last} ms, expected about {until_ms} ms"
        );
    }
}

/// Waits until the run in `out` is well under way: its first recording part file has been written
/// (the recorder flushes about once per wall-clock second of stepping).
fn wait_for_first_part(coord: &mut Proc, out: &Path) {
    let parts = out.join(".parts").join("plant.position");
    wait_until(
        Duration::from_secs(30),
        "the first recording part file",
        || {
            assert!(coord.running(), "the coordinator ended early");
            std::fs::read_dir(&parts)
                .ok()?
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
                .then_some(())
        },
    );
}

/// Starts `tests/long_realtime.toml` (60 s paced to the wall clock) into `out` with run id `id`, and
/// returns once it is stepping: both engine processes are up and the first recording part is written.
fn start_long_run(out: &Path, id: &str) -> Proc {
    let file = experiment("tests/long_realtime.toml");
    let mut coord = Proc::neuroloop(&[
        "run",
        file.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--run-id",
        id,
        "-q",
    ]);
    wait_until(Duration::from_secs(30), "the engine processes", || {
        assert!(coord.running(), "the coordinator ended early");
        (leftover_processes(id).len() == 2).then_some(())
    });
    wait_for_first_part(&mut coord, out);
    coord
}

#[test]
fn crashing_engine_stops_the_run_with_its_exit_signal_and_stderr() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("crash");
    let o = run_experiment(&experiment("tests/fault_crash.toml"), &out, &id, &[]);
    o.expect_code(1)
        .expect_no_panic()
        .expect_stderr("engine 'faulty'")
        .expect_stderr("crashed")
        .expect_stderr("SIGABRT")
        .expect_stderr("crashing on purpose");
    assert!(o.elapsed < Duration::from_secs(30), "took {:?}", o.elapsed);
    assert_no_leftovers(&id, Duration::from_secs(3));

    let m = manifest(&out);
    assert_eq!(m["exit_status"], "error");
    assert!(m["error"].as_str().unwrap_or("").contains("faulty"));
    let faulty = m["engines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "faulty")
        .expect("faulty in manifest");
    assert!(
        faulty["exit"].as_str().unwrap_or("").contains("SIGABRT"),
        "manifest engine exit: {faulty}"
    );
    // The fault engine aborts in its step starting at 200 ms: everything up to 200 ms is recorded.
    check_partial_recordings(&out, &["plant.position", "controller.force"], 200.0, 2.0);
    assert_eq!(parquet_files(&out).len(), 3);
    assert!(
        !out.join(".parts").exists(),
        "part files were left in the run folder"
    );
}

#[test]
fn engine_killed_with_sigkill_mid_run_is_reported() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("kill9");
    let mut coord = start_long_run(&out, &id);
    let plant = processes_with_env(&[("NEUROLOOP_RUN_ID", &id), ("NEUROLOOP_ENGINE", "plant")])
        .first()
        .copied()
        .expect("the plant engine process");
    assert!(coord.running(), "the coordinator ended before the kill");
    let killed_at = Instant::now();
    // SAFETY: kill(2) on the plant engine's pid, found above by its environment.
    assert_eq!(unsafe { libc::kill(plant as i32, libc::SIGKILL) }, 0);
    let o = coord.wait(Duration::from_secs(30));
    o.expect_code(1)
        .expect_no_panic()
        .expect_stderr("'plant'")
        .expect_stderr("SIGKILL");
    assert!(
        killed_at.elapsed() < Duration::from_secs(15),
        "the coordinator took {:?} to notice",
        killed_at.elapsed()
    );
    assert_no_leftovers(&id, Duration::from_secs(3));
    let m = manifest(&out);
    assert_eq!(m["exit_status"], "error");
    let reached = m["duration_ms"].as_f64().unwrap();
    assert!(
        reached > 100.0 && reached < 30_000.0,
        "reached {reached} ms"
    );
    // The wall time of the steps that ran is kept, with the real-time factor it gives.
    let wall = m["wall_s"].as_f64().unwrap();
    assert!(wall > 0.05, "wall_s {wall} for {reached} simulated ms");
    check_partial_recordings(&out, &["plant.position"], reached, 2.0);
}

#[test]
fn hanging_engine_times_out() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("hang");
    let o = run_experiment(&experiment("tests/fault_hang.toml"), &out, &id, &[]);
    o.expect_code(1)
        .expect_no_panic()
        .expect_stderr("engine 'faulty'")
        .expect_stderr("did not finish")
        .expect_stderr("hanging on purpose");
    // run.step_timeout_ms = 1000: start-up, 200 ms of simulation, 1 s of waiting, the shutdown.
    assert!(o.elapsed < Duration::from_secs(10), "took {:?}", o.elapsed);
    assert_no_leftovers(&id, Duration::from_secs(3));
    assert_eq!(manifest(&out)["exit_status"], "error");
    check_partial_recordings(&out, &["plant.position", "controller.force"], 200.0, 2.0);
}

#[test]
fn engine_error_is_reported_with_its_message() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("error");
    let o = run_experiment(&experiment("tests/fault_error.toml"), &out, &id, &[]);
    o.expect_code(1)
        .expect_no_panic()
        .expect_stderr("engine 'faulty'")
        .expect_stderr("failing on purpose");
    assert_no_leftovers(&id, Duration::from_secs(3));
    let m = manifest(&out);
    assert_eq!(m["exit_status"], "error");
    assert!(m["error"]
        .as_str()
        .unwrap_or("")
        .contains("failing on purpose"));
    check_partial_recordings(&out, &["plant.position"], 200.0, 2.0);
}

/// A panic in a model (a bug) is caught at the engine SDK's boundary and reported like an error: the
/// run stops naming the engine and the panic's message, and the recordings up to then are there.
#[test]
fn engine_panic_is_caught_and_reported() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("panic");
    let o = run_experiment(
        &experiment("tests/fault_error.toml"),
        &out,
        &id,
        &["--set", "engines.faulty.config.mode=\"panic\""],
    );
    o.expect_code(1)
        .expect_stderr("engine 'faulty'")
        .expect_stderr("the engine panicked in step at 200 ms: fault engine: panicking on purpose");
    assert_no_leftovers(&id, Duration::from_secs(3));
    assert_eq!(manifest(&out)["exit_status"], "error");
    check_partial_recordings(&out, &["plant.position"], 200.0, 2.0);
}

#[test]
fn ctrl_c_stops_the_run_cleanly() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("sigint");
    let mut coord = start_long_run(&out, &id);
    assert!(coord.running(), "the coordinator ended before Ctrl-C");
    let sent = Instant::now();
    coord.signal(libc::SIGINT);
    let o = coord.wait(Duration::from_secs(30));
    o.expect_code(130)
        .expect_no_panic()
        .expect_stderr("interrupted");
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "took {:?} to stop after Ctrl-C",
        sent.elapsed()
    );
    assert_no_leftovers(&id, Duration::from_secs(3));
    let m = manifest(&out);
    assert_eq!(m["exit_status"], "interrupted");
    let reached = m["duration_ms"].as_f64().unwrap();
    assert!(
        reached > 100.0 && reached < 30_000.0,
        "reached {reached} ms"
    );
    check_partial_recordings(&out, &["plant.position", "controller.force"], reached, 2.0);
    assert!(
        !out.join(".parts").exists(),
        "part files were left in the run folder"
    );
}

/// The coordinator itself is killed with SIGKILL (it cannot clean up): its engines die with it (the
/// kernel's parent-death signal) and the part files flushed so far stay readable Parquet.
#[test]
fn killed_coordinator_leaves_no_engines_and_readable_parts() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("coordkill");
    let mut coord = start_long_run(&out, &id);
    coord.signal(libc::SIGKILL);
    coord.wait(Duration::from_secs(10));
    assert_no_leftovers(&id, Duration::from_secs(5));
    let parts = out.join(".parts").join("plant.position");
    let mut rows = 0;
    for entry in std::fs::read_dir(&parts).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "parquet") {
            rows += read_parquet(&path)
                .iter()
                .map(|b| b.num_rows())
                .sum::<usize>();
        }
    }
    assert!(rows > 100, "only {rows} rows in the flushed parts");

    // The manifest written at the start says the run never ended; `neuroloop recover` merges the
    // parts into the usual files and records what happened.
    assert_eq!(manifest(&out)["exit_status"], "running");
    assert_eq!(manifest(&out)["seed"], 1);
    let o = run_neuroloop(&["recover", out.to_str().unwrap()], Duration::from_secs(60));
    o.expect_code(0).expect_no_panic();
    let merged = Table::read(&out.join("plant.position.parquet"));
    assert_eq!(merged.rows(), rows, "every flushed row, once");
    assert!(!out.join(".parts").exists());
    let m = manifest(&out);
    assert_eq!(m["exit_status"], "error");
    assert!(m["error"].as_str().unwrap().contains("recover"), "{m}");
    assert!(m["recordings"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("plant.position.parquet")));
    // A finished folder has nothing to recover.
    run_neuroloop(&["recover", out.to_str().unwrap()], Duration::from_secs(60))
        .expect_code(2)
        .expect_stderr("nothing to recover");
}

/// Two runs never share a run folder: a second run into a folder that a running run uses, or into one
/// that holds anything, is refused (exit 2) before it starts anything, and the first run's recordings
/// are complete.
#[test]
fn a_run_folder_in_use_or_not_empty_is_refused() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let (id1, id2) = (unique_run_id("lock1"), unique_run_id("lock2"));
    let file = experiment("tests/closed_loop.toml");
    let f = file.to_str().unwrap();
    let o = out.to_str().unwrap();
    // The first run is paced to the wall clock (600 ms): the second starts while it runs.
    let first = Proc::neuroloop(&[
        "run",
        f,
        "--output",
        o,
        "--run-id",
        &id1,
        "-q",
        "--realtime",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let second = run_neuroloop(
        &["run", f, "--output", o, "--run-id", &id2, "-q"],
        Duration::from_secs(60),
    );
    second.expect_code(2).expect_no_panic();
    assert!(
        second.stderr.contains("in use by another run") || second.stderr.contains("not empty"),
        "{}",
        second.stderr
    );
    first.wait(Duration::from_secs(60)).expect_code(0);
    assert_eq!(manifest(&out)["exit_status"], "ok");
    assert_eq!(Table::read(&out.join("plant.position.parquet")).rows(), 601);
    assert!(
        !out.join(".neuroloop.lock").exists(),
        "the lock is removed at the end"
    );
    // The finished folder is not empty: a third run into it is refused too.
    let third = run_neuroloop(
        &["run", f, "--output", o, "--run-id", &id2, "-q"],
        Duration::from_secs(60),
    );
    third.expect_code(2).expect_stderr("not empty");
    assert_no_leftovers(&id1, Duration::from_secs(3));
    assert_no_leftovers(&id2, Duration::from_secs(3));
}

/// A coordinator stopped for longer than zenoh's lease (SIGSTOP, then SIGCONT): its engines give up on
/// it and exit with the "coordinator gone" status, and the coordinator, back, says that it was
/// unreachable, not that an engine crashed.
#[test]
fn a_stalled_coordinator_is_not_blamed_on_its_engines() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("stall");
    let mut coord = start_long_run(&out, &id);
    coord.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_secs(14));
    coord.signal(libc::SIGCONT);
    let o = coord.wait(Duration::from_secs(60));
    o.expect_code(1).expect_no_panic();
    assert!(
        o.stderr.contains("lost contact with the coordinator") && !o.stderr.contains("crashed"),
        "{}",
        o.stderr
    );
    assert_no_leftovers(&id, Duration::from_secs(5));
    assert_eq!(manifest(&out)["exit_status"], "error");
}

/// An engine process stopped mid-run (SIGSTOP) sends nothing, not even zenoh's keep-alives: the
/// coordinator hears nothing from it for its lease (half the step time-out) and says that it lost its
/// connection while its process is stopped, within the step time-out, instead of that it hangs.
#[test]
fn a_stopped_engine_is_named_as_stopped_within_the_step_time_out() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("sigstop");
    let coord = start_long_run(&out, &id);
    let plant = processes_with_env(&[("NEUROLOOP_RUN_ID", &id), ("NEUROLOOP_ENGINE", "plant")])
        .first()
        .copied()
        .expect("the plant engine process");
    // SAFETY: kill(2) on the plant engine's pid, found above by its environment.
    assert_eq!(unsafe { libc::kill(plant as i32, libc::SIGSTOP) }, 0);
    let stopped = Instant::now();
    let o = coord.wait(Duration::from_secs(60));
    o.expect_code(1)
        .expect_no_panic()
        .expect_stderr("engine 'plant'")
        .expect_stderr("lost its connection to the coordinator")
        .expect_stderr("is stopped");
    assert!(!o.stderr.contains("hangs"), "{}", o.stderr);
    // run.step_timeout_ms = 10000: the plant's lease is 5 s.
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "the coordinator took {:?} to stop",
        stopped.elapsed()
    );
    assert_no_leftovers(&id, Duration::from_secs(3));
    assert_eq!(manifest(&out)["exit_status"], "error");
}
