//! The command line: `validate` on good and broken experiment files, `run` refusing a broken file,
//! `--set` overrides and the run summary.

mod common;

use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(60);

#[test]
fn validate_accepts_the_demo() {
    let demo = experiment("demo_spring.toml");
    let o = run_neuroloop(&["validate", demo.to_str().unwrap()], T);
    o.expect_code(0).expect_no_panic();
    assert!(o.stdout.contains("ok"), "{}", o.stdout);
}

/// The broken files and the text each one's first line says `validate` must print.
fn broken_files() -> Vec<(std::path::PathBuf, String)> {
    let dir = experiment("broken");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            let first = text.lines().next().unwrap_or("");
            let expect = first
                .strip_prefix("# expect:")
                .unwrap_or_else(|| panic!("{}: first line must be `# expect: <text>`", p.display()))
                .trim()
                .to_string();
            (p, expect)
        })
        .collect()
}

#[test]
fn validate_rejects_every_broken_file_with_its_expected_message() {
    let files = broken_files();
    assert!(!files.is_empty(), "no files in experiments/broken");
    let mut failures = Vec::new();
    for (path, expect) in &files {
        let o = run_neuroloop(&["validate", path.to_str().unwrap()], T);
        let name = path.file_name().unwrap().to_string_lossy();
        if o.code != Some(2) {
            failures.push(format!(
                "{name}: exit code {:?}, stderr:\n{}",
                o.code, o.stderr
            ));
        } else if !o.stderr.contains(expect.as_str()) {
            failures.push(format!("{name}: stderr lacks {expect:?}:\n{}", o.stderr));
        } else if o.stderr.contains("panicked") {
            failures.push(format!("{name}: panicked:\n{}", o.stderr));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} broken files misbehave:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn run_refuses_a_broken_file_without_starting_anything() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("broken");
    // A syntax error, a semantic error and a port-level error (found through the built-in catalog).
    let picked = [
        "syntax_error.toml",
        "unknown_builtin_kind.toml",
        "type_mismatch.toml",
    ];
    let files: Vec<_> = broken_files()
        .into_iter()
        .filter(|(p, _)| picked.iter().any(|n| p.ends_with(n)))
        .collect();
    assert_eq!(
        files.len(),
        picked.len(),
        "experiments/broken lacks one of {picked:?}"
    );
    for (path, expect) in &files {
        let o = run_experiment(path, &out, &id, &[]);
        o.expect_code(2).expect_no_panic().expect_stderr(expect);
        assert!(
            !out.exists(),
            "a run folder was created for {}",
            path.display()
        );
        assert_no_leftovers(&id, Duration::from_secs(1));
    }
}

#[test]
fn bad_override_and_bad_run_id_exit_2() {
    let demo = experiment("demo_spring.toml");
    let demo = demo.to_str().unwrap();
    let o = run_neuroloop(&["validate", demo, "--set", "run.duration_ms=-5"], T);
    o.expect_code(2)
        .expect_no_panic()
        .expect_stderr("run.duration_ms");
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let o = run_neuroloop(
        &[
            "run",
            demo,
            "--output",
            out.to_str().unwrap(),
            "--run-id",
            "a/b",
        ],
        T,
    );
    o.expect_code(2).expect_no_panic().expect_stderr("--run-id");
}

#[test]
fn demo_run_with_override_prints_a_summary() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("demo");
    let demo = experiment("demo_spring.toml");
    let o = run_neuroloop(
        &[
            "run",
            demo.to_str().unwrap(),
            "--set",
            "run.duration_ms=100",
            "--output",
            out.to_str().unwrap(),
            "--run-id",
            &id,
        ],
        Duration::from_secs(120),
    );
    o.expect_code(0).expect_no_panic();
    assert!(o.stdout.contains("coupling overhead"), "{}", o.stdout);
    assert!(o.stdout.contains("100 ms simulated"), "{}", o.stdout);
    assert_no_leftovers(&id, Duration::from_secs(3));
    let m = manifest(&out);
    assert_eq!(m["exit_status"], "ok");
    assert_eq!(m["steps"], 100);
    assert_eq!(m["overrides"][0], "run.duration_ms=100");
    assert_eq!(Table::read(&out.join("plant.position.parquet")).rows(), 101);
}

#[test]
fn validate_warns_about_an_input_no_link_feeds() {
    let tmp = tempdir();
    let file = tmp.path().join("lonely.toml");
    std::fs::write(
        &file,
        "[run]\nduration_ms = 10.0\n\n[engines.plant]\nkind = \"spring\"\nstep_ms = 1.0\n",
    )
    .unwrap();
    let o = run_neuroloop(&["validate", file.to_str().unwrap()], T);
    o.expect_code(0).expect_no_panic().expect_stderr(&format!(
        "warning: {}:4:10: engines.plant: input port \"force\" has no link (it will receive nothing)",
        file.display()
    ));
    assert!(o.stdout.contains("ok"), "{}", o.stdout);
    // The demo links every input: no warning.
    let demo = experiment("demo_spring.toml");
    let o = run_neuroloop(&["validate", demo.to_str().unwrap()], T);
    o.expect_code(0).expect_no_panic();
    assert!(!o.stderr.contains("warning"), "{}", o.stderr);
}

