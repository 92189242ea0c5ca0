//! The Python engine SDK (bridges/python): a Python engine takes part in a run like any other process.
//!
//! * `experiments/python_controller.toml` (spring plant + the Python p_controller) converges, and records
//!   exactly, bit for bit, what the same experiment records with the built-in Rust `p_controller`;
//! * a Python engine that raises in `step()` fails the run with exit status 1, and the coordinator's error
//!   names the engine and carries the Python exception text;
//! * `neuroloop.wire` and `neuroloop_core::wire` encode every message to the same bytes, and the worked
//!   example of `docs/protocol.md` is what Rust encodes;
//! * the SDK's own unit tests (`bridges/python/tests`) pass.
//!
//! These tests need the Python environment: run `scripts/setup_python.sh` once (it creates `.venv` in the
//! repository root). Without it they fail, saying so.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use neuroloop_core::payload::{EventBatch, Payload, SpikeBatch};
use neuroloop_core::port::{PortKind, PortSpec};
use neuroloop_core::time::Step;
use neuroloop_core::wire::{self, DataEntry, Message};

/// Wall-clock bound of one `neuroloop run` or Python process (the runs take about a second).
const LIMIT: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The repository's Python; fails (never skips) when it is missing.
fn python() -> PathBuf {
    let p = root().join(".venv/bin/python");
    assert!(
        p.is_file(),
        "{} is missing: run scripts/setup_python.sh first (it creates .venv with eclipse-zenoh 1.10.x and \
         numpy, which the Python engine SDK in bridges/python needs)",
        p.display()
    );
    static CHECKED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let checked = CHECKED.get_or_init(|| {
        let out = Command::new(&p)
            .args(["-c", "import zenoh, numpy"])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    if let Err(e) = checked {
        panic!(
            "{} cannot import zenoh and numpy: run scripts/setup_python.sh\n{e}",
            p.display()
        );
    }
    p
}

struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    wall: Duration,
}

/// Runs `cmd` to its end, feeding it `stdin`; kills it and fails the test if it runs past `limit`.
fn run_bounded(cmd: &mut Command, stdin: &[u8], limit: Duration) -> Finished {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let pipe = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = pipe(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = pipe(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} did not finish within {limit:?}; killed it.\nstderr:\n{}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    Finished {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        wall: started.elapsed(),
    }
}

/// `neuroloop run FILE --quiet --output DIR`, from the repository root.
fn neuroloop_run(file: &Path, out: &Path) -> Finished {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_neuroloop"));
    cmd.current_dir(root())
        .arg("run")
        .arg(file)
        .args(["--quiet", "--output"])
        .arg(out);
    run_bounded(&mut cmd, b"", LIMIT)
}

/// A Python process with bridges/python on its path, from the repository root.
fn python_cmd() -> Command {
    let mut cmd = Command::new(python());
    cmd.current_dir(root())
        .env("PYTHONPATH", root().join("bridges/python"))
        // The SDK's tests that make real run folders (test_nwb.py) run this build's binary.
        .env("NEUROLOOP_BIN", env!("CARGO_BIN_EXE_neuroloop"));
    cmd
}

/// A recorded column, read with the shared test helpers.
fn column(path: &Path, name: &str) -> Vec<f64> {
    common::Table::read(path).col(name).to_vec()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn python_controller_converges_and_matches_the_rust_controller_bit_for_bit() {
    python();
    let dir = tempfile::tempdir().unwrap();
    let exp = root().join("experiments/python_controller.toml");

    let py_out = dir.path().join("python");
    let py = neuroloop_run(&exp, &py_out);
    assert_eq!(
        py.code,
        Some(0),
        "python_controller.toml failed:\n{}",
        py.stderr
    );

    let x = column(&py_out.join("plant.position.parquet"), "x");
    assert_eq!(x.len(), 2001, "t = 0 plus 2000 steps of 1 ms");
    assert_eq!(x[0], 0.05, "x0");

    // The same folder read from Python (neuroloop.read_run): the same values, the units kept.
    let mut cmd = python_cmd();
    cmd.args([
        "-c",
        "import json, sys, neuroloop as nl\n\
         run = nl.read_run(sys.argv[1])\n\
         df = run.recording('plant.position')\n\
         print(json.dumps({'seed': run.manifest['seed'], 'recordings': run.recordings,\n\
                           'columns': list(df.columns), 'unit': df.attrs['units']['x'],\n\
                           'x': [float(v) for v in df['x']]}))",
        py_out.to_str().unwrap(),
    ]);
    let read = run_bounded(&mut cmd, b"", LIMIT);
    assert_eq!(read.code, Some(0), "read_run failed:\n{}", read.stderr);
    let seen: serde_json::Value = serde_json::from_str(&read.stdout).unwrap();
    assert_eq!(seen["seed"], 42);
    assert_eq!(
        seen["recordings"],
        serde_json::json!(["plant.position", "controller.force"])
    );
    assert_eq!(
        seen["columns"],
        serde_json::json!(["step", "t_ms", "x", "episode"])
    );
    assert_eq!(seen["unit"], "m");
    let from_python: Vec<f64> = serde_json::from_value(seen["x"].clone()).unwrap();
    assert_eq!(bits(&from_python), bits(&x), "the values read by Python");
    // P control of a spring: a damped oscillation around x = g target / (k + g) (6.7 mm, near the 10 mm
    // target), decaying with the time constant 2 m / c = 0.67 s. Its envelope over 200 ms windows must
    // shrink window after window, to less than 15 % of the initial deviation in the last 200 ms.
    let (k, g, target) = (10.0, 20.0, 0.01);
    let steady = g * target / (k + g);
    let envelope: Vec<f64> = x[1..]
        .chunks(200)
        .map(|w| w.iter().map(|xi| (xi - steady).abs()).fold(0.0, f64::max))
        .collect();
    assert!(
        envelope.windows(2).all(|w| w[1] < w[0]),
        "|x - {steady}| per 200 ms does not decrease: {envelope:?}"
    );
    let last = *envelope.last().unwrap();
    assert!(
        last < 0.15 * (x[0] - steady),
        "x(1.8 s .. 2 s) is up to {last} m from {steady} m: it does not converge ({envelope:?})"
    );
    assert!((steady - target).abs() < 0.005);

    // The same experiment with the built-in Rust controller: the file with the controller's kind
    // replaced and its port declarations (only allowed for executables) removed.
    let text = std::fs::read_to_string(&exp).unwrap();
    let kind_line = "kind = \"../bridges/python/examples/p_controller.sh\"";
    assert!(
        text.contains(kind_line),
        "{} changed: update this test",
        exp.display()
    );
    let ports_start = text
        .find("[[engines.controller.ports]]")
        .expect("port declarations");
    let ports_end = ports_start + text[ports_start..].find("[[links]]").expect("links");
    let rust_text = format!("{}{}", &text[..ports_start], &text[ports_end..])
        .replace(kind_line, "kind = \"p_controller\"");
    let rust_exp = dir.path().join("rust_controller.toml");
    std::fs::write(&rust_exp, rust_text).unwrap();
    let rust_out = dir.path().join("rust");
    let rs = neuroloop_run(&rust_exp, &rust_out);
    assert_eq!(rs.code, Some(0), "the Rust variant failed:\n{}", rs.stderr);

    for (file, col) in [
        ("plant.position.parquet", "x"),
        ("controller.force.parquet", "force"),
    ] {
        let a = column(&py_out.join(file), col);
        let b = column(&rust_out.join(file), col);
        assert_eq!(a.len(), b.len(), "{file}: row counts differ");
        if let Some(i) = (0..a.len()).find(|&i| a[i].to_bits() != b[i].to_bits()) {
            panic!(
                "{file}: row {i} differs: Python {:e} ({:#018x}), Rust {:e} ({:#018x})",
                a[i],
                a[i].to_bits(),
                b[i],
                b[i].to_bits()
            );
        }
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(
            bits(&column(&py_out.join(file), "step")),
            bits(&column(&rust_out.join(file), "step")),
            "{file}: steps differ"
        );
        assert_eq!(
            bits(&column(&py_out.join(file), "t_ms")),
            bits(&column(&rust_out.join(file), "t_ms")),
            "{file}: times differ"
        );
    }
}

#[test]
fn a_python_exception_in_step_fails_the_run_and_names_the_engine() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let wrapper = dir.path().join("raising.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexport PYTHONPATH={}\nexec {} {}\n",
            quote(&root().join("bridges/python")),
            quote(&py),
            quote(&root().join("bridges/python/tests/raising_engine.py"))
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exp = dir.path().join("raising.toml");
    std::fs::write(
        &exp,
        r#"
[run]
duration_ms = 100.0
base_step_ms = 1.0

[engines.plant]
kind = "spring"
step_ms = 1.0

[engines.controller]
kind = "./raising.sh"
step_ms = 1.0
config = { fail_at_ms = 10.0 }

[[links]]
from = "plant.position"
to = "controller.position"

[[links]]
from = "controller.force"
to = "plant.force"

[record]
ports = ["plant.position"]
"#,
    )
    .unwrap();
    let run = neuroloop_run(&exp, &dir.path().join("out"));
    assert_eq!(
        run.code,
        Some(1),
        "expected the run to fail with exit status 1:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("engine 'controller'"),
        "the error does not name the engine:\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("RuntimeError: deliberate failure at t = 10.0 ms"),
        "the error does not carry the Python exception:\n{}",
        run.stderr
    );
    assert!(
        run.wall < Duration::from_secs(30),
        "the failure took {:?}: the coordinator should learn of it at once, not by a time-out",
        run.wall
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["exit_status"], "error");
    assert!(
        manifest["error"]
            .as_str()
            .is_some_and(|e| e.contains("RuntimeError: deliberate failure")),
        "{manifest}"
    );
}

/// The same messages as the test helper of `crates/core/src/wire.rs` and `all_messages()` of
/// `bridges/python/tests/test_wire.py`, in the same order.
fn all_messages() -> Vec<Message> {
    let mut spikes = SpikeBatch::default();
    spikes.push(3, 0.1);
    spikes.push(7, 0.9);
    let mut events = EventBatch::default();
    events.push(1, 2, 0.5, true);
    events.push(3, 4, 0.75, false);
    let entry = |port, stamp, payload| DataEntry {
        port,
        stamp: Step(stamp),
        payload,
    };
    vec![
        Message::Hello {
            engine: "brain".into(),
            pid: 42,
        },
        Message::Init {
            base_step_ms: 0.5,
            period: 2,
            seed: 99,
            config_json: "{\"a\":1}".into(),
        },
        Message::Ready {
            ports: vec![
                PortSpec::input("drive", PortKind::analog(&[("x", "m"), ("v", "m/s")])),
                PortSpec::output("spikes", PortKind::Spikes { size: 10 }),
                PortSpec::output(
                    "dvs",
                    PortKind::Events {
                        width: 32,
                        height: 24,
                    },
                ),
                PortSpec::input("reward", PortKind::Scalar { unit: "1".into() }),
            ],
            outputs: vec![entry(1, 0, Payload::Spikes(SpikeBatch::default()))],
        },
        Message::Step {
            step: Step(17),
            n_steps: 3,
            inputs: vec![
                entry(0, 16, Payload::Analog(vec![1.0, -2.5])),
                entry(3, 15, Payload::Scalar(0.25)),
            ],
        },
        Message::StepDone {
            step: Step(17),
            compute_ns: 12345,
            outputs: vec![
                entry(1, 20, Payload::Spikes(spikes)),
                entry(2, 20, Payload::Events(events)),
            ],
        },
        Message::Window {
            step: Step(20),
            n_steps: 1,
            substeps: vec![
                vec![entry(0, 18, Payload::Analog(vec![3.0, 4.0]))],
                vec![],
                vec![entry(3, 19, Payload::Scalar(-1.0))],
            ],
        },
        Message::WindowDone {
            step: Step(20),
            compute_ns: 99,
            outputs: vec![
                vec![],
                vec![entry(1, 22, Payload::Spikes(SpikeBatch::default()))],
            ],
        },
        Message::Reset {
            seed: 0x0123_4567_89ab_cdef,
            episode: 3,
        },
        Message::Shutdown,
        Message::Bye,
        Message::Error {
            message: "boom".into(),
        },
    ]
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn python_and_rust_encode_every_message_to_the_same_bytes() {
    python();
    // Rust -> Python: Python decodes what Rust encoded and encodes it again; then Python encodes its own
    // copy of the same messages. Both must be Rust's bytes, and Rust must decode Python's.
    let script = r#"
import sys
sys.path.insert(0, "bridges/python/tests")
from neuroloop import wire
from test_wire import all_messages
for line in sys.stdin.read().split():
    m = wire.decode(bytes.fromhex(line))
    print("again", wire.kind_name(m), wire.encode(m).hex())
for m in all_messages():
    print("own", wire.kind_name(m), wire.encode(m).hex())
"#;
    let msgs = all_messages();
    let input: String = msgs.iter().map(|m| hex(&wire::encode(m)) + "\n").collect();
    let mut cmd = python_cmd();
    cmd.args(["-c", script]);
    let out = run_bounded(&mut cmd, input.as_bytes(), LIMIT);
    assert_eq!(out.code, Some(0), "Python failed:\n{}", out.stderr);
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 2 * msgs.len(), "{}", out.stdout);
    for (i, m) in msgs.iter().enumerate() {
        let rust = hex(&wire::encode(m));
        for l in [&lines[i], &lines[msgs.len() + i]] {
            assert_eq!(l[1], m.kind_name(), "{l:?}");
            assert_eq!(
                l[2],
                rust,
                "{} ({}): Python's bytes differ",
                m.kind_name(),
                l[0]
            );
            assert_eq!(&wire::decode(&unhex(l[2])).unwrap(), m);
        }
    }
}

#[test]
fn the_worked_example_of_the_protocol_document_is_what_rust_encodes() {
    let step = Message::Step {
        step: Step(4),
        n_steps: 2,
        inputs: vec![DataEntry {
            port: 0,
            stamp: Step(4),
            payload: Payload::Analog(vec![0.05]),
        }],
    };
    let spaced: Vec<String> = wire::encode(&step)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let line = spaced.join(" ");
    assert_eq!(
        line,
        "4e 4c 01 04 04 00 00 00 00 00 00 00 02 00 00 00 01 00 00 00 02 04 00 00 00 00 00 00 00 01 00 00 00 \
         9a 99 99 99 99 99 a9 3f"
    );
    let doc = std::fs::read_to_string(root().join("docs/protocol.md")).unwrap();
    assert!(
        doc.contains(&line),
        "docs/protocol.md does not show the worked Step example as Rust encodes it:\n{line}"
    );
}

#[test]
fn the_python_sdk_unit_tests_pass() {
    python();
    let mut cmd = python_cmd();
    cmd.args(["-m", "pytest", "-q", "bridges/python/tests"]);
    let out = run_bounded(&mut cmd, b"", LIMIT);
    assert_eq!(
        out.code,
        Some(0),
        "bridges/python/tests failed:\n{}{}",
        out.stdout,
        out.stderr
    );
}

/// A controller written in Python (bridges/python/examples/joystick_pd.py, 36 lines) pulls the
/// forelimb's joystick into the end box through the 8 muscle excitations.
#[test]
fn a_python_pd_controller_pulls_the_joystick() {
    python();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_neuroloop"));
    cmd.args(["run", "-q", "--check", "--output"])
        .arg(&out)
        .arg(root().join("experiments/python_joystick.toml"));
    let run = run_bounded(&mut cmd, b"", LIMIT);
    assert_eq!(
        run.code,
        Some(0),
        "python_joystick.toml failed its check:\n{}{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stdout.contains("PASS"), "{}", run.stdout);
    let lines = std::fs::read_to_string(out.join("body.trials.jsonl")).unwrap();
    let rewarded = lines
        .lines()
        .filter(|l| l.contains("\"outcome\":\"success\""))
        .count();
    assert!(rewarded >= 1, "{lines}");
}

/// `neuroloop export nwb` runs the exporter of the Python package with the project's environment:
/// a real run folder becomes a file pynwb reads back; a folder that is not a run is refused (exit 2).
#[test]
fn the_cli_exports_a_run_folder_to_nwb() {
    python();
    let tmp = common::tempdir();
    let out = tmp.path().join("run");
    let id = common::unique_run_id("nwb");
    common::run_experiment(&common::experiment("tests/multirate.toml"), &out, &id, &[])
        .expect_code(0)
        .expect_no_panic();
    let file = tmp.path().join("multirate.nwb");
    let o = common::run_neuroloop(
        &[
            "export",
            "nwb",
            out.to_str().unwrap(),
            "--output",
            file.to_str().unwrap(),
        ],
        LIMIT,
    );
    o.expect_code(0);
    assert!(o.stdout.contains("10 units"), "{}", o.stdout);
    let mut cmd = python_cmd();
    cmd.args([
        "-c",
        "import sys, pynwb\nwith pynwb.NWBHDF5IO(sys.argv[1], 'r') as io:\n    f = io.read()\n    print(len(f.units))",
        file.to_str().unwrap(),
    ]);
    let read = run_bounded(&mut cmd, b"", LIMIT);
    assert_eq!(read.code, Some(0), "{}", read.stderr);
    assert_eq!(read.stdout.trim(), "10");
    let o = common::run_neuroloop(&["export", "nwb", tmp.path().to_str().unwrap()], LIMIT);
    o.expect_code(2).expect_stderr("manifest.json");
}
