"""The NEST bridge under MPI (``mpirun -np N``): every rank builds and simulates the same network (NEST
distributes the neurons over the ranks), and rank 0 alone speaks to the coordinator (zenoh). Rank 0
tells the others what to do next (``command``: build, advance one sync step, shut down), and gathers
the spikes, which each rank's spike recorder holds only for its own neurons (``gather``).

Without MPI (no ``mpirun``, or one rank) a :class:`World` is a no-op: ``rank`` 0, ``size`` 1, commands
go nowhere and a gather returns the caller's own arrays.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

#: Variables by which mpirun (OpenMPI, MPICH / Hydra, Slurm's PMI) tells a process its world size.
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE")


def launched_by_mpi() -> bool:
    """True in a process that mpirun started with more than one rank."""
    for v in _SIZE_VARIABLES:
        try:
            if int(os.environ.get(v, "1")) > 1:
                return True
        except ValueError:
            pass
    return False


class World:
    """The ranks of this run: ``COMM_WORLD`` of mpi4py under mpirun, else a world of one."""

    def __init__(self):
        self.comm = None
        self.rank, self.size = 0, 1
        if launched_by_mpi():
            try:
                from mpi4py import MPI  # noqa: PLC0415
            except ImportError as e:
                raise RuntimeError(f"started by mpirun, but mpi4py is not installed for {sys.executable} ({e}): "
                                   "run scripts/setup_nest_mpi.sh and use .venv-nest-mpi") from None
            self.comm = MPI.COMM_WORLD
            self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()

    @property
    def root(self) -> bool:
        return self.rank == 0

    def command(self, what: str, arg: Any = None) -> None:
        """Rank 0: tells the other ranks to do ``what`` with ``arg`` (they are in :meth:`serve`)."""
        if self.comm is not None:
            self.comm.bcast((what, arg), root=0)

    def gather(self, *arrays: np.ndarray) -> Optional[Tuple[np.ndarray, ...]]:
        """Every rank's arrays, concatenated in rank order, on rank 0 (None on the others)."""
        if self.comm is None:
            return arrays
        parts = self.comm.gather(arrays, root=0)
        if parts is None:
            return None
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(len(arrays)))

    def first_error(self, error: Any) -> Optional[Tuple[int, Any]]:
        """Collective: ``(rank, error)`` of the first rank (in rank order) whose ``error`` is not None,
        or None if there is none."""
        errors: List[Any] = [error] if self.comm is None else self.comm.allgather(error)
        for rank, e in enumerate(errors):
            if e is not None:
                return rank, e
        return None

    def serve(self, handlers: dict[str, Callable[[Any], bool]]) -> None:
        """Ranks 1..N-1: do what rank 0 says until a handler returns False."""
        while True:
            what, arg = self.comm.bcast(None, root=0)
            if not handlers[what](arg):
                return