/// An engine too large for the machine is refused by its estimate, with the figures, before anything
/// is allocated: `validate` of a 65535 x 65535 event camera exits 2 at once (it used to abort after
/// trying to allocate 68.7 GB).
#[test]
fn validate_refuses_a_camera_too_large_for_memory_by_its_estimate() {
    let tmp = tempdir();
    let file = tmp.path().join("big_camera.toml");
    std::fs::write(
        &file,
        "[run]\nduration_ms = 10.0\n\n[engines.body]\nkind = \"body\"\nstep_ms = 1.0\n\n\
         [engines.camera]\nkind = \"event_camera\"\nstep_ms = 1.0\nconfig = { width = 65535, height = 65535 }\n\n\
         [[links]]\nfrom = \"body.body_poses\"\nto = \"camera.body_poses\"\n",
    )
    .unwrap();
    run_neuroloop(
        &["validate", file.to_str().unwrap()],
        Duration::from_secs(60),
    )
    .expect_code(2)
    .expect_no_panic()
    .expect_stderr("a 65535x65535 camera needs about 549.7 GB");
}

/// `validate` builds no engine: it resolves each configuration (every check, the ports) and stops
/// there. A brain of 10^8 synapses, a 2000 x 2000 event camera and the rapier body, which fit the
/// machine's memory by their estimates but need gigabytes once built, are validated under an address
/// space limit of 256 MiB; the same experiment with a link to a port the brain does not have fails on
/// that port, under the same limit.
#[test]
fn validate_checks_large_engines_by_their_ports_without_building_them() {
    let tmp = tempdir();
    let experiment = |brain_output: &str| {
        format!(
            "[run]\nduration_ms = 10.0\n\n\
             [engines.brain]\nkind = \"brain\"\nstep_ms = 1.0\n\
             config = {{ network = {{ populations = [{{ name = \"E\", model = \"iaf_psc_exp\", n = 100000 }}], \
             projections = [{{ source = \"E\", target = \"E\", connect = {{ rule = \"fixed_indegree\", indegree = 1000 }}, \
             synapse = {{ weight = 1.0, delay = 1.5 }} }}], \
             inputs = [{{ name = \"input\", target = \"E\", weight = 100.0 }}], \
             outputs = [{{ name = \"spikes\", population = \"E\" }}] }} }}\n\n\
             [engines.camera]\nkind = \"event_camera\"\nstep_ms = 1.0\nconfig = {{ width = 2000, height = 2000 }}\n\n\
             [engines.body]\nkind = \"body\"\nstep_ms = 1.0\n\n\
             [[links]]\nfrom = \"body.body_poses\"\nto = \"camera.body_poses\"\n\n\
             [[links]]\nfrom = \"brain.{brain_output}\"\nto = \"brain.input\"\n"
        )
    };
    let validate_limited = |name: &str, text: &str| {
        let file = tmp.path().join(name);
        std::fs::write(&file, text).unwrap();
        // 256 MiB of address space for the whole process.
        Proc::spawn(
            "sh",
            &[
                "-c",
                "ulimit -v 262144 && exec \"$0\" validate \"$1\"",
                bin(),
                file.to_str().unwrap(),
            ],
        )
        .wait(T)
    };
    let o = validate_limited("large.toml", &experiment("spikes"));
    o.expect_code(0).expect_no_panic();
    assert!(
        o.stdout.contains("ok (3 engines, 2 links"),
        "{}\n{}",
        o.stdout,
        o.stderr
    );
    validate_limited("large_bad_port.toml", &experiment("nosuch"))
        .expect_code(2)
        .expect_no_panic()
        .expect_stderr("nosuch");
}

/// Diagnostics name what they should: an override of an engine the file does not have says so (and
/// that it is the `--set`), and a NaN in an engine's configuration is one problem, not two.
#[test]
fn overrides_of_missing_engines_and_nan_values_are_reported_once_and_by_name() {
    let demo = experiment("demo_spring.toml");
    run_neuroloop(
        &[
            "validate",
            demo.to_str().unwrap(),
            "--set",
            "engines.nosuch.step_ms=1",
        ],
        Duration::from_secs(30),
    )
    .expect_code(2)
    .expect_stderr("--set engines.nosuch.step_ms=1: the file has no engine \"nosuch\"");
    let tmp = tempdir();
    let file = tmp.path().join("nan.toml");
    std::fs::write(
        &file,
        "[run]\nduration_ms = 10.0\n[engines.a]\nkind = \"spring\"\nstep_ms = 1.0\nconfig = { mass_kg = nan }\n",
    )
    .unwrap();
    let o = run_neuroloop(
        &["validate", file.to_str().unwrap()],
        Duration::from_secs(30),
    );
    o.expect_code(2)
        .expect_stderr("mass_kg: NaN cannot be passed");
    assert_eq!(o.stderr.trim().lines().count(), 1, "{}", o.stderr);
}
