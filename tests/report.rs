//! The run report (issue 14, part 1): `neuroloop run --report` and `neuroloop report RUN_DIR` write
//! `report.html` with its figures (valid SVG and PNG files in `report/`, the same embedded in the
//! page), the expected results exactly as `neuroloop check` measures them, and, for a folder that is
//! broken or from an interrupted run, what exists plus what is missing, without a panic; a folder
//! that is not a run folder exits 2.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{experiment, run_experiment, run_neuroloop, tempdir, unique_run_id, Proc};

fn report(dir: &Path) -> common::Output {
    run_neuroloop(&["report", dir.to_str().unwrap()], Duration::from_secs(120))
}

fn page(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("report.html")).expect("report.html in the run folder")
}

/// Every figure file in `dir/report` is a complete SVG document or a PNG that decodes; returns the
/// file names.
fn valid_figures(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir.join("report")).expect("report/ beside report.html") {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        if name.ends_with(".svg") {
            let text = String::from_utf8(bytes).expect("SVG is UTF-8");
            assert!(
                text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")
                    && text.trim_end().ends_with("</svg>"),
                "{name} is not a complete SVG document"
            );
            for tag in ["text", "svg"] {
                assert_eq!(
                    text.matches(&format!("<{tag} ")).count(),
                    text.matches(&format!("</{tag}>")).count(),
                    "{name}: unbalanced <{tag}>"
                );
            }
            assert!(
                !text.contains("NaN") && !text.contains("=\"inf") && !text.contains("=\"-inf"),
                "{name}: {text}"
            );
        } else if name.ends_with(".png") {
            let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
                .read_info()
                .unwrap_or_else(|e| panic!("{name} is not a PNG: {e}"));
            let mut buf = vec![0; r.output_buffer_size().unwrap()];
            let info = r.next_frame(&mut buf).unwrap();
            assert!(info.width > 10 && info.height > 10, "{name}: {info:?}");
        } else {
            panic!("unexpected file {name} in report/");
        }
        names.push(name);
    }
    names.sort();
    names
}

/// (status, name, value) of each line `STATUS  name: value (...` or `ERROR name: ...` printed by
/// `neuroloop check`.
fn check_lines(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            for st in ["PASS  ", "FAIL  ", "INFO  "] {
                if let Some(rest) = l.strip_prefix(st) {
                    // `name: value (bounds)  metric: detail`; the name may hold ": " itself.
                    let (head, _) = rest.split_once(" (")?;
                    let (name, value) = head.rsplit_once(": ")?;
                    return Some((st.trim().to_string(), name.to_string(), value.to_string()));
                }
            }
            let rest = l.strip_prefix("ERROR ")?;
            let (name, _) = rest.split_once(": cannot be measured")?;
            Some(("ERROR".into(), name.to_string(), "-".into()))
        })
        .collect()
}

/// A short run of the flagship (brain and body) with the motor pools' spikes recorded: `run --report`
/// writes the page; its checks table holds the values `neuroloop check` prints, and every figure of
/// what the folder holds is there.
#[test]
fn a_closed_loop_run_gets_a_full_report() {
    let tmp = tempdir();
    let run = tmp.path().join("run");
    let out = run_experiment(
        &experiment("joystick_reward_learning.toml"),
        &run,
        &unique_run_id("report"),
        &[
            // 10 s: the naive brain's third trial (about 5 s in) is the first whose pull reaches the
            // lateral figure's 1 mm bin.
            "--set",
            "run.duration_ms=10000",
            "--set",
            r#"record.ports=["brain.motor", "brain.rates", "body.task", "body.joystick_position_mm"]"#,
            "--report",
        ],
    );
    out.expect_code(0)
        .expect_no_panic()
        .expect_stderr("report.html");
    let html = page(&run);
    for section in [
        "<h2>Expected results</h2>",
        "<h2>Task: body</h2>",
        "<h2>Spikes: brain.motor</h2>",
        "<h2>Recorded signals</h2>",
        "<h2>Speed</h2>",
        "<h2>Manifest</h2>",
    ] {
        assert!(html.contains(section), "no {section} in the page");
    }
    // The checks come first and the manifest last.
    assert!(html.find("Expected results") < html.find("<h2>Speed</h2>"));
    assert!(html.rfind("<h2>Manifest</h2>") > html.find("<h2>Speed</h2>"));
    let figures = valid_figures(&run);
    for f in [
        "body.learning_curve.svg",
        "body.lateral.svg",
        "body.trajectories.svg",
        "brain.motor.raster.svg",
        "brain.motor.raster_pixels.png",
        "brain.motor.rates.svg",
        "brain.rates.signals.svg",
        "timing.svg",
    ] {
        assert!(figures.iter().any(|x| x == f), "no {f} in {figures:?}");
    }
    // The figures are embedded too: the page stands alone.
    assert!(html.contains("<svg xmlns") && html.contains("data:image/png;base64,"));
    // M1's groups (one per muscle) label the raster.
    let raster = std::fs::read_to_string(run.join("report/brain.motor.raster.svg")).unwrap();
    assert!(
        raster.contains(">M1<") || raster.contains(">M1 ("),
        "{raster}"
    );
    // Paper values beside the run's.
    assert!(html.contains("-1.28") && html.contains("+0.61"));
    // Seed and commit from the manifest at the bottom.
    let manifest = common::manifest(&run);
    assert!(html.contains(&format!(
        "<tr><th>seed</th><td>{}</td></tr>",
        manifest["seed"]
    )));

    // The checks table holds exactly what `neuroloop check` prints.
    let check = run_neuroloop(&["check", run.to_str().unwrap()], Duration::from_secs(60));
    let lines = check_lines(&check.stdout);
    assert_eq!(lines.len(), 2, "{}", check.stdout);
    for (status, name, value) in &lines {
        let row = format!("<td>{status}</td><td>{name}</td><td>{value}</td>");
        assert!(html.contains(&row), "no row {row} in the page");
    }
    // The report is written again by `neuroloop report`, the same.
    report(&run).expect_code(0).expect_no_panic();
    assert_eq!(page(&run), html);
}

