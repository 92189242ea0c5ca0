#!/usr/bin/env python3
"""Run NEST's plastic synapses on scripted spike trains and print their weight trajectories as JSON
(reference data for neuroloop-brain's plasticity module, see crates/brain/tests/stdp_vs_nest.rs).

Reads one JSON request on stdin, runs every scenario with NEST 3.10 (one thread, a fresh kernel per
scenario) and prints one JSON object on stdout. Set up NEST first with ``scripts/setup_nest.sh``; run as

    .venv/bin/python bridges/nest/stdp.py < request.json

Network of a scenario (every train is scripted; parrot_neurons repeat what they get on receptor 0)::

    spike_generator -> parrot (pre i) --synapse_model, delay_i, receptor_type 1--> parrot (post)
    spike_generator -> parrot (post)                      (receptor 0: makes the post parrot fire)
    spike_generator -> parrot (dopa) --vt_delay_ms--> volume_transmitter   (stdp_dopamine_synapse only)

Receptor 1 of a parrot_neuron ignores spikes, so the plastic synapses do not drive the post parrot;
its firing is the scripted post train. Request::

    {
      "resolution_ms": 0.1,
      "scenarios": [
        {
          "name": "additive",                      # echoed back
          "synapse_model": "stdp_synapse",         # or "stdp_dopamine_synapse"
          "params": {"lambda": 0.05, "mu_plus": 0.0},
                                                   # stdp_synapse: set per connection;
                                                   # stdp_dopamine_synapse: common properties (CopyModel)
          "tau_minus": 20.0,                       # of the post parrot (ms)
          "input_delay_ms": 1.0,                   # generator -> parrot delay (default: resolution)
          "synapses": [{"pre_times_ms": [5.0, 12.3], "delay_ms": 1.0, "weight": 50.0}],
          "post_times_ms": [7.0, 20.0],            # spike times of the post parrot
          "dopa_times_ms": [30.0, 30.0],           # spike times of the dopamine parrot (repeats:
                                                   # multiplicity), stdp_dopamine_synapse only
          "vt_delay_ms": 1.0,                      # dopa parrot -> volume_transmitter delay
          "deliver_interval": 1,                   # of the volume_transmitter
          "sim_ms": 200.0,
          "sample_every_ms": 10.0                  # read the synapses' state after each such chunk
        }
      ]
    }

Spike times are those of the parrots (ms, on the grid, > input_delay_ms): a generator spike at t
reaches a parrot, which fires, at t + input_delay_ms; the bridge shifts the generator times. Dopamine
spikes reach the volume transmitter at t + vt_delay_ms.

Response::

    {"nest_version": "3.10.0", "resolution_ms": 0.1,
     "scenarios": [{"name": ..., "min_delay_ms": 1.0,
                    "sent": [[[t_ms, weight], ...], ...],   # per synapse, from a weight_recorder: the
                                                           # weight after the update at each pre spike
                    "samples": [{"t_ms": 10.0, "synapses": [{"weight": ., "Kplus": ., "c": ., "n": .}]}]}]}

A sample at T is read after Simulate() has run up to T (T a multiple of min_delay): every slice up
to T has been updated (including volume transmitter triggers at T), but the pre spikes of the last
slice are delivered only when the simulation goes on.
"""

import json
import os
import sys


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


def _parrot_fed(nest, times_ms, input_delay):
    """A parrot_neuron firing at times_ms (a spike_generator with the times shifted by input_delay)."""
    parrot = nest.Create("parrot_neuron")
    gen_times = sorted(round(t - input_delay, 6) for t in times_ms)
    if gen_times and gen_times[0] <= 0.0:
        raise ValueError(f"spike time {gen_times[0] + input_delay} ms is not after input_delay_ms")
    gen = nest.Create("spike_generator", params={"spike_times": gen_times})
    nest.Connect(gen, parrot, syn_spec={"synapse_model": "static_synapse", "delay": input_delay})
    return parrot


def run_scenario(nest, h, sc):
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus({"resolution": h, "local_num_threads": 1, "print_time": False})

    model = sc["synapse_model"]
    dopamine = model == "stdp_dopamine_synapse"
    params = dict(sc.get("params", {}))
    input_delay = float(sc.get("input_delay_ms", h))

    wr = nest.Create("weight_recorder")
    common = {"weight_recorder": wr}
    if dopamine:
        vt = nest.Create("volume_transmitter", params={"deliver_interval": int(sc.get("deliver_interval", 1))})
        common["volume_transmitter"] = vt
        common.update(params)
        params = {}
    nest.CopyModel(model, "plastic", common)

    post = _parrot_fed(nest, sc.get("post_times_ms", []), input_delay)
    post.set({"tau_minus": float(sc.get("tau_minus", 20.0))})
    pres = []
    for syn in sc["synapses"]:
        pre = _parrot_fed(nest, syn["pre_times_ms"], input_delay)
        spec = {"synapse_model": "plastic", "receptor_type": 1, "delay": float(syn["delay_ms"]),
                "weight": float(syn["weight"])}
        spec.update(params)
        nest.Connect(pre, post, syn_spec=spec)
        pres.append(pre)
    if dopamine:
        dopa = _parrot_fed(nest, sc.get("dopa_times_ms", []), input_delay)
        nest.Connect(dopa, vt, syn_spec={"synapse_model": "static_synapse", "delay": float(sc.get("vt_delay_ms", h))})

    index = {pre.global_id: i for i, pre in enumerate(pres)}
    keys = ["source", "weight", "Kplus"] + (["c", "n"] if dopamine else [])

    def read_states():
        states = [None] * len(pres)
        conns = nest.GetConnections(target=post, synapse_model="plastic")
        got = conns.get(keys)
        if len(conns) == 1:  # NEST returns scalars for one connection
            got = {k: [v] for k, v in got.items()}
        for j, src in enumerate(got["source"]):
            states[index[src]] = {k: float(got[k][j]) for k in keys if k != "source"}
        return states

    sim_ms = float(sc["sim_ms"])
    every = float(sc.get("sample_every_ms", sim_ms))
    samples = []
    t = 0.0
    while t < sim_ms - 0.5 * h:
        step = min(every, sim_ms - t)
        nest.Simulate(step)
        t = nest.biological_time
        samples.append({"t_ms": t, "synapses": read_states()})

    ev = wr.get("events")
    sent = [[] for _ in pres]
    for s, tt, w in zip(ev["senders"], ev["times"], ev["weights"]):
        sent[index[int(s)]].append([float(tt), float(w)])
    return {
        "name": sc.get("name", ""),
        "min_delay_ms": float(nest.GetKernelStatus("min_delay")),
        "sent": sent,
        "samples": samples,
    }


def main():
    req = json.load(sys.stdin)
    nest = _import_nest()
    h = float(req.get("resolution_ms", 0.1))
    results = [run_scenario(nest, h, sc) for sc in req["scenarios"]]
    json.dump({"nest_version": nest.__version__, "resolution_ms": h, "scenarios": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
