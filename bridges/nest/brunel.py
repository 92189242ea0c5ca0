#!/usr/bin/env python3
"""Brunel (2000) sparse balanced network (asynchronous-irregular regime) in NEST 3.10: the reference run of
Benchmark 1 (docs: /work/shared/reference/brain.md) that neuroloop-brain's `examples/brunel.rs` and
`tests/brunel_vs_nest.rs` compare with. Set up NEST first with ``scripts/setup_nest.sh``; run as

    .venv/bin/python bridges/nest/brunel.py [--scale 1] [--threads 2] [--sim-ms 1000] [--seed 1]

Network (scale s):

* N_E = round(10000 s) excitatory and N_I = round(2500 s) inhibitory ``iaf_psc_delta`` neurons with
  C_m = 1 pF, tau_m = 20 ms, t_ref = 2 ms, E_L = 0, V_reset = 10 mV, V_th = 20 mV, initial V_m = 0 mV;
* every neuron receives C_E = 1000 excitatory and C_I = 250 inhibitory inputs (NOT scaled), drawn with
  ``fixed_indegree``, autapses and multapses allowed; weights J = 0.1 mV (excitatory) and -g J = -0.5 mV
  (g = 5), delay 1.5 ms;
* external drive: one ``poisson_generator`` at eta nu_th C_E (nu_th = V_th / (J C_E tau_m), eta = 2:
  20 kHz), connected to every neuron with weight J and delay 1.5 ms (NEST's poisson_generator sends an
  independent train to each target);
* resolution 0.1 ms; a ``spike_recorder`` on all neurons.

Prints ONE JSON line on stdout (NEST's banner and progress go to stderr)::

    {"simulator": "nest", "scale": 1.0, "threads": 2, "sim_ms": 1000.0, "seed": 1,
     "n_neurons": 12500, "n_synapses": 15625000, "build_s": ..., "sim_s": ...,
     "rate_e_hz": ..., "rate_i_hz": ..., "cv_isi_e": ..., "peak_rss_mb": ...}

Definitions (the Rust side uses the same ones):

* ``n_synapses``: recurrent connections only (NEST's ``num_connections`` counted right after the
  recurrent ``Connect`` calls, before the generator and the recorder are connected);
* spikes counted: those with time in [0, sim_ms) (NEST stamps a spike at the end of its step, so a spike
  of the last step, stamped sim_ms, is left out);
* rate of a population = count / (N * sim_ms / 1000) in Hz;
* ``cv_isi_e``: for each excitatory neuron with at least 3 spikes, the ISIs of its sorted spike times,
  CV = std(ISI, ddof=0) / mean(ISI); the mean of these CVs over those neurons (NaN -> null if none);
* ``build_s``: wall time of creating and connecting the network (after ResetKernel and the kernel
  settings); ``sim_s``: wall time of ``nest.Simulate``;
* ``peak_rss_mb``: ``getrusage(RUSAGE_SELF).ru_maxrss / 1024`` (the whole Python process, NEST included).
"""

import argparse
import json
import math
import os
import resource
import sys
import time

# Model constants (brain.md, Benchmark 1).
N_E_FULL = 10000
N_I_FULL = 2500
C_E = 1000
C_I = 250
J = 0.1  # mV
G = 5.0
DELAY = 1.5  # ms
RESOLUTION = 0.1  # ms
ETA = 2.0
NEURON_PARAMS = {
    "C_m": 1.0,
    "tau_m": 20.0,
    "t_ref": 2.0,
    "E_L": 0.0,
    "V_reset": 10.0,
    "V_th": 20.0,
}
V_M0 = 0.0


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


def spike_stats(senders, times, first_id, n, sim_ms, need_cv):
    """Rate (Hz) and, if need_cv, mean CV of ISIs of the neurons first_id .. first_id + n - 1."""
    import numpy as np  # noqa: PLC0415

    senders = np.asarray(senders, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    keep = (senders >= first_id) & (senders < first_id + n) & (times >= 0.0) & (times < sim_ms)
    senders = senders[keep]
    times = times[keep]
    rate = float(len(times)) / (n * sim_ms / 1000.0)
    if not need_cv:
        return rate, None
    order = np.lexsort((times, senders))  # by sender, then time
    senders = senders[order]
    times = times[order]
    ids, starts, counts = np.unique(senders, return_index=True, return_counts=True)
    cvs = []
    for s, c in zip(starts, counts):
        if c < 3:
            continue
        isi = np.diff(times[s : s + c])
        cvs.append(float(np.std(isi) / np.mean(isi)))
    cv = float(np.mean(cvs)) if cvs else float("nan")
    return rate, cv


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sim-ms", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    nest = _import_nest()
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
    n_e = int(round(N_E_FULL * scale))
    n_i = int(round(N_I_FULL * scale))
    if n_e < 1 or n_i < 1:
        sys.stderr.write(f"scale {scale} gives an empty population (N_E={n_e}, N_I={n_i})\n")
        sys.exit(2)
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

    nu_th = NEURON_PARAMS["V_th"] / (J * C_E * NEURON_PARAMS["tau_m"])  # 1/ms
    p_rate = 1000.0 * ETA * nu_th * C_E  # Hz

    t0 = time.perf_counter()
    params = dict(NEURON_PARAMS, V_m=V_M0)
    nodes_e = nest.Create("iaf_psc_delta", n_e, params=params)
    nodes_i = nest.Create("iaf_psc_delta", n_i, params=params)
    noise = nest.Create("poisson_generator", params={"rate": p_rate})
    recorder = nest.Create("spike_recorder")

    nodes_all = nodes_e + nodes_i
    syn_e = {"synapse_model": "static_synapse", "weight": J, "delay": DELAY}
    syn_i = {"synapse_model": "static_synapse", "weight": -G * J, "delay": DELAY}
    conn_e = {"rule": "fixed_indegree", "indegree": C_E, "allow_autapses": True, "allow_multapses": True}
    conn_i = {"rule": "fixed_indegree", "indegree": C_I, "allow_autapses": True, "allow_multapses": True}
    nest.Connect(nodes_e, nodes_all, conn_e, syn_e)
    nest.Connect(nodes_i, nodes_all, conn_i, syn_i)
    n_synapses = int(nest.GetKernelStatus("num_connections"))

    nest.Connect(noise, nodes_all, "all_to_all", syn_e)
    nest.Connect(nodes_all, recorder)
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    nest.Simulate(sim_ms)
    sim_s = time.perf_counter() - t0

    ev = recorder.get("events")
    senders, times = ev["senders"], ev["times"]
    rate_e, cv_e = spike_stats(senders, times, nodes_e[0].global_id, n_e, sim_ms, True)
    rate_i, _ = spike_stats(senders, times, nodes_i[0].global_id, n_i, sim_ms, False)

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {
        "simulator": "nest",
        "nest_version": nest.__version__,
        "scale": scale,
        "threads": args.threads,
        "sim_ms": sim_ms,
        "seed": args.seed,
        "n_neurons": n_e + n_i,
        "n_synapses": n_synapses,
        "build_s": round(build_s, 4),
        "sim_s": round(sim_s, 4),
        "rate_e_hz": rate_e,
        "rate_i_hz": rate_i,
        "cv_isi_e": None if math.isnan(cv_e) else cv_e,
        "peak_rss_mb": round(peak_rss_mb, 1),
    }


if __name__ == "__main__":
    main()
