//! NEST as the brain engine (bridges/nest, issue 13 part 3): runs the bridge's pytest suite
//! (`bridges/nest/tests`) with this build's `neuroloop` binary:
//!
//! * the Brunel network through the bridge in lockstep gives exactly the spike counts of the same file in
//!   one `nest.Simulate`, and rates within 5 % of `bridges/nest/brunel.py` (NEST on its own);
//! * the bridge's ports are the Rust brain's; an input spike comes out as in the Rust brain; rewards reach
//!   the dopamine synapses;
//! * bad network files and configurations give one line naming the key path, exit status 2, no traceback;
//! * `experiments/joystick_reward_learning_nest.toml` differs from `joystick_reward_learning.toml` only in
//!   the brain engine entry.
//!
//! Needs the Python environment with NEST 3.10: `scripts/setup_python.sh` and `scripts/setup_nest.sh`
//! (`scripts/test.sh` runs both). Without it the test fails, saying so. About 1-2 minutes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

#[test]
#[ignore = "compares with NEST 3.10: needs scripts/setup_nest.sh; scripts/test.sh runs it (--include-ignored)"]
fn the_nest_bridge_tests_pass() {
    let python = root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup_python.sh and scripts/setup_nest.sh first",
        python.display()
    );
    let nest = Command::new(&python)
        .args(["-c", "import nest, zenoh, numpy, pandas, pytest"])
        .env("PYNEST_QUIET", "1")
        .output()
        .expect("start python");
    assert!(
        nest.status.success(),
        "{} cannot import nest, zenoh, numpy, pandas and pytest: run scripts/setup_python.sh and \
         scripts/setup_nest.sh\n{}",
        python.display(),
        String::from_utf8_lossy(&nest.stderr)
    );
    let out = Command::new(&python)
        .current_dir(root())
        .args(["-m", "pytest", "-q", "bridges/nest/tests"])
        .env("NEUROLOOP_BIN", env!("CARGO_BIN_EXE_neuroloop"))
        .env("NEUROLOOP_PYTHON", &python)
        .env("PYTHONPATH", root().join("bridges/python"))
        .output()
        .expect("start pytest");
    assert!(
        out.status.success(),
        "bridges/nest/tests failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
