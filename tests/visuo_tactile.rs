//! Visuo-tactile-proprioceptive integration through population codes (issue 11, part 4): the three
//! files of `experiments/visuo_tactile_*.toml` run in full (20 s each: body, controller, camera,
//! skin, spindles and brain, each its own process) and are checked by `neuroloop check`: the combined
//! estimate at least 15 % below the best single sense; with proprioception's code at a quarter of its
//! rate, proprioception's measured weight within 0.1 of the inverse-variance prediction; with the
//! camera behind a plate, the estimate within 10 % of touch and proprioception's. Across the files:
//! proprioception's weight falls, measured and predicted. Other seeds: `scripts/experiments.sh`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{experiment, run_neuroloop, tempdir, unique_run_id};

/// Runs `file` and checks its expectations; returns the folder (kept alive) and `check`'s output.
fn run_and_check(file: &'static str) -> (tempfile::TempDir, String) {
    let dir = tempdir();
    let run: PathBuf = dir.path().join("run");
    let path = experiment(file);
    let id = unique_run_id("visuo-tactile");
    run_neuroloop(
        &[
            "run",
            path.to_str().unwrap(),
            "--output",
            run.to_str().unwrap(),
            "--run-id",
            &id,
            "-q",
        ],
        Duration::from_secs(600),
    )
    .expect_code(0)
    .expect_no_panic();
    let out = run_neuroloop(&["check", run.to_str().unwrap()], Duration::from_secs(60));
    assert_eq!(out.code, Some(0), "{file}: {}\n{}", out.stdout, out.stderr);
    (dir, out.stdout)
}

/// The value `check` printed for the expectation named `name`.
fn value(check: &str, name: &str) -> f64 {
    let line = check
        .lines()
        .find(|l| l.contains(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no line for {name:?} in\n{check}"));
    let rest = &line[line.find(&format!("{name}: ")).unwrap() + name.len() + 2..];
    rest.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number in {line:?}"))
}

#[test]
fn three_senses_beat_the_best_one_noise_lowers_a_weight_occlusion_falls_back() {
    let noise = std::thread::spawn(|| run_and_check("visuo_tactile_noise.toml"));
    let occluded = std::thread::spawn(|| run_and_check("visuo_tactile_occluded.toml"));
    let (_d, base) = run_and_check("visuo_tactile_integration.toml");
    let (_n, noise) = noise.join().expect("the noise run");
    let (_o, occluded) = occluded.join().expect("the occluded run");
    println!("{base}\n{noise}\n{occluded}");

    let combined = value(&base, "combined: RMS error, mm");
    for sense in ["vision", "proprioception", "touch"] {
        let alone = value(&base, &format!("{sense} alone: RMS error, mm"));
        assert!(
            combined <= 0.85 * alone,
            "combined {combined:.3} mm, {sense} alone {alone:.3} mm"
        );
    }
    // Noise on proprioception: its weight falls, measured and predicted, by about the same.
    let weight = |check: &str, how: &str| value(check, &format!("proprioception's weight, {how}"));
    let (m0, p0) = (
        weight(&base, "measured"),
        weight(&base, "predicted (inverse variance)"),
    );
    let (m1, p1) = (
        weight(&noise, "measured"),
        weight(&noise, "predicted (inverse variance)"),
    );
    assert!(
        m1 < m0 && p1 < p0,
        "measured {m0:.3} -> {m1:.3}, predicted {p0:.3} -> {p1:.3}"
    );
    assert!(
        (m1 - p1).abs() <= 0.1,
        "noisy: measured {m1:.3}, predicted {p1:.3}"
    );
    // Occluded: the camera gives (almost) no votes, the estimate is touch and proprioception's.
    let m = value(&occluded, "combined (M): RMS error, mm");
    let s = value(&occluded, "touch + proprioception (S): RMS error, mm");
    assert!(
        (m / s - 1.0).abs() <= 0.1,
        "occluded: M {m:.3} mm, S {s:.3} mm"
    );
}

/// The noise and occlusion variants are the integration experiment with one switch: the same engines,
/// links, decoders and recordings, the proprioceptive code's rate or the camera's scene aside.
#[test]
fn the_variants_differ_from_the_integration_experiment_only_in_their_switch() {
    let read = |f: &str| -> toml::Table {
        let text = std::fs::read_to_string(experiment(f)).expect("experiment file");
        let mut t: toml::Table = toml::from_str(&text).expect("TOML");
        t.remove("expect");
        t
    };
    let base = read("visuo_tactile_integration.toml");
    let proprio_rate = |t: &toml::Table| t["links"][8]["transfer"][1]["max_hz"].as_float();
    assert_eq!(base["links"][8]["to"].as_str(), Some("brain.proprio"));
    assert_eq!(proprio_rate(&base), Some(11.0));

    let mut noise = read("visuo_tactile_noise.toml");
    assert_eq!(
        proprio_rate(&noise),
        Some(11.0 / 4.0),
        "a quarter of the rate"
    );
    noise["links"].as_array_mut().unwrap()[8]["transfer"]
        .as_array_mut()
        .unwrap()[1]
        .as_table_mut()
        .unwrap()
        .insert("max_hz".into(), toml::Value::Float(11.0));
    assert_eq!(
        noise, base,
        "visuo_tactile_noise.toml differs in more than the rate"
    );

    let mut occluded = read("visuo_tactile_occluded.toml");
    let camera = occluded["engines"]["camera"]["config"]
        .as_table_mut()
        .unwrap();
    let scene = camera.remove("scene").expect("the occluder's scene");
    assert_eq!(scene["objects"][0]["name"].as_str(), Some("occluder"));
    assert_eq!(
        occluded, base,
        "visuo_tactile_occluded.toml differs in more than the plate"
    );
}
