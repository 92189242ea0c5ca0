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

/// Reads a recording and keeps the rows of one episode.
fn episode_rows(path: &Path, episode: u32) -> neuroloop_record::read::Recording {
    neuroloop_record::read::Recording::read(path)
        .unwrap()
        .episode_only(episode)
}

#[test]
fn episode_k_after_a_reset_is_a_fresh_run_with_the_episode_seed() {
    // closed_loop.toml: a seeded Poisson source, a seeded poisson transfer, engines at 1, 2, 3 and 5 ms.
    let tmp = tempdir();
    let (reset_dir, fresh_dir) = (tmp.path().join("reset"), tmp.path().join("fresh"));
    let id = unique_run_id("lib");
    let exp = load("tests/closed_loop.toml");
    let run_seed = exp.seed;
    let mut run = Run::start(exp, options(&reset_dir, &id))
        .map_err(|f| f.error)
        .unwrap();
    // Stop in the middle of the 2, 3 and 5 ms engines' steps, then reset.
    run.advance(123).unwrap();
    assert_eq!((run.episode(), run.reset().unwrap()), (0, 1));
    assert_eq!((run.episode(), run.time_ms()), (1, 0.0));
    let x0 = scalar_or_first(run.output("plant.position").unwrap());
    assert!((x0 - 0.05).abs() < 1e-12, "t = 0 again: {x0}");
    run.advance(u64::MAX).unwrap();
    assert_eq!(run.reset().unwrap(), 2);
    run.advance(50).unwrap();
    let report = run.stop();
    assert_eq!(report.steps, 123 + 600 + 50, "every episode's steps");
    assert_no_leftovers(&id, Duration::from_secs(3));

    let seed1 = neuroloop_run::episode_seed(run_seed, 1);
    assert_ne!(seed1, run_seed);
    let id2 = unique_run_id("lib");
    let set = format!("run.seed={seed1}");
    run_experiment(
        &experiment("tests/closed_loop.toml"),
        &fresh_dir,
        &id2,
        &["--set", &set],
    )
    .expect_code(0)
    .expect_no_panic();
    let files = parquet_files(&fresh_dir);
    assert!(files.len() >= 5, "{files:?}");
    for fresh in files {
        let name = fresh.file_name().unwrap();
        let (a, b) = (
            episode_rows(&reset_dir.join(name), 1),
            episode_rows(&fresh, 0),
        );
        assert!(!b.step.is_empty(), "{name:?} is empty");
        assert_eq!(a.step, b.step, "{name:?}: steps");
        assert_eq!(a.t_ms, b.t_ms, "{name:?}: times");
        assert_eq!(a.data, b.data, "{name:?}: values");
        // Episode 0 (123 steps) and episode 2 (50 steps) are there too, marked as such.
        let all = neuroloop_record::read::Recording::read(&reset_dir.join(name)).unwrap();
        assert!(
            all.episode.contains(&0) && all.episode.contains(&2),
            "{name:?}"
        );
    }
}

#[test]
fn the_body_appends_each_episode_s_trial_records() {
    let tmp = tempdir();
    let id = unique_run_id("lib");
    let mut run = Run::start(load("forelimb_senses.toml"), options(tmp.path(), &id))
        .map_err(|f| f.error)
        .unwrap();
    run.advance(u64::MAX).unwrap();
    run.reset().unwrap();
    run.advance(u64::MAX).unwrap();
    run.stop();
    assert_no_leftovers(&id, Duration::from_secs(3));
    let text = std::fs::read_to_string(tmp.path().join("body.trials.jsonl")).unwrap();
    let episodes: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["episode"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        episodes.contains(&0) && episodes.contains(&1),
        "{episodes:?}"
    );
    assert!(episodes.windows(2).all(|w| w[0] <= w[1]), "{episodes:?}");
}

#[test]
fn a_python_engine_is_rebuilt_for_a_new_episode() {
    let tmp = tempdir();
    let id = unique_run_id("lib");
    let mut run = Run::start(load("python_controller.toml"), options(tmp.path(), &id))
        .map_err(|f| f.error)
        .unwrap();
    run.advance(300).unwrap();
    run.reset().unwrap();
    run.advance(300).unwrap();
    run.stop();
    assert_no_leftovers(&id, Duration::from_secs(3));
    // The spring and the Python P controller are deterministic: episode 1 repeats episode 0.
    let path = tmp.path().join("plant.position.parquet");
    let (a, b) = (episode_rows(&path, 0), episode_rows(&path, 1));
    assert_eq!(a.step.len(), 301, "t = 0 and 300 steps");
    assert_eq!((a.step, a.data), (b.step, b.data));
}

/// A `neuroloop control` server, killed if the test ends before it quits.
struct Server {
    child: std::process::Child,
    key: String,
    connect: String,
}

