//! Expected results as checks (issue 11, part 5): `neuroloop run --check` and `neuroloop check RUN_DIR`
//! measure an experiment's `[[expect]]` tables from the run folder, print one line each with the
//! measured value and bound, and exit 0 when all pass, 1 when one fails, 2 for bad input;
//! `neuroloop validate` places a bad expectation at its line and column.

mod common;

use std::time::Duration;

use common::{experiment, experiment_with, run_experiment, run_neuroloop, tempdir, unique_run_id};

/// Expectations appended to a copy of the demo: the source's rate (passes), a bound the decoded
/// rate cannot meet (fails), and a spike count reported without bounds.
const EXTRA: &str = r#"
[[expect]]
name = "source rate"
metric = { kind = "spike_rate", port = "source.spikes", window_ms = [0.0, 2000.0] }
min = 18.0
max = 22.0
note = "rate_hz = 20"

[[expect]]
name = "decoded rate below 10 Hz"
metric = { kind = "mean", port = "decoder.rate", window_ms = [1000.0, 2000.0] }
max = 10.0

[[expect]]
name = "spikes of ten neurons"
metric = { kind = "spike_count", port = "source.spikes", neurons = [0, 9], window_ms = [0.0, 1000.0] }
"#;

fn check(dir: &std::path::Path) -> common::Output {
    run_neuroloop(&["check", dir.to_str().unwrap()], Duration::from_secs(60))
}

/// The line of stdout that starts with `prefix`.
fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{stdout}"))
}

#[test]
fn the_demo_passes_its_expected_results() {
    let dir = tempdir();
    let run = dir.path().join("run");
    let out = run_experiment(
        &experiment("demo_spring.toml"),
        &run,
        &unique_run_id("check-demo"),
        &["--check"],
    );
    out.expect_code(0).expect_no_panic();
    let x = line(&out.stdout, "PASS  x settles at 6.667 mm: ");
    assert!(
        x.contains("(in [0.0066, 0.006733])")
            && x.contains("mean(plant.position.x, 1900-2000 ms): 100 samples")
            && x.ends_with("[g*target/(k + g) = 6.667 mm, within 1 %]"),
        "{x}"
    );
    let value: f64 = x["PASS  x settles at 6.667 mm: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((value - 0.2 / 30.0).abs() < 1e-3 * 0.2 / 30.0, "{x}");
    line(&out.stdout, "PASS  decoded rate: ");
    line(&out.stdout, "2 of 2 expectations pass");

    // The same run folder checked again gives the same lines.
    let again = check(&run);
    again.expect_code(0);
    assert_eq!(again.stdout.trim(), out.stdout.trim());
}

#[test]
fn a_failed_expectation_exits_1_and_bad_input_exits_2() {
    let dir = tempdir();
    let file = experiment_with("demo_spring.toml", dir.path(), EXTRA);
    let run = dir.path().join("run");
    // Without --check, a quiet run prints nothing of its checks and its exit code is the run's.
    let out = run_experiment(&file, &run, &unique_run_id("check-fail"), &[]);
    out.expect_code(0);
    assert!(!out.stdout.contains("PASS"), "{}", out.stdout);

    let out = check(&run);
    out.expect_code(1).expect_no_panic();
    line(&out.stdout, "PASS  x settles at 6.667 mm: ");
    let rate = line(&out.stdout, "PASS  source rate: ");
    assert!(
        rate.contains("(in [18, 22])")
            && rate.contains("spike_rate(source.spikes, 0-2000 ms):")
            && rate.contains("spikes of 100 neurons in 2000 ms")
            && rate.ends_with("[rate_hz = 20]"),
        "{rate}"
    );
    let failed = line(&out.stdout, "FAIL  decoded rate below 10 Hz: ");
    assert!(failed.contains("(<= 10)"), "{failed}");
    let count = line(&out.stdout, "INFO  spikes of ten neurons: ");
    assert!(
        count.contains(
            "(no bound)  spike_count(source.spikes neurons 0-9, 0-1000 ms): 10 neurons in 1000 ms"
        ),
        "{count}"
    );
    line(
        &out.stdout,
        "3 of 4 expectations pass, 1 fail (1 reported without bounds)",
    );

    // Bad input: a folder that does not exist, a recording gone, a broken manifest.
    let missing = dir.path().join("nowhere");
    check(&missing)
        .expect_code(2)
        .expect_stderr("run folder")
        .expect_stderr("nowhere does not exist");

    std::fs::remove_file(run.join("decoder.rate.parquet")).unwrap();
    let out = check(&run);
    out.expect_code(2)
        .expect_stderr("expect[1].metric: ")
        .expect_stderr("decoder.rate.parquet does not exist");
    line(&out.stdout, "ERROR decoded rate: cannot be measured");
    // The others are still measured.
    line(&out.stdout, "PASS  x settles at 6.667 mm: ");

    std::fs::write(run.join("manifest.json"), "{ \"run_id\": ").unwrap();
    check(&run).expect_code(2).expect_stderr("manifest.json");
}

#[test]
fn validate_places_a_bad_expectation() {
    let dir = tempdir();
    let extra = r#"[[expect]]
name = "median"
metric = { kind = "median", port = "plant.position" }

[[expect]]
name = "range"
metric = { kind = "success_rate", engine = "plant", trials = [10, 5] }
"#;
    let file = experiment_with("demo_spring.toml", dir.path(), extra);
    let first = std::fs::read_to_string(experiment("demo_spring.toml"))
        .unwrap()
        .lines()
        .count()
        + 2;
    let out = run_neuroloop(
        &["validate", file.to_str().unwrap()],
        Duration::from_secs(30),
    );
    out.expect_code(2)
        .expect_stderr(&format!(":{}:", first + 2))
        .expect_stderr("unknown variant `median`");
    // Deserialization stops at the first error; with the kind fixed, the range is reported.
    let fixed = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"median\"", "\"mean\"");
    std::fs::write(&file, fixed).unwrap();
    let out = run_neuroloop(
        &["validate", file.to_str().unwrap()],
        Duration::from_secs(30),
    );
    out.expect_code(2).expect_stderr(&format!(
        "demo_spring.toml:{}:53: expect[3].metric.trials: trials = [10, 5]",
        first + 6
    ));
}

