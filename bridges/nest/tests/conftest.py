"""Shared helpers of the NEST bridge tests: paths, the neuroloop binary, running the engine's CLI."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
NEST_DIR = HERE.parent
ROOT = NEST_DIR.parents[1]
sys.path[:0] = [str(ROOT / "bridges" / "python"), str(NEST_DIR)]


def neuroloop_bin() -> str:
    """$NEUROLOOP_BIN, else `neuroloop` on the PATH; fails (never skips) without one."""
    exe = os.environ.get("NEUROLOOP_BIN") or shutil.which("neuroloop")
    assert exe, "set NEUROLOOP_BIN to the neuroloop binary (or put it on the PATH)"
    return exe


def engine_env() -> dict:
    """The environment for engines started by `neuroloop run`: the wrapper uses NEUROLOOP_PYTHON,
    else the repository's .venv; default to the interpreter running the tests."""
    env = dict(os.environ)
    env.setdefault("NEUROLOOP_PYTHON", sys.executable)
    return env


def run_neuroloop(*args, timeout=300):
    return subprocess.run([neuroloop_bin(), *map(str, args)], cwd=ROOT, env=engine_env(),
                          capture_output=True, text=True, timeout=timeout)


def run_cli(*args, timeout=300):
    """nest_engine.py's command line (--validate / --simulate) with this interpreter."""
    env = engine_env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bridges" / "python"), str(NEST_DIR)])
    return subprocess.run([sys.executable, str(NEST_DIR / "nest_engine.py"), *map(str, args)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def nest_engine():
    import nest_engine as ne  # noqa: PLC0415

    return ne
