#!/usr/bin/env bash
# Installs NEST 3.10 (PyPI package nest-simulator) into the repository's virtual environment `.venv`,
# which bridges/nest/ and the reference tests of neuroloop-brain (crates/brain/tests/against_nest.rs)
# use. The same venv holds zenoh and numpy (scripts/setup_python.sh); this script adds to it and removes
# nothing. Idempotent: if `import nest` already works with a 3.10 version, it only says so.
#
#   scripts/setup_nest.sh              # uses python3 from PATH (NEST 3.10 ships a cp311 wheel)
#   PYTHON=python3.11 scripts/setup_nest.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    "$python" -m venv "$venv"
fi

nest_version() {
    # NEST prints a banner on import; keep only our line.
    PYNEST_QUIET=1 "$venv/bin/python" -c 'import nest; print("NESTVERSION", nest.__version__)' 2>/dev/null \
        | sed -n 's/^NESTVERSION //p'
}

# Only touch the network when NEST is missing or has the wrong version.
v="$(nest_version || true)"
if [[ "$v" == 3.10* ]]; then
    echo "$venv is ready (NEST $v)" >&2
    exit 0
fi

echo "installing nest-simulator 3.10.x into $venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "nest-simulator==3.10.*"
v="$(nest_version)"
if [[ "$v" != 3.10* ]]; then
    echo "error: NEST did not import from $venv after installing (got '${v}')" >&2
    exit 1
fi
echo "$venv is ready (NEST $v)" >&2
