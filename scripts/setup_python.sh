#!/usr/bin/env bash
# Sets up the Python environment of the neuroloop Python engine SDK (bridges/python):
# a virtual environment `.venv` in the repository root with eclipse-zenoh 1.10.x (the zenoh version
# neuroloop speaks) and numpy. Idempotent: re-running it only checks that both are installed.
#
#   scripts/setup_python.sh            # uses python3 from PATH
#   PYTHON=python3.12 scripts/setup_python.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    "$python" -m venv "$venv"
fi

# Only touch the network when something is missing or has the wrong version.
if "$venv/bin/python" - <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
import numpy  # noqa: F401
import zenoh  # noqa: F401
sys.exit(0 if version("eclipse-zenoh").startswith("1.10.") else 1)
PY
then
    echo "$venv is ready (eclipse-zenoh $("$venv/bin/python" -c 'from importlib.metadata import version; print(version("eclipse-zenoh"))'), numpy $("$venv/bin/python" -c 'import numpy; print(numpy.__version__)'))" >&2
    exit 0
fi

echo "installing eclipse-zenoh 1.10.x and numpy into $venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "eclipse-zenoh==1.10.*" numpy
"$venv/bin/python" -c 'import zenoh, numpy' 
echo "$venv is ready (eclipse-zenoh $("$venv/bin/python" -c 'from importlib.metadata import version; print(version("eclipse-zenoh"))'), numpy $("$venv/bin/python" -c 'import numpy; print(numpy.__version__)'))" >&2