impl Server {
    fn start(id: &str) -> Server {
        use std::io::BufRead;
        let mut child = std::process::Command::new(bin())
            .args(["control", "--id", id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start neuroloop control");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let hello: serde_json::Value = serde_json::from_str(&line).expect("a JSON first line");
        Server {
            child,
            key: hello["control"].as_str().unwrap().to_string(),
            connect: hello["connect"].as_str().unwrap().to_string(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_control_server_runs_an_experiment_for_a_zenoh_client() {
    use zenoh::Wait;
    let tmp = tempdir();
    let id = unique_run_id("ctl");
    let mut server = Server::start(&id);
    assert_eq!(server.key, format!("neuroloop/control/{id}"));
    let config =
        neuroloop_transport::zenoh_config(&[], std::slice::from_ref(&server.connect), false)
            .unwrap();
    let session = zenoh::open(config).wait().unwrap();
    let ask = |req: serde_json::Value| -> serde_json::Value {
        let replies = session
            .get(&server.key)
            .payload(req.to_string())
            .timeout(Duration::from_secs(60))
            .wait()
            .unwrap();
        let reply = replies.recv().expect("a reply");
        let sample = reply.result().expect("an ok reply");
        serde_json::from_slice(&sample.payload().to_bytes()).unwrap()
    };
    let no_run = ask(serde_json::json!({ "op": "advance", "steps": 1 }));
    assert_eq!(no_run["ok"], false);
    assert!(
        no_run["error"].as_str().unwrap().contains("no run"),
        "{no_run}"
    );
    let bad = ask(serde_json::json!({ "op": "start", "file": "/nonexistent.toml" }));
    assert_eq!(bad["ok"], false, "{bad}");
    assert!(
        bad["error"].as_str().unwrap().contains("nonexistent"),
        "{bad}"
    );

    let run_id = unique_run_id("ctl-run");
    let started = ask(serde_json::json!({
        "op": "start",
        "file": experiment("tests/closed_loop.toml"),
        "output": tmp.path(),
        "run_id": run_id,
    }));
    assert_eq!(started["ok"], true, "{started}");
    assert_eq!(started["duration_ms"], 600.0);
    let outputs: Vec<&str> = started["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["port"].as_str().unwrap())
        .collect();
    assert!(outputs.contains(&"plant.position"), "{outputs:?}");

    let adv = ask(serde_json::json!({ "op": "advance", "to_ms": 250.0 }));
    assert_eq!(
        (adv["steps"].as_u64(), adv["t_ms"].as_f64()),
        (Some(250), Some(250.0))
    );
    let read =
        ask(serde_json::json!({ "op": "read", "ports": ["plant.position", "source.spikes"] }));
    let x = read["values"]["plant.position"]["values"][0]
        .as_f64()
        .unwrap();
    assert!(x.is_finite() && x != 0.05, "{read}");
    assert_eq!(read["values"]["source.spikes"]["type"], "spikes");
    let reset = ask(serde_json::json!({ "op": "reset" }));
    assert_eq!(
        (reset["episode"].as_u64(), reset["t_ms"].as_f64()),
        (Some(1), Some(0.0))
    );
    let adv = ask(serde_json::json!({ "op": "advance", "steps": 1_000_000 }));
    assert_eq!(
        (adv["steps"].as_u64(), adv["finished"].as_bool()),
        (Some(600), Some(true))
    );
    let stop = ask(serde_json::json!({ "op": "stop" }));
    assert_eq!(stop["report"]["steps"], 850, "{stop}");
    assert_eq!(manifest(tmp.path())["exit_status"], "ok");
    assert_eq!(ask(serde_json::json!({ "op": "quit" }))["ok"], true);
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_no_leftovers(&run_id, Duration::from_secs(3));
}

#[test]
fn python_drives_a_run_through_the_control_server() {
    let tmp = tempdir();
    let python = root().join(".venv/bin/python");
    assert!(python.is_file(), "run scripts/setup_python.sh first");
    let out = std::process::Command::new(&python)
        .arg(root().join("bridges/python/examples/drive_run.py"))
        .arg(experiment("tests/closed_loop.toml"))
        .arg(tmp.path().join("run"))
        .env("PYTHONPATH", root().join("bridges/python"))
        .env("NEUROLOOP_BIN", bin())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "drive_run.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["x0"], 0.05, "{seen}");
    assert_eq!(seen["taken"], serde_json::json!([7, 243]));
    assert_eq!(seen["t_ms"], 250.0);
    assert!(
        seen["at_250"]["plant.position"]["values"][0]
            .as_f64()
            .unwrap()
            != 0.05
    );
    assert!(
        seen["bad_port"].as_str().unwrap().contains("plant.nope"),
        "{seen}"
    );
    assert_eq!(
        (seen["episode"].as_u64(), seen["x0_again"].as_f64()),
        (Some(1), Some(0.05))
    );
    assert_eq!(seen["finished"], true);
    assert_eq!(seen["report"]["steps"], 850);
    assert_eq!(manifest(&tmp.path().join("run"))["exit_status"], "ok");
}
