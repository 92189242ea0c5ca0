//! The manifest: JSON round trip, atomic write, field names.

use std::collections::BTreeMap;

use neuroloop_record::{EngineTiming, ExitStatus, Manifest, MANIFEST_FILE};

fn sample() -> Manifest {
    Manifest {
        experiment_file: "experiments/reach.toml".into(),
        experiment_text: "[run]\nduration_ms = 1000\n".into(),
        overrides: vec!["run.seed=7".into()],
        seed: 7,
        run_id: "20240229-120000-reach".into(),
        git_commit: Some("0123abcd".into()),
        versions: BTreeMap::from([
            ("neuroloop".into(), "0.1.0".into()),
            ("parquet".into(), "60.1.0".into()),
        ]),
        host: "lab-pc".into(),
        started_utc: "2024-02-29T12:00:00Z".into(),
        ended_utc: "2024-02-29T12:00:02.500Z".into(),
        exit_status: ExitStatus::Interrupted,
        error: None,
        duration_ms: 1000.0,
        steps: 10_000,
        wall_s: 2.5,
        realtime_factor: 0.4,
        engines: vec![EngineTiming {
            name: "arm".into(),
            kind: "python".into(),
            period_steps: 10,
            steps: 1000,
            compute_s: 1.25,
            compute_p50_us: 1100.0,
            compute_p99_us: 2400.5,
            exit: Some("signal 15".into()),
        }],
        coupling_overhead_p50_us: 35.0,
        coupling_overhead_p99_us: 120.0,
        coupling_s: 0.04,
        exchange_window_ms: 5.0,
        realtime: true,
        late_steps: 3,
        recordings: vec!["arm.angles.parquet".into()],
    }
}

#[test]
fn round_trip_through_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = sample();
    let path = m.write(dir.path()).unwrap();
    assert_eq!(path, dir.path().join(MANIFEST_FILE));
    assert_eq!(Manifest::read(dir.path()).unwrap(), m);
    // Only the manifest is left: the temporary file was renamed.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [MANIFEST_FILE]);

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with("}\n"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["exit_status"], "interrupted");
    assert_eq!(v["error"], serde_json::Value::Null);
    assert_eq!(v["engines"][0]["compute_p99_us"], 2400.5);
    assert_eq!(v["versions"]["parquet"], "60.1.0");
    for key in [
        "experiment_file",
        "experiment_text",
        "overrides",
        "seed",
        "run_id",
        "git_commit",
        "versions",
        "host",
        "started_utc",
        "ended_utc",
        "exit_status",
        "error",
        "duration_ms",
        "steps",
        "wall_s",
        "realtime_factor",
        "engines",
        "coupling_overhead_p50_us",
        "coupling_overhead_p99_us",
        "coupling_s",
        "exchange_window_ms",
        "recordings",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }

    // Writing again replaces the manifest.
    let m2 = Manifest {
        exit_status: ExitStatus::Error,
        error: Some("engine arm exited".into()),
        ..m
    };
    m2.write(dir.path()).unwrap();
    let back = Manifest::read(dir.path()).unwrap();
    assert_eq!(back, m2);
    assert_eq!(serde_json::to_value(ExitStatus::Ok).unwrap(), "ok");
    assert_eq!(serde_json::to_value(ExitStatus::Error).unwrap(), "error");
}

#[test]
fn non_finite_numbers_survive_as_nan() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest {
        wall_s: 0.0,
        realtime_factor: f64::INFINITY,
        ..sample()
    };
    m.write(dir.path()).unwrap();
    let back = Manifest::read(dir.path()).unwrap();
    assert!(back.realtime_factor.is_nan());
    assert_eq!(back.wall_s, 0.0);
}

#[test]
fn read_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Manifest::read(dir.path()).unwrap_err();
    assert!(err.to_string().contains(MANIFEST_FILE), "{err}");
    std::fs::write(dir.path().join(MANIFEST_FILE), "{").unwrap();
    let err = Manifest::read(dir.path()).unwrap_err();
    assert!(err.to_string().contains(MANIFEST_FILE), "{err}");
}
