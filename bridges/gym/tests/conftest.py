"""The tests need the `neuroloop` binary: $NEUROLOOP_BIN, else target/release or target/debug of the
repository, else the PATH; without one they are skipped, saying so."""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def neuroloop_binary():
    b = os.environ.get("NEUROLOOP_BIN")
    if b:
        return b
    for p in (ROOT / "target" / "release" / "neuroloop", ROOT / "target" / "debug" / "neuroloop"):
        if p.is_file():
            return str(p)
    return shutil.which("neuroloop")


@pytest.fixture(scope="session")
def binary():
    b = neuroloop_binary()
    if b is None:
        pytest.skip("no neuroloop binary: set NEUROLOOP_BIN or build it (cargo build --release)")
    os.environ["NEUROLOOP_BIN"] = b  # for AsyncVectorEnv's worker processes
    return b
