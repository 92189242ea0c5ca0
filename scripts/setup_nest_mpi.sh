#!/usr/bin/env bash
# Builds NEST 3.10 with MPI (issue 13, part 3) into its own virtual environment `.venv-nest-mpi`, for the
# NEST brain engine under `mpirun` (bridges/nest/README.md, "Under MPI"). The PyPI wheel of NEST (what
# scripts/setup_nest.sh installs into `.venv`) has no MPI; this script compiles NEST from its source
# distribution on PyPI against OpenMPI and GSL from Debian, and builds mpi4py against the same OpenMPI.
# `.venv` is left as it is (the tests use the wheel).
#
#   scripts/setup_nest_mpi.sh            # about 40-60 minutes on 2 cores; idempotent
#   JOBS=4 scripts/setup_nest_mpi.sh     # parallel compile jobs (default: the number of cores)
#
# Needs apt-get (as root, or sudo) for: cmake openmpi-bin libopenmpi-dev libgsl-dev libltdl-dev libboost-dev.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-nest-mpi"
python="${PYTHON:-python3}"
jobs="${JOBS:-$(nproc)}"

# What is there already: NEST 3.10 built with MPI, mpi4py and the SDK's packages.
ready() {
    [ -x "$venv/bin/python" ] || return 1
    PYNEST_QUIET=1 "$venv/bin/python" - <<'EOF' 2>/dev/null | grep -q '^READY$'
import mpi4py, numpy, zenoh  # noqa: F401
from importlib.metadata import version
import nest
info = nest.GetKernelStatus("build_info")
ok = info["version"].startswith("3.10") and info["have_mpi"] and version("eclipse-zenoh").startswith("1.10.")
print("READY" if ok else "NO")
EOF
}

if ready; then
    echo "$venv is ready (NEST 3.10 with MPI)" >&2
    exit 0
fi

# System packages: OpenMPI, GSL, libltdl and cmake (Debian).
need=()
for p in cmake openmpi-bin libopenmpi-dev libgsl-dev libltdl-dev libboost-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "installing ${need[*]} (apt-get)" >&2
    sudo_=""
    [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q "${need[@]}" >&2 \
        || { $sudo_ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q "${need[@]}" >&2; }
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check --quiet)
# The SDK's packages (the same zenoh as .venv), and mpi4py compiled against Debian's OpenMPI.
"${pip[@]}" "eclipse-zenoh==1.10.*" numpy "cython>=3"
MPICC=mpicc "${pip[@]}" --no-binary mpi4py "mpi4py>=4"
"${pip[@]}" -e "$root/bridges/python"

# NEST from its source distribution with MPI (scikit-build-core drives NEST's cmake). The source and the
# build folder live in .build/nest-mpi, so an interrupted build resumes where it stopped.
work="$root/.build/nest-mpi"
src="$work/nest_simulator-3.10.0"
mkdir -p "$work"
if [ ! -f "$src/pyproject.toml" ]; then
    "$venv/bin/python" -m pip download --disable-pip-version-check --quiet --no-deps --no-binary nest-simulator \
        -d "$work" "nest-simulator==3.10.0"
    tar xzf "$work/nest_simulator-3.10.0.tar.gz" -C "$work"
fi
echo "building nest-simulator 3.10.0 with MPI from source in $work ($jobs jobs; this takes a long time)" >&2
CMAKE_BUILD_PARALLEL_LEVEL="$jobs" "${pip[@]}" -C build-dir="$work/build" \
    -C cmake.define.with-mpi=ON -C cmake.define.with-openmp=ON -C cmake.define.with-gsl=ON "$src"

if ! ready; then
    echo "error: NEST with MPI did not import from $venv after building" >&2
    exit 1
fi
echo "$venv is ready (NEST 3.10 with MPI; run the bridge with scripts/nest_mpi.sh)" >&2
