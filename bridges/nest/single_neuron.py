#!/usr/bin/env python3
"""Run single NEST neurons on given input and print their traces as JSON (reference data for neuroloop-brain).

Reads one JSON request on stdin, runs every scenario in it with NEST 3.10 (one thread, a fresh kernel per
scenario) and prints one JSON object on stdout. Set up NEST first with ``scripts/setup_nest.sh``; run as

    .venv/bin/python bridges/nest/single_neuron.py < request.json

Request::

    {
      "resolution_ms": 0.1,                       # simulation grid h (default 0.1)
      "float_bits": false,                        # optional: also give each recorded value's IEEE-754
                                                  # bits as an unsigned integer ("V_m_bits": [...]),
                                                  # for bit-exact comparisons (JSON decimal parsers
                                                  # may be off by an ulp)
      "scenarios": [
        {
          "name": "dc_supra",                     # echoed back
          "model": "iaf_psc_exp",                 # any NEST neuron model
          "params": {"tau_m": 10.0, "I_e": 0.0},  # SetStatus on the neuron (NEST names and units)
          "V_m": -70.0,                           # initial V_m, set after params; optional (NEST keeps
                                                  # V_m when only E_L is set: give it with a new E_L)
          "sim_ms": 50.0,
          "dc": {"amplitude": 400.0, "start": 5.0, "stop": 30.0},         # pA, ms; optional
          "spikes_ex": [[10.0, 100.0], [12.5, 50.0]],                     # [time_ms, weight]; optional
          "spikes_in": [[20.0, -80.0]],                                   # weight < 0 for the psc models
          "delay_ms": 0.1,                        # delay of the spike connections (default: h)
          "record": ["V_m", "I_syn_ex"]           # recordables (default ["V_m"])
        }
      ]
    }

Response::

    {"nest_version": "3.10.0", "resolution_ms": 0.1,
     "scenarios": [{"name": ..., "times_ms": [...], "V_m": [...], ..., "spike_times_ms": [...]}]}

    (with "float_bits": true, each scenario also has "V_m_bits": [...] etc.)

Timing (NEST's grid conventions; the Rust side reproduces them step for step):

* The multimeter (interval = h) stamps the state at the END of each step: the k-th sample, at t_k = k h
  (k = 1 .. sim_ms/h), is the state after k updates. t = 0 is not recorded.
* A spike of the spike_generator at time t_s (on the grid, > 0) travelling with delay d is added to the
  neuron's input in the update step that ENDS at t_s + d, after that step's membrane update: it moves V_m
  (iaf_psc_delta) or the synaptic current (psc models) at t_s + d. Spikes are grouped into one generator per
  distinct weight, each with a static_synapse of that weight.
* The dc_generator is connected with delay h. NEST marks a current generator active in step T (from T h to
  T h + h) when start < T h + 2h <= stop and sends its CurrentEvent then; the neuron reads it one step later
  (in the step from t_k to t_k + h with start <= t_k < stop: the current "arrives" there) and, like every
  iaf model, latches it as I_stim at the end of that step, so it drives the membrane one step later again:
  during the updates from t to t + h with start + h <= t < stop + h.
* The multimeter hands over its last sample only in a later slice, so the network is simulated for
  sim_ms + h and the samples and spikes after sim_ms are dropped.
* spike_recorder times are step ends: a spike emitted in the update from t to t + h is stamped t + h.
"""

import json
import os
import struct
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


def _bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def run_scenario(nest, h, sc, float_bits=False):
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus({"resolution": h, "local_num_threads": 1, "print_time": False})

    neuron = nest.Create(sc["model"])
    if sc.get("params"):
        neuron.set(sc["params"])
    if "V_m" in sc:
        neuron.set({"V_m": float(sc["V_m"])})

    record = sc.get("record", ["V_m"])
    mm = nest.Create("multimeter", params={"interval": h, "record_from": record})
    nest.Connect(mm, neuron)
    sr = nest.Create("spike_recorder")
    nest.Connect(neuron, sr)

    dc = sc.get("dc")
    if dc:
        gen = nest.Create(
            "dc_generator",
            params={"amplitude": float(dc["amplitude"]), "start": float(dc["start"]), "stop": float(dc["stop"])},
        )
        nest.Connect(gen, neuron, syn_spec={"synapse_model": "static_synapse", "weight": 1.0, "delay": h})

    delay = float(sc.get("delay_ms", h))
    by_weight = {}
    for key in ("spikes_ex", "spikes_in"):
        for t, w in sc.get(key, []):
            by_weight.setdefault(float(w), []).append(float(t))
    for w, times in sorted(by_weight.items()):
        sg = nest.Create("spike_generator", params={"spike_times": sorted(times)})
        nest.Connect(sg, neuron, syn_spec={"synapse_model": "static_synapse", "weight": w, "delay": delay})

    sim_ms = float(sc["sim_ms"])
    nest.Simulate(sim_ms + h)

    ev = mm.get("events")
    times = [float(t) for t in ev["times"]]
    end = sim_ms + 0.5 * h
    order = sorted((i for i in range(len(times)) if times[i] < end), key=times.__getitem__)
    out = {"name": sc.get("name", ""), "times_ms": [times[i] for i in order]}
    for var in record:
        out[var] = [float(ev[var][i]) for i in order]
        if float_bits:
            out[var + "_bits"] = [_bits(x) for x in out[var]]
    out["spike_times_ms"] = sorted(float(t) for t in sr.get("events")["times"] if t < end)
    return out


def main():
    req = json.load(sys.stdin)
    nest = _import_nest()
    h = float(req.get("resolution_ms", 0.1))
    float_bits = bool(req.get("float_bits", False))
    results = [run_scenario(nest, h, sc, float_bits) for sc in req["scenarios"]]
    json.dump({"nest_version": nest.__version__, "resolution_ms": h, "scenarios": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
