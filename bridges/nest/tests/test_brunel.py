"""The Brunel network (crates/brain/networks/brunel.toml, 2,000 E + 500 I, engine seed 7, 2 threads)
through the bridge, in lockstep at 1 ms for 1 s (brunel_nest.toml), against NEST on its own:

* the same file built by the bridge and run in ONE nest.Simulate (no Prepare/Run/Cleanup pieces, no
  recorder emptying, no ports): exactly the same number of spikes in each population (NEST's results do
  not depend on how a simulation is cut into pieces);
* bridges/nest/brunel.py (an independent PyNEST script of the same model at scale 0.2, seed 7, 2
  threads; one Poisson generator for both populations, so other random streams): each population's rate
  within 5 % (measured 2026-12-06: E 37.66 vs 37.86 Hz, I 38.39 vs 38.82 Hz; brunel.py's own spread over
  seeds 7-9 is 37.8-38.7 Hz for E and 38.7-39.3 Hz for I).
"""

import json

import numpy as np

from conftest import HERE, ROOT, run_cli, run_neuroloop

TOLERANCE = 0.05  # relative, per population rate


def test_brunel_through_the_bridge_gives_nest_standalone_rates(tmp_path):
    out = tmp_path / "run"
    r = run_neuroloop("run", HERE / "brunel_nest.toml", "--quiet", "--output", out)
    assert r.returncode == 0, r.stderr
    import neuroloop as nl  # noqa: PLC0415

    run = nl.read_run(out)
    bridge = {p: run.recording(f"brain.{p}") for p in ("E", "I")}
    n = {"E": 2000, "I": 500}
    # The spike ports carry NEST's stamps: in (0, 1000] ms, neuron indices inside the population.
    for p, df in bridge.items():
        assert df["t_ms"].min() > 0 and df["t_ms"].max() <= 1000.0
        assert df["neuron"].max() < n[p]
    # The rates port: the spikes of each 1 ms step over the population.
    rates = run.recording("brain.rates")
    assert np.isclose(rates["E"].sum() * 2000 * 1e-3, len(bridge["E"]))

    alone = run_cli("--simulate", ROOT / "crates/brain/networks/brunel.toml", "--ms", 1000, "--seed", 7,
                    "--threads", 2)
    assert alone.returncode == 0, alone.stderr
    alone = {p["name"]: p for p in json.loads(alone.stdout)["populations"]}
    for p in ("E", "I"):
        assert len(bridge[p]) == alone[p]["spikes"], p

    ref = run_cli_script("brunel.py", "--scale", 0.2, "--seed", 7, "--threads", 2, "--sim-ms", 1000)
    for p, key in (("E", "rate_e_hz"), ("I", "rate_i_hz")):
        rate = len(bridge[p]) / n[p]
        assert abs(rate - ref[key]) <= TOLERANCE * ref[key], (p, rate, ref[key])


def run_cli_script(name, *args):
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    r = subprocess.run([sys.executable, str(ROOT / "bridges/nest" / name), *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)
