"""The MPI plumbing of the bridge without MPI (the runs under mpirun are scripts/nest_mpi.sh's, which
needs NEST built with MPI): a world of one, the launcher's checks."""

import subprocess

import numpy as np

import mpi_world
from conftest import NEST_DIR


def test_without_mpirun_the_world_is_one_rank(monkeypatch):
    for v in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"):
        monkeypatch.delenv(v, raising=False)
    assert not mpi_world.launched_by_mpi()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "1")
    assert not mpi_world.launched_by_mpi()
    w = mpi_world.World()
    assert (w.rank, w.size, w.root) == (0, 1, True)
    w.command("advance", {"anything": 1})  # goes nowhere
    a, b = np.array([3, 1]), np.array([7.0, 8.0])
    ga, gb = w.gather(a, b)
    assert ga is a and gb is b
    assert w.first_error(None) is None
    assert w.first_error(("path", "why")) == (0, ("path", "why"))


def test_mpirun_is_recognised(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    assert mpi_world.launched_by_mpi()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "two")
    assert not mpi_world.launched_by_mpi()


def test_the_mpi_launcher_refuses_a_bad_rank_count_and_says_what_is_missing(tmp_path):
    launcher = NEST_DIR / "nest_engine_mpi.sh"
    for bad in ("0", "x", ""):
        r = subprocess.run([launcher, "--ranks", bad], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (bad, r.stderr)
        assert "--ranks" in r.stderr
    missing = tmp_path / "no-python"
    r = subprocess.run([launcher], capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "NEUROLOOP_PYTHON": str(missing)})
    assert r.returncode == 127
    assert "setup_nest_mpi.sh" in r.stderr and str(missing) in r.stderr
