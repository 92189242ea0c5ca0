#!/usr/bin/env python3
"""Potjans & Diesmann (2014) cortical microcircuit in NEST 3.10: the reference run of Benchmark 2
(docs: /work/shared/reference/brain.md), the same network as neuroloop-brain's
``src/network/microcircuit.rs`` (compared by ``examples/microcircuit.rs``, ``tests/microcircuit_vs_nest.rs``
and ``benches/brain_vs_nest.sh --network microcircuit``). Set up NEST first with ``scripts/setup_nest.sh``;
run as

    .venv/bin/python bridges/nest/microcircuit.py [--scale 0.25] [--threads 2] [--sim-ms 1000] [--seed 1]

Source: Potjans TC, Diesmann M (2014) Cereb Cortex 24:785-806, parameters of NEST's ``Potjans_2014``
example. Network at scale s (full in-degrees, as microcircuit.rs):

* 8 populations L23E, L23I, L4E, L4I, L5E, L5I, L6E, L6I of round(N_full s) (ties to even) ``iaf_psc_exp`` neurons
  (C_m 250 pF, tau_m 10 ms, tau_syn_ex = tau_syn_in = 0.5 ms, t_ref 2 ms, E_L -65, V_th -50, V_reset -65 mV),
  initial V_m ~ N(-58, 10) mV (not clipped);
* each projection source -> target with p > 0: K_full = ln(1 - p) / ln(1 - 1/(N_pre_full N_post_full)),
  round(K_full / N_post_full * N_post) synapses, ``fixed_total_number`` (autapses and multapses allowed);
* weights normal with 10 % relative sd, mean 87.81 pA from excitatory and -4 x 87.81 pA from inhibitory
  populations, L4E -> L23E doubled, sign-preserving (``nest.math.redraw``: excitatory in [0, inf),
  inhibitory in (-inf, 0]); delays normal, mean 1.5 ms (excitatory) / 0.75 ms (inhibitory), 50 % relative
  sd, redrawn below the resolution (min = 0.1 ms, as microcircuit.rs; NEST's own example uses
  min = resolution / 2, which gives one-step delays slightly more often);
* background: one ``poisson_generator`` per population at 8 Hz x K_ext, all_to_all (an independent train
  per target), weight 87.81 pA, delay 1.5 ms; resolution 0.1 ms; one ``spike_recorder`` per population.

Prints ONE JSON line on stdout with the keys of ``examples/microcircuit.rs`` (NEST's banner and
progress go to stderr)::

    {"simulator": "nest", "scale": 0.25, "threads": 2, "n_neurons": 19292, "n_synapses": ...,
     "build_s": ..., "sim_s": ..., "rates_hz": [8 rates, L23E .. L6I], "peak_rss_mb": ...}

Definitions (the Rust side uses the same ones):

* ``n_synapses``: recurrent connections only (``num_connections`` right after the recurrent ``Connect``
  calls, before the generators and recorders are connected);
* ``rates_hz``: all spikes recorded during ``Simulate(sim_ms)`` / (N * sim_ms / 1000), after an uncounted
  ``Simulate(presim_ms)`` when ``--presim-ms`` is given (NEST's example uses 500 ms);
* ``build_s``: wall time of creating and connecting everything (after ResetKernel and the kernel
  settings); ``sim_s``: wall time of ``nest.Simulate``;
* ``peak_rss_mb``: VmHWM of /proc/self/status / 1024 (the whole Python process, NEST included).
"""

import argparse
import json
import math
import os
import sys
import time

POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
N_FULL = [20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948]
# Rows = target, columns = source.
CONN_PROBS = [
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
]
K_EXT = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]
BG_RATE_HZ = 8.0
W_EXC_PA = 87.81
G_INH = -4.0
D_EXC_MS = 1.5
D_INH_MS = 0.75
W_REL_STD = 0.1
D_REL_STD = 0.5
POISSON_DELAY_MS = 1.5
RESOLUTION = 0.1  # ms
NEURON_PARAMS = {
    "C_m": 250.0,
    "tau_m": 10.0,
    "tau_syn_ex": 0.5,
    "tau_syn_in": 0.5,
    "t_ref": 2.0,
    "E_L": -65.0,
    "V_th": -50.0,
    "V_reset": -65.0,
}
V0_MEAN = -58.0
V0_STD = 10.0


def _import_nest():
    # NEST prints its banner on stdout; keep stdout clean for the JSON answer.
    os.environ.setdefault("PYNEST_QUIET", "1")
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        import nest  # noqa: PLC0415
    except ImportError as e:
        sys.stderr.write(f"{e}: NEST is not installed for {sys.executable}; run scripts/setup_nest.sh\n")
        sys.exit(2)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    return nest