#[test]
fn validate_checks_trial_metrics_against_the_body_engine() {
    let dir = tempdir();
    let file = dir.path().join("trials.toml");
    let text = r#"[run]
duration_ms = 10.0

[engines.body]
kind = "body"
step_ms = 1.0

[engines.plant]
kind = "spring"
step_ms = 1.0

[[expect]]
name = "field"
metric = { kind = "trial_mean", engine = "body", field = "lateral_mm" }

[[expect]]
name = "bin"
metric = { kind = "trial_mean", engine = "body", field = "lateral_at_bins_mm", bin_mm = 0.7 }

[[expect]]
name = "list"
metric = { kind = "ratio", numerator = { kind = "trial_mean", engine = "body", field = "reaction_time_ms", index = 1 }, denominator = { kind = "trial_mean", engine = "body", field = "lateral_at_bins_mm" } }

[[expect]]
name = "not a body"
metric = { kind = "success_rate", engine = "plant" }

[[expect]]
name = "fine"
metric = { kind = "trial_mean", engine = "body", field = "lateral_at_bins_mm", bin_mm = 1.5 }
"#;
    std::fs::write(&file, text).unwrap();
    let out = run_neuroloop(
        &["validate", file.to_str().unwrap()],
        Duration::from_secs(60),
    );
    out.expect_code(2);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let f = file.display().to_string();
    assert_eq!(lines.len(), 5, "{}", out.stderr);
    assert!(
        lines[0].starts_with(&format!(
            "{f}:14:50: expect[0].metric.field: field = \"lateral_mm\" is not a numeric field"
        )) && lines[0].contains("lateral_at_bins_mm"),
        "{}",
        out.stderr
    );
    assert!(
        lines[1].starts_with(&format!("{f}:18:80: expect[1].metric.bin_mm: bin_mm = 0.7 is not one of the task's bins_mm [0.5, 1.0, 1.5, 2.0]")),
        "{}",
        out.stderr
    );
    assert!(
        lines[2].contains("expect[2].metric.numerator.field: reaction_time_ms is not a list"),
        "{}",
        out.stderr
    );
    assert!(
        lines[3].contains("expect[2].metric.denominator.field: lateral_at_bins_mm is a list"),
        "{}",
        out.stderr
    );
    assert!(
        lines[4].starts_with(&format!("{f}:26:"))
            && lines[4].contains("expect[3].metric.engine: engine \"plant\" is a spring engine"),
        "{}",
        out.stderr
    );
}

/// The forelimb experiment (body, scripted controller, camera, skin, proprioceptors) with trial
/// metrics: measured from the body's real trial records; the learning curve is printed; the skin and
/// the proprioceptors leave their afferent maps in the run folder.
#[test]
fn trial_metrics_and_afferent_maps_of_a_forelimb_run() {
    let dir = tempdir();
    let worlds = common::root().join("worlds");
    let text = std::fs::read_to_string(experiment("forelimb_senses.toml"))
        .unwrap()
        .replace("\"../worlds/", &format!("\"{}/", worlds.display()));
    let file = dir.path().join("forelimb.toml");
    std::fs::write(
        &file,
        format!(
            "{text}\n{}",
            r#"
[[expect]]
name = "first pull rewarded"
metric = { kind = "success_rate", engine = "body", trials = [1, 1] }
min = 1.0

[[expect]]
name = "lateral at 1 mm"
metric = { kind = "abs", of = { kind = "trial_mean", engine = "body", field = "lateral_at_bins_mm", bin_mm = 1.0 } }
max = 1.0
note = "mm"
"#
        ),
    )
    .unwrap();
    let run = dir.path().join("run");
    let out = run_experiment(&file, &run, &unique_run_id("check-forelimb"), &["--check"]);
    out.expect_code(0).expect_no_panic();
    let first = line(&out.stdout, "PASS  first pull rewarded: 1 (>= 1)  ");
    assert!(
        first.ends_with("success_rate(body, trials 1-1): 1 of 1 trials"),
        "{first}"
    );
    let lateral = line(&out.stdout, "PASS  lateral at 1 mm: ");
    assert!(
        lateral.contains("|trial_mean(body lateral_at_bins_mm at 1 mm, all trials)|: ")
            && lateral.contains("1 of 1 trials with a value"),
        "{lateral}"
    );
    line(
        &out.stdout,
        "learning curve (body, success per 25 trials): 1.00 (last 1 trials)",
    );
    for (name, ports) in [("skin", ["ra1", "sa1"]), ("spindles", ["ia", "ii"])] {
        let path = run.join(format!("{name}.afferents.json"));
        let map: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(map["engine"], name);
        for port in ports {
            assert!(
                map["ports"][port].as_array().is_some_and(|a| !a.is_empty()),
                "{}: {port}",
                path.display()
            );
        }
    }
}