/// An interrupted run: `run --report` still writes the page, which says how the run ended.
#[test]
fn an_interrupted_run_gets_a_report() {
    let tmp = tempdir();
    let run = tmp.path().join("run");
    let file = experiment("joystick_reward_learning.toml");
    let id = unique_run_id("report-int");
    let mut coord = Proc::neuroloop(&[
        "run",
        file.to_str().unwrap(),
        "--output",
        run.to_str().unwrap(),
        "--run-id",
        &id,
        "-q",
        "--report",
    ]);
    // Wait until the run has recorded a little, then Ctrl-C.
    let started = std::time::Instant::now();
    while !run.join(".parts").exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    coord.signal(libc::SIGINT);
    let out = coord.wait(Duration::from_secs(120));
    out.expect_code(130).expect_no_panic();
    let html = page(&run);
    assert!(html.contains("status interrupted"), "{html}");
    assert!(html.contains("Missing or unreadable"));
    assert!(html.contains("<h2>Expected results</h2>") && html.contains("<h2>Speed</h2>"));
    valid_figures(&run);
}

/// A broken folder: a recording that is not Parquet, a listed recording gone, a trial file with a
/// broken line, unmerged parts. The page is written (exit 0) and names each problem's file; a folder
/// that is not a run folder, or whose manifest is not JSON, exits 2 naming it.
#[test]
fn a_broken_folder_is_reported_not_a_panic() {
    let tmp = tempdir();
    let run = tmp.path().join("run");
    run_experiment(
        &experiment("forelimb_senses.toml"),
        &run,
        &unique_run_id("report-broken"),
        &[],
    )
    .expect_code(0);
    std::fs::write(run.join("spindles.ia.parquet"), b"not parquet").unwrap();
    std::fs::remove_file(run.join("skin.sa1.parquet")).unwrap();
    let trials = std::fs::read_to_string(run.join("body.trials.jsonl")).unwrap();
    std::fs::write(run.join("body.trials.jsonl"), format!("{trials}{{broken\n")).unwrap();
    std::fs::create_dir(run.join(".parts")).unwrap();
    let out = report(&run);
    out.expect_code(0).expect_no_panic();
    let html = page(&run);
    for problem in [
        "spindles.ia.parquet",
        "skin.sa1.parquet: listed in the manifest&#39;s recordings but missing",
        "body.trials.jsonl line",
        "neuroloop recover",
    ] {
        assert!(html.contains(problem), "the page does not say {problem:?}");
        assert!(
            out.stderr.contains(&problem.replace("&#39;", "'")),
            "stderr does not say {problem:?}:\n{}",
            out.stderr
        );
    }
    // What is there is still drawn: camera frames, the other afferents, the task.
    let figures = valid_figures(&run);
    for f in [
        "camera.events.frames.png",
        "spindles.ii.raster.svg",
        "skin.ra1.raster.svg",
        "body.learning_curve.svg",
    ] {
        assert!(figures.iter().any(|x| x == f), "no {f} in {figures:?}");
    }
    assert!(html.contains("<h2>Afferents: spindles.ii</h2>"));

    // Not a run folder, and a manifest that is not JSON: exit 2, naming the file.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    report(&empty)
        .expect_code(2)
        .expect_no_panic()
        .expect_stderr("manifest.json");
    std::fs::write(run.join("manifest.json"), "{ broken").unwrap();
    report(&run)
        .expect_code(2)
        .expect_no_panic()
        .expect_stderr("manifest.json");
    report(&tmp.path().join("missing"))
        .expect_code(2)
        .expect_stderr("no such folder");
}
