"""The zenoh backend's tests need the `neuroloop` binary: $NEUROLOOP_BIN, else target/release or
target/debug of the repository, else the PATH; without one they are skipped, saying so. The native
backend's tests need the extension neuroloop_gym_native (scripts/setup_python.sh builds it); without it
they fail, saying so."""

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


@pytest.fixture(scope="session")
def native():
    """The extension neuroloop_gym_native; a test that needs it fails without it (setup_python.sh
    installs it, and the native backend is the default)."""
    from neuroloop_gym import native as nat

    if not nat.available():
        pytest.fail("neuroloop_gym_native is not installed: run scripts/setup_python.sh (it builds "
                    "bridges/gym/native with maturin)")
    return nat


@pytest.fixture(params=["native", "zenoh"])
def backend(request):
    """Both backends; the zenoh one needs the binary (skipped without), the native one the extension."""
    if request.param == "zenoh":
        request.getfixturevalue("binary")
    else:
        request.getfixturevalue("native")
    return request.param