def population_size(i, scale):
    # Ties to even (Python's round, NumPy's around), as NEST's example and microcircuit.rs.
    return int(round(N_FULL[i] * scale))


def synapse_count(target, source, scale):
    """Synapses source -> target at scale (full in-degrees), as microcircuit.rs::synapse_count."""
    p = CONN_PROBS[target][source]
    if p == 0.0:
        return 0
    n_pre, n_post = float(N_FULL[source]), float(N_FULL[target])
    k_full = math.log(1.0 - p) / math.log(1.0 - 1.0 / (n_pre * n_post))
    # Halves away from zero (Rust's f64::round), as microcircuit.rs.
    return int(math.floor(k_full / n_post * population_size(target, scale) + 0.5))


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sim-ms", type=float, default=1000.0)
    ap.add_argument("--presim-ms", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not (args.scale > 0.0) or any(population_size(i, args.scale) < 1 for i in range(8)):
        sys.stderr.write(f"--scale {args.scale} gives an empty population\n")
        sys.exit(2)
    if args.threads < 1 or not (args.sim_ms > 0.0) or args.seed < 1:
        sys.stderr.write("--threads must be >= 1, --sim-ms > 0, --seed >= 1\n")
        sys.exit(2)

    nest = _import_nest()
    sys.stderr.write(f"NEST {nest.__version__}\n")
    # Everything NEST says while working goes to stderr.
    saved_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        result = run(nest, args)
    finally:
        sys.stdout.flush()
        os.dup2(saved_stdout, 1)
        os.close(saved_stdout)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def run(nest, args):
    scale = args.scale
    sim_ms = float(args.sim_ms)

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus(
        {
            "resolution": RESOLUTION,
            "local_num_threads": args.threads,
            "rng_seed": args.seed,
            "print_time": False,
        }
    )

    t0 = time.perf_counter()
    pops = []
    for i in range(8):
        pop = nest.Create("iaf_psc_exp", population_size(i, scale), params=NEURON_PARAMS)
        pop.V_m = nest.random.normal(mean=V0_MEAN, std=V0_STD)
        pops.append(pop)

    for t in range(8):
        for s in range(8):
            n = synapse_count(t, s, scale)
            if n == 0:
                continue
            excitatory = s % 2 == 0
            w = W_EXC_PA if excitatory else G_INH * W_EXC_PA
            if s == 2 and t == 0:
                w *= 2.0  # L4E -> L23E
            d = D_EXC_MS if excitatory else D_INH_MS
            w_min, w_max = (0.0, math.inf) if excitatory else (-math.inf, 0.0)
            syn = {
                "synapse_model": "static_synapse",
                "weight": nest.math.redraw(
                    nest.random.normal(mean=w, std=abs(W_REL_STD * w)), min=w_min, max=w_max
                ),
                "delay": nest.math.redraw(
                    nest.random.normal(mean=d, std=D_REL_STD * d), min=RESOLUTION, max=math.inf
                ),
            }
            conn = {"rule": "fixed_total_number", "N": n, "allow_autapses": True, "allow_multapses": True}
            nest.Connect(pops[s], pops[t], conn, syn)
    n_synapses = int(nest.GetKernelStatus("num_connections"))

    recorders = []
    for i in range(8):
        pg = nest.Create("poisson_generator", params={"rate": BG_RATE_HZ * K_EXT[i]})
        nest.Connect(
            pg,
            pops[i],
            "all_to_all",
            {"synapse_model": "static_synapse", "weight": W_EXC_PA, "delay": POISSON_DELAY_MS},
        )
        rec = nest.Create("spike_recorder")
        nest.Connect(pops[i], rec)
        recorders.append(rec)
    build_s = time.perf_counter() - t0

    if args.presim_ms > 0:
        # NEST's example: a pre-simulation (t_presim) whose spikes are not counted.
        nest.Simulate(args.presim_ms)
        for rec in recorders:
            rec.n_events = 0
    t0 = time.perf_counter()
    nest.Simulate(sim_ms)
    sim_s = time.perf_counter() - t0

    rates = [rec.get("n_events") / (len(pop) * sim_ms / 1000.0) for rec, pop in zip(recorders, pops)]
    return {
        "simulator": "nest",
        "scale": scale,
        "threads": args.threads,
        "n_neurons": sum(len(p) for p in pops),
        "n_synapses": n_synapses,
        "build_s": round(build_s, 4),
        "sim_s": round(sim_s, 4),
        "rates_hz": rates,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


if __name__ == "__main__":
    main()
