//! The Gymnasium environments (`bridges/gym`, issue 13 part 2): their pytest suite passes against this
//! build's `neuroloop` binary and the installed native backend: with both backends Gymnasium's env
//! checker, `reset(seed)` determinism, the end of a trial, potential-based shaping, `AsyncVectorEnv` of
//! two envs; the native backend equal to the zenoh one bit for bit, its vector env equal to N single
//! envs, the sensor summaries; the zenoh vector env (N bodies in one run); the light agent's CI-sized
//! training run (numpy cross-entropy method, about 20 s to a minute: it must beat a random policy); and
//! the shortened PPO training when stable-baselines3 is installed (`scripts/setup_python.sh --rl`;
//! skipped otherwise, saying so).
//!
//! Needs the Python environment: run `scripts/setup_python.sh` (it creates `.venv` in the repository
//! root with gymnasium and the `neuroloop_gym` package, and builds the native backend, the extension
//! `neuroloop_gym_native`, rebuilding it when its Rust sources changed). Without it the test fails,
//! saying so.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall-clock bound of the pytest run (about 2 minutes without the PPO test, a few more with it).
const LIMIT: Duration = Duration::from_secs(900);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

#[test]
fn the_gymnasium_environment_tests_pass() {
    let root = root();
    let python = root.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup_python.sh first (it installs gymnasium and bridges/gym)",
        python.display()
    );
    let logs = tempfile::tempdir().expect("temporary folder");
    let out_path = logs.path().join("stdout.txt");
    let err_path = logs.path().join("stderr.txt");
    let path = format!(
        "{}:{}",
        root.join("bridges/python").display(),
        root.join("bridges/gym").display()
    );
    let mut child = Command::new(&python)
        .current_dir(&root)
        .env("PYTHONPATH", path)
        .env("NEUROLOOP_BIN", env!("CARGO_BIN_EXE_neuroloop"))
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "bridges/gym/tests",
        ])
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("start pytest");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for pytest") {
            break s;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "bridges/gym/tests did not finish within {LIMIT:?}; killed it.\n{}",
                std::fs::read_to_string(&out_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.success(),
        "bridges/gym/tests failed ({status}):\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
}
