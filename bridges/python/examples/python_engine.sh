#!/bin/sh
# Starts a Python engine script (the first argument, relative to this folder) with the repository's
# Python environment (.venv, made by scripts/setup_python.sh, where the neuroloop package is installed).
# An experiment names it as the engine's kind with the script in `args`:
#   kind = "../bridges/python/examples/python_engine.sh"
#   args = ["joystick_pd.py"]
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
python="${NEUROLOOP_PYTHON:-$root/.venv/bin/python}"
if [ ! -x "$python" ]; then
    echo "python_engine.sh: $python not found: run scripts/setup_python.sh first (or set NEUROLOOP_PYTHON)" >&2
    exit 127
fi
script="$1"
shift
export PYTHONPATH="$root/bridges/python${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" "$here/$script" "$@"
