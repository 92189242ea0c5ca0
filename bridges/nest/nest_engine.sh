#!/bin/sh
# Starts the NEST brain engine (nest_engine.py) with the repository's Python environment (.venv, made by
# scripts/setup_python.sh and scripts/setup_nest.sh: zenoh, numpy, NEST 3.10) and the neuroloop SDK of
# bridges/python on the path. An experiment names it as the brain's kind:
#   [engines.brain]
#   kind = "../bridges/nest/nest_engine.sh"
# Set NEUROLOOP_PYTHON to use another interpreter (one that can `import nest`).
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${NEUROLOOP_PYTHON:-$root/.venv/bin/python}"
if [ ! -x "$python" ]; then
    echo "nest_engine.sh: $python not found: run scripts/setup_python.sh and scripts/setup_nest.sh first (or set NEUROLOOP_PYTHON)" >&2
    exit 127
fi
export PYTHONPATH="$root/bridges/python:$here${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" "$here/nest_engine.py" "$@"
