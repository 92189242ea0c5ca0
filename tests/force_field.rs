//! Force-field adaptation through the spiking brain (issue 11, part 3), shortened for CI: the blocks of
//! `experiments/force_field_adaptation.toml` cut to 10 baseline, 40 force-field and 10 washout trials
//! (brain, body, skin and proprioception, each its own process). With touch and spindle feedback the
//! lateral displacement at the 1 mm bin shrinks over the force field and comes back with the opposite
//! sign in washout; with S1 silenced during the force field (`force_field_silenced.toml`, its laser
//! moved to the shortened block) it does not shrink. The full sessions and the late-silencing variant
//! are in `scripts/experiments.sh`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{experiment, run_neuroloop, tempdir, unique_run_id};

const BASELINE: usize = 10;
const FORCE_FIELD: usize = 40;
const WASHOUT: usize = 10;

/// Runs `file` with the shortened blocks and extra `--set`s; returns the temporary folder (kept alive
/// by the caller) and the run folder in it.
fn session(file: &str, sets: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempdir();
    let run = dir.path().join("run");
    let path = experiment(file);
    let id = unique_run_id("force-field");
    let blocks = [
        format!("engines.body.config.task.baseline_trials={BASELINE}"),
        format!("engines.body.config.task.force_field_trials={FORCE_FIELD}"),
        format!("engines.body.config.task.washout_trials={WASHOUT}"),
        // ~1.5 s per trial, and some slack.
        format!(
            "run.duration_ms={}.0",
            (BASELINE + FORCE_FIELD + WASHOUT) * 1550
        ),
    ];
    let mut args = vec![
        "run",
        path.to_str().unwrap(),
        "--output",
        run.to_str().unwrap(),
        "--run-id",
        &id,
        "-q",
    ];
    for s in blocks
        .iter()
        .map(String::as_str)
        .chain(sets.iter().copied())
    {
        args.extend_from_slice(&["--set", s]);
    }
    run_neuroloop(&args, Duration::from_secs(600))
        .expect_code(0)
        .expect_no_panic();
    (dir, run)
}

/// Per trial, the lateral displacement (mm) when the pull first reached 1 mm past the start line (the
/// task's bin 1; None where it was never reached).
fn lateral_at_1mm(run: &Path) -> Vec<Option<f64>> {
    let text = std::fs::read_to_string(run.join("body.trials.jsonl")).expect("trials file");
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .map(|t| t["lateral_at_bins_mm"][1].as_f64())
        .collect()
}

/// Mean over the trials `range` (0-based) that reached the bin.
fn mean(v: &[Option<f64>], range: std::ops::Range<usize>) -> f64 {
    let xs: Vec<f64> = v[range].iter().flatten().copied().collect();
    assert!(xs.len() >= 5, "only {} trials reached the bin", xs.len());
    xs.iter().sum::<f64>() / xs.len() as f64
}

#[test]
fn feedback_adapts_to_the_force_field_and_silencing_s1_prevents_it() {
    let ff = BASELINE..BASELINE + FORCE_FIELD;
    let (early, late) = (ff.start..ff.start + 10, ff.end - 10..ff.end);
    let washout = ff.end..ff.end + WASHOUT;
    let laser_from = format!("links[7].transfer[0].min={}", ff.start);
    let laser_to = format!("links[7].transfer[0].max={}", ff.end - 1);
    let silenced = std::thread::spawn(move || {
        let (dir, run) = session(
            "force_field_silenced.toml",
            &[laser_from.as_str(), laser_to.as_str()],
        );
        (dir, lateral_at_1mm(&run))
    });
    let (_dir, run) = session("force_field_adaptation.toml", &[]);
    let fb = lateral_at_1mm(&run);
    assert_eq!(fb.len(), BASELINE + FORCE_FIELD + WASHOUT, "trials run");

    let (b, e, l, w) = (
        mean(&fb, 0..BASELINE),
        mean(&fb, early.clone()),
        mean(&fb, late.clone()),
        mean(&fb, washout.clone()),
    );
    // The force pushes to -y: the first force-field trials are displaced by more than 0.2 mm.
    assert!(
        e - b < -0.2,
        "baseline {b:.3} mm, early force field {e:.3} mm"
    );
    assert!(
        l.abs() <= 0.7 * e.abs(),
        "with feedback: early {e:.3} mm, late {l:.3} mm"
    );
    assert!(w * e < 0.0, "after-effect {w:.3} mm, early {e:.3} mm");

    let (_sdir, si) = silenced.join().expect("the silenced session");
    let (se, sl) = (mean(&si, early), mean(&si, late));
    assert!(
        sl.abs() >= 0.9 * se.abs(),
        "silenced: early {se:.3} mm, late {sl:.3} mm"
    );
}

/// The two silenced variants are the feedback experiment with the laser on: the same engines, links and
/// recordings, the laser link's range and rate aside, so that the three conditions stay comparable.
#[test]
fn the_silenced_variants_differ_from_the_feedback_experiment_only_in_the_laser() {
    let read = |f: &str| -> toml::Table {
        let text = std::fs::read_to_string(experiment(f)).expect("experiment file");
        toml::from_str(&text).expect("TOML")
    };
    let strip = |mut t: toml::Table| -> (toml::Table, toml::Value) {
        t.remove("expect");
        let links = t.get_mut("links").and_then(|l| l.as_array_mut()).unwrap();
        let laser = links.pop().expect("the laser link");
        (t, laser)
    };
    let (base, laser) = strip(read("force_field_adaptation.toml"));
    assert_eq!(laser["to"].as_str(), Some("brain.laser"));
    assert_eq!(
        laser["transfer"][1]["scale_hz"].as_float(),
        Some(0.0),
        "off"
    );
    for (file, from_trial) in [
        ("force_field_silenced.toml", 75),
        ("force_field_silenced_late.toml", 125),
    ] {
        let (t, l) = strip(read(file));
        assert_eq!(
            t, base,
            "{file}: only the laser link and the checks may differ"
        );
        assert_eq!(l["from"], laser["from"], "{file}");
        assert_eq!(
            l["transfer"][0]["min"].as_integer(),
            Some(from_trial),
            "{file}"
        );
        assert_eq!(l["transfer"][0]["max"].as_integer(), Some(174), "{file}");
        assert!(
            l["transfer"][1]["scale_hz"].as_float() > Some(0.0),
            "{file}: on"
        );
    }
}
