//! The body, a scripted controller and the three sensor engines in one run
//! (experiments/forelimb_senses.toml): the pull task is completed, every sensor reports, and the whole
//! multi-process run is reproducible byte for byte.

mod common;

use common::{experiment, manifest, parquet_files, run_experiment, tempdir, unique_run_id, Table};

#[test]
fn the_limb_pulls_and_every_sense_reports_reproducibly() {
    let run = || {
        let dir = tempdir();
        run_experiment(
            &experiment("forelimb_senses.toml"),
            dir.path(),
            &unique_run_id("senses"),
            &[],
        )
        .expect_code(0);
        dir
    };
    let first = run();
    let m = manifest(first.path());
    assert_eq!(m["exit_status"], "ok");
    assert_eq!(m["steps"], 1500);

    let reward = Table::read(&first.path().join("body.reward.parquet"));
    assert!(
        reward.col("value").iter().any(|&r| r > 0.0),
        "no trial rewarded in 1.5 s"
    );
    // The body writes its per-trial records into the run folder as each trial ends.
    let trials = std::fs::read_to_string(first.path().join("body.trials.jsonl"))
        .expect("body.trials.jsonl in the run folder");
    let first_trial: serde_json::Value =
        serde_json::from_str(trials.lines().next().expect("one trial record")).unwrap();
    assert_eq!(first_trial["outcome"], "success", "{first_trial}");
    let joystick = Table::read(&first.path().join("body.joystick_position_mm.parquet"));
    let pull = joystick.col("x").iter().cloned().fold(f64::MIN, f64::max);
    assert!(pull > 2.0, "the joystick was pulled only {pull} mm");
    for (file, what) in [
        ("camera.events.parquet", "camera events"),
        ("spindles.ia.parquet", "spindle Ia spikes"),
        ("spindles.ii.parquet", "spindle II spikes"),
    ] {
        let t = Table::read(&first.path().join(file));
        assert!(t.rows() > 100, "only {} {what}", t.rows());
        let times = t.col("t_ms");
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{what} out of time order"
        );
    }

    // The paw presses on the handle while the muscles work: the skin's afferents fire.
    for (file, what) in [
        ("skin.sa1.parquet", "skin SA-I spikes"),
        ("skin.ra1.parquet", "skin RA-I spikes"),
    ] {
        let t = Table::read(&first.path().join(file));
        assert!(t.rows() > 10, "only {} {what}", t.rows());
    }

    let second = run();
    let files = parquet_files(first.path());
    assert_eq!(files.len(), 9);
    for f in files {
        let name = f.file_name().unwrap();
        let a = std::fs::read(&f).unwrap();
        let b = std::fs::read(second.path().join(name)).unwrap();
        assert!(a == b, "{name:?} differs between two runs");
    }
    assert_eq!(
        trials,
        std::fs::read_to_string(second.path().join("body.trials.jsonl")).unwrap(),
        "the trial records differ between two runs"
    );
}
