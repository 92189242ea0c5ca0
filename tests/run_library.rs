//! The run library (`neuroloop_run`, issue 12 part 1) driven from Rust as a notebook or a Gymnasium
//! environment would drive it: start a run, advance it in pieces of any size or to a time, read the
//! latest port values between pieces, and stop it. A run advanced in pieces records exactly (byte for
//! byte) what the same run recorded by `neuroloop run` in one go; a failed run says which engine
//! failed, refuses to go on, and still leaves its manifest; no process is left behind.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use neuroloop_core::payload::Payload;
use neuroloop_run::{Run, RunError, RunOptions};

fn load(rel: &str) -> neuroloop_core::experiment::Experiment {
    neuroloop_core::experiment::load(&experiment(rel), &[], &neuroloop::catalog::Builtins)
        .expect("a valid experiment")
}

fn options(dir: &Path, run_id: &str) -> RunOptions {
    RunOptions {
        run_dir: Some(dir.to_path_buf()),
        run_id: Some(run_id.to_string()),
        engine_exe: Some(PathBuf::from(bin())),
        ..Default::default()
    }
}

fn recordings(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    parquet_files(dir)
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

fn scalar_or_first(p: &Payload) -> f64 {
    match p {
        Payload::Scalar(x) => *x,
        Payload::Analog(v) => v[0],
        other => panic!("not a value: {other:?}"),
    }
}

#[test]
fn a_run_advanced_in_pieces_records_what_one_cli_run_records() {
    let tmp = tempdir();
    let (pieces, whole) = (tmp.path().join("pieces"), tmp.path().join("whole"));
    let id = unique_run_id("lib");
    let exp = load("tests/closed_loop.toml");
    let end_ms = exp.duration.to_ms(exp.base_step_ms);
    let mut run = Run::start(exp, options(&pieces, &id))
        .map_err(|f| f.error)
        .unwrap();
    assert_eq!((run.steps(), run.time_ms()), (0, 0.0));
    let x0 = scalar_or_first(run.output("plant.position").unwrap());
    assert!((x0 - 0.05).abs() < 1e-12, "initial position {x0}");

    assert_eq!(run.advance(1).unwrap(), 1);
    assert_eq!(run.advance(7).unwrap(), 7);
    assert_eq!(run.advance_to(250.0).unwrap(), 242);
    assert_eq!(run.time_ms(), 250.0);
    let x = scalar_or_first(run.output("plant.position").unwrap());
    assert!(x.is_finite() && x != x0, "position at 250 ms: {x}");
    // The controller (2 ms steps) has finished its step ending at 250 ms too.
    let f = scalar_or_first(run.output("controller.force").unwrap());
    assert!(f.is_finite(), "{f}");
    // The rest, in pieces of 97 steps, then past the end.
    while !run.finished() {
        run.advance(97).unwrap();
    }
    assert_eq!(run.time_ms(), end_ms);
    assert_eq!(run.advance(10).unwrap(), 0, "nothing past the end");
    let report = run.stop();
    assert_eq!(report.sim_ms, end_ms);
    assert_no_leftovers(&id, Duration::from_secs(3));
    assert_eq!(manifest(&pieces)["exit_status"], "ok");

    let id2 = unique_run_id("lib");
    run_experiment(&experiment("tests/closed_loop.toml"), &whole, &id2, &[])
        .expect_code(0)
        .expect_no_panic();
    let (a, b) = (recordings(&pieces), recordings(&whole));
    assert!(a.len() >= 5, "{:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            b[name] == *bytes,
            "{name} differs between the library run and the CLI run"
        );
    }
}

#[test]
fn ports_are_read_by_name_and_wrong_names_are_explained() {
    let tmp = tempdir();
    let id = unique_run_id("lib");
    let mut run = Run::start(load("tests/closed_loop.toml"), options(tmp.path(), &id))
        .map_err(|f| f.error)
        .unwrap();
    run.advance(20).unwrap();
    match run.output("source.spikes").unwrap() {
        Payload::Spikes(b) => assert!(b.time_ms.iter().all(|t| (19.0..20.0).contains(t)), "{b:?}"),
        other => panic!("{other:?}"),
    }
    for (name, says) in [
        ("plant.nope", "\"position\""),
        ("nobody.position", "no engine \"nobody\""),
        ("position", "engine.port"),
        ("controller.position", "output ports"),
    ] {
        let e = run.output(name).unwrap_err();
        assert!(matches!(e, RunError::NoSuchPort(_)), "{name}: {e:?}");
        assert!(e.to_string().contains(says), "{name}: {e}");
    }
    run.stop();
    assert_no_leftovers(&id, Duration::from_secs(3));
}

#[test]
fn a_failed_run_names_the_engine_refuses_to_go_on_and_keeps_its_manifest() {
    let tmp = tempdir();
    let id = unique_run_id("lib");
    let mut run = Run::start(load("tests/fault_crash.toml"), options(tmp.path(), &id))
        .map_err(|f| f.error)
        .unwrap();
    let e = run.advance(u64::MAX).unwrap_err();
    assert!(
        matches!(&e, RunError::Engine { engine, .. } if engine == "faulty"),
        "{e:?}"
    );
    let again = run.advance(1).unwrap_err();
    assert!(matches!(again, RunError::Stopped(_)), "{again:?}");
    let at = run.time_ms();
    assert!((199.0..=201.0).contains(&at), "stopped at {at} ms");
    let report = run.stop();
    assert_eq!(report.sim_ms, at);
    let m = manifest(tmp.path());
    assert_eq!(m["exit_status"], "error");
    assert!(m["error"].as_str().unwrap().contains("faulty"), "{m}");
    assert_no_leftovers(&id, Duration::from_secs(3));
}
