#!/bin/sh
# Starts p_controller.py with the repository's Python environment (.venv, made by scripts/setup_python.sh)
# and the neuroloop SDK of bridges/python on the path. `neuroloop run` starts this file as the engine
# process (kind = path to it); NEUROLOOP_RUN_ID, NEUROLOOP_ENGINE and NEUROLOOP_CONNECT pass through.
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
python="${NEUROLOOP_PYTHON:-$root/.venv/bin/python}"
if [ ! -x "$python" ]; then
    echo "p_controller.sh: $python not found: run scripts/setup_python.sh first (or set NEUROLOOP_PYTHON)" >&2
    exit 127
fi
export PYTHONPATH="$root/bridges/python${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" "$here/p_controller.py" "$@"
