#!/usr/bin/env bash
# Sets up the Python side of neuroloop: a virtual environment `.venv` in the repository root with the
# neuroloop Python package (bridges/python, installed editable with `pip install -e`: the engine SDK,
# the `Run` client of `neuroloop control`, run-folder readers, the NWB export) and what it needs:
# eclipse-zenoh 1.10.x (the zenoh version neuroloop speaks), numpy, pandas, pyarrow, pynwb 4.x (NWB
# export), and pytest and nwbinspector for its tests; and the Gymnasium environments (bridges/gym,
# editable: the package neuroloop_gym, with gymnasium 1.2.x). Idempotent: re-running it only checks that
# everything is installed.
#
#   scripts/setup_python.sh            # uses python3 from PATH
#   PYTHON=python3.12 scripts/setup_python.sh
#   scripts/setup_python.sh --rl       # also stable-baselines3 and torch (PyPI's torch: the CUDA build,
#                                      # about 5 GB with its nvidia packages) for the PPO example and test
#   scripts/setup_python.sh --bench    # also MyoSuite (MuJoCo) for bridges/gym/examples/bench.py
set -euo pipefail

rl=0
bench=0
for arg in "$@"; do
    case "$arg" in
        --rl) rl=1 ;;
        --bench) bench=1 ;;
        *) echo "setup_python.sh: unknown argument $arg (--rl, --bench)" >&2; exit 2 ;;
    esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    "$python" -m venv "$venv"
fi

ready() {
    (cd / && "$venv/bin/python" - "$root" <<'PY' 2>/dev/null)
import sys
from importlib.metadata import version
from pathlib import Path
import numpy, pandas, pyarrow, pytest, zenoh, pynwb, nwbinspector, playwright, gymnasium  # noqa: F401
import neuroloop, neuroloop_gym
ok = version("eclipse-zenoh").startswith("1.10.") and version("pynwb").startswith("4.")
ok = ok and version("gymnasium").startswith("1.2.")
ok = ok and Path(neuroloop.__file__).resolve().is_relative_to(Path(sys.argv[1]) / "bridges" / "python")
ok = ok and Path(neuroloop_gym.__file__).resolve().is_relative_to(Path(sys.argv[1]) / "bridges" / "gym")
sys.exit(0 if ok else 1)
PY
}

# Only touch the network when something is missing or has the wrong version.
if ! ready; then
    echo "installing the neuroloop Python package (bridges/python, editable) and its dependencies into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root/bridges/python[test,nwb]" \
        -e "$root/bridges/gym[test]"
    ready || { echo "setup_python.sh: $venv is still not ready" >&2; exit 1; }
fi
has() { (cd / && "$venv/bin/python" -c "import $1" 2>/dev/null); }

# The native backend of neuroloop_gym: built from the workspace's crates (body, sensors, core) and
# bridges/gym/native; rebuilt when any of their sources, the manifests or Cargo.lock changed since.
native_so() { (cd / && "$venv/bin/python" -c "import neuroloop_gym_native as m, glob, os; print(glob.glob(os.path.join(os.path.dirname(m.__file__), '*.so'))[0])" 2>/dev/null); }
so="$(native_so || true)"
stale=1
if [ -n "$so" ] && [ -f "$so" ]; then
    newer="$(find "$root/crates/core" "$root/crates/body" "$root/crates/sensors" "$root/bridges/gym/native" \
        "$root/worlds" "$root/Cargo.toml" "$root/Cargo.lock" \( -name '*.rs' -o -name '*.toml' -o -name Cargo.lock \) \
        -newer "$so" -print -quit)"
    [ -z "$newer" ] && stale=0
fi
if [ "$stale" = 1 ]; then
    if ! has maturin; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2"
    fi
    echo "building the native backend of neuroloop_gym (bridges/gym/native, cargo profile python) into $venv" >&2
    (cd "$root" && VIRTUAL_ENV="$venv" "$venv/bin/maturin" develop --profile python \
        -m "$root/bridges/gym/native/Cargo.toml" >&2)
    has neuroloop_gym_native || { echo "setup_python.sh: the extension neuroloop_gym_native did not build" >&2; exit 1; }
fi
if [ "$rl" = 1 ] && ! has stable_baselines3; then
    echo "installing stable-baselines3 and torch (several GB) into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root/bridges/gym[rl]"
fi
if [ "$bench" = 1 ] && ! has myosuite; then
    echo "installing MyoSuite into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root/bridges/gym[bench]"
fi
echo "$venv is ready (neuroloop package from bridges/python; $("$venv/bin/python" -c 'from importlib.metadata import version as v; print(", ".join(f"{p} {v(p)}" for p in ("eclipse-zenoh", "pynwb", "gymnasium")))'))" >&2
