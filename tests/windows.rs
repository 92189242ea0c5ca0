//! Lookahead windows (issue 12, part 2), end to end: with every link at least 4 ms late, the engines
//! exchange with the coordinator every 4 ms and take their steps locally (Rust and Python SDKs, periods
//! 1, 2 and 4 ms, a seeded transfer on a link, a short last window); the recordings are byte for byte
//! those of an exchange at every step with the same delays (`--set run.window_ms=1`).

mod common;

use std::time::Duration;

use common::*;

const FILE: &str = "tests/windows.toml";

#[test]
fn windows_record_byte_for_byte_what_an_exchange_at_every_step_records() {
    let tmp = tempdir();
    let mut runs = Vec::new();
    for (tag, extra) in [
        ("window", &[][..]),
        ("step", &["--set", "run.window_ms=1.0"][..]),
    ] {
        let out = tmp.path().join(tag);
        let id = unique_run_id(tag);
        let o = run_experiment(&experiment(FILE), &out, &id, extra);
        o.expect_code(0).expect_no_panic();
        assert_no_leftovers(&id, Duration::from_secs(3));
        runs.push(out);
    }
    let (window, step) = (&runs[0], &runs[1]);
    // The engines exchanged a quarter as often: the 1 ms source took 101 exchanges for 403 steps.
    let exchanges = |m: &serde_json::Value, name: &str| {
        m["engines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap()["steps"]
            .as_u64()
            .unwrap()
    };
    let (mw, ms) = (manifest(window), manifest(step));
    assert_eq!(mw["exchange_window_ms"], 4.0);
    assert_eq!(ms["exchange_window_ms"], 1.0);
    assert_eq!(
        (exchanges(&mw, "source"), exchanges(&ms, "source")),
        (101, 403)
    );
    assert_eq!(exchanges(&mw, "controller"), 101);

    let files = parquet_files(window);
    assert_eq!(files.len(), 8, "{files:?}");
    for f in files {
        let name = f.file_name().unwrap();
        let a = std::fs::read(&f).unwrap();
        let b = std::fs::read(step.join(name)).unwrap();
        assert!(
            a == b,
            "{} differs between the window and step runs",
            f.display()
        );
    }
    // And the delays matter: the same file with one-step delays records other positions.
    let out = tmp.path().join("prompt");
    let id = unique_run_id("prompt");
    let sets: Vec<String> = (0..7).map(|i| format!("links[{i}].delay_ms=1.0")).collect();
    let mut extra = Vec::new();
    for s in &sets {
        extra.extend(["--set", s.as_str()]);
    }
    run_experiment(&experiment(FILE), &out, &id, &extra)
        .expect_code(0)
        .expect_no_panic();
    let name = "plant.position.parquet";
    assert_ne!(
        std::fs::read(out.join(name)).unwrap(),
        std::fs::read(window.join(name)).unwrap()
    );
}
