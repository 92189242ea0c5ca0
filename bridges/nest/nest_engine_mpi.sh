#!/bin/sh
# Starts the NEST brain engine (nest_engine.py) under MPI: `mpirun -np RANKS`, every rank with NEST built
# with MPI (`.venv-nest-mpi`, made by scripts/setup_nest_mpi.sh). Rank 0 talks to the coordinator, the
# other ranks follow it (bridges/nest/mpi_world.py). An experiment names it as the brain's kind:
#   [engines.brain]
#   kind = "../bridges/nest/nest_engine_mpi.sh"
#   args = ["--ranks", "2"]                # default 2
#   config = { network_file = "...", threads = 1 }   # threads per rank
# NEUROLOOP_MPIRUN_ARGS adds options to mpirun (e.g. a hostfile); NEUROLOOP_PYTHON picks the interpreter.
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${NEUROLOOP_PYTHON:-$root/.venv-nest-mpi/bin/python}"
ranks=2
if [ "$1" = "--ranks" ]; then
    ranks="$2"
    shift 2
fi
case "$ranks" in
    ''|*[!0-9]*|0) echo "nest_engine_mpi.sh: --ranks takes a whole number >= 1 (got '$ranks')" >&2; exit 2 ;;
esac
if [ ! -x "$python" ]; then
    echo "nest_engine_mpi.sh: $python not found: run scripts/setup_nest_mpi.sh first (or set NEUROLOOP_PYTHON)" >&2
    exit 127
fi
if ! command -v mpirun >/dev/null 2>&1; then
    echo "nest_engine_mpi.sh: mpirun not found: run scripts/setup_nest_mpi.sh first" >&2
    exit 127
fi
export PYTHONPATH="$root/bridges/python:$here${PYTHONPATH:+:$PYTHONPATH}"
# OpenMPI refuses root unless told; more ranks than cores is allowed (oversubscribed ranks yield).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck disable=SC2086 # NEUROLOOP_MPIRUN_ARGS is a list of options
exec mpirun --oversubscribe --bind-to none -np "$ranks" $NEUROLOOP_MPIRUN_ARGS "$python" "$here/nest_engine.py" "$@"
