#!/usr/bin/env python3
"""NEST as the brain engine: a neuroloop engine (Python SDK, bridges/python) that builds a network file
of the Rust brain's format (crates/brain/src/network/spec.rs) in PyNEST 3.x and steps it in lockstep with
NEST's ``Prepare``/``Run``/``Cleanup``, with the Rust brain engine's ports (crates/brain/src/engine.rs):

* one spike input per ``[[inputs]]`` entry (size: its target population or group): spike i of the port
  reaches the target's neuron i through its own ``spike_generator`` with the entry's weight, arriving at
  ``round(t / h) * h + delay`` (but see the latency note below);
* one spike output per ``[[outputs]]`` entry (channel i = neuron i of the population or group), times as
  NEST stamps them (the end of the step in which the neuron fired), read from one ``spike_recorder``;
* a scalar input per volume transmitter with a ``reward_port``: a new value r > 0 becomes a dopamine spike
  of weight r at NEST's ``volume_transmitter`` (spike_generator -> parrot_neuron -> volume_transmitter:
  NEST does not connect devices to a volume transmitter directly);
* an analog output ``rates``: each population's mean rate over the last sync step (Hz).

Latency, the one difference from the Rust brain on the same input: NEST cannot make an input act in the
first resolution step of the next ``Run`` (a generator's spike must be in the future and then needs one
step of delay), so an input spike whose arrival time is already reached acts one resolution step later
than in the Rust brain (there: the first step of the sync step; here: the second), and a reward reaches
the volume transmitter two resolution steps later (generator, parrot, transmitter). Spikes due later
arrive exactly when they are due.

Configuration (``config`` of the engine entry): ``network_file`` (relative paths: to the experiment
file's folder, read from the run folder's manifest, as the coordinator does for built-in engines) or
``network`` (inline), ``threads`` (NEST's ``local_num_threads``, default 2), ``plasticity`` (default true;
false builds every plastic projection as ``static_synapse`` with the same weights and ignores rewards).
Not supported (refused with exit status 2): ``checkpoint_file`` and ``restore_file`` (the Rust brain's
checkpoint format). NEST's ``rng_seed`` is the engine's seed (when it is in [1, 2^31 - 1]; else
``seed % (2^31 - 1) + 1``).

Under MPI (``nest_engine_mpi.sh``: ``mpirun -np N`` with NEST built with MPI, scripts/setup_nest_mpi.sh)
every rank builds and steps the same network (:class:`NestCore`; NEST distributes the neurons), rank 0
alone is the engine the coordinator talks to, tells the other ranks each step's inputs and gathers their
spikes (``mpi_world.py``). ``threads`` is then per rank. The output spikes of a step are ordered by stamp
and neuron, so a run gives the same recordings whatever the ranks and threads, as long as their product
(NEST's virtual processes) is the same.

Also a command line tool for the same network files (``--simulate`` also under mpirun):

    nest_engine.py                                # the engine (started by `neuroloop run`)
    nest_engine.py --validate FILE                # read and build FILE in NEST; exit 2 with the problem
    nest_engine.py --simulate FILE --ms T [--seed S] [--threads N]
                                                  # build FILE and run it in one nest.Simulate(T);
                                                  # prints the spike count and rate of each population
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mpi_world  # noqa: E402
import network_file  # noqa: E402
from network_file import SpecError  # noqa: E402

try:
    import neuroloop as nl
except ImportError:  # Run from a checkout without PYTHONPATH: use the SDK of bridges/python.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    import neuroloop as nl

#: Events the spike recorder may hold before it is emptied (see NestBrain.step).
CLEAR_AT = 500

CONFIG_KEYS = ("network_file", "network", "threads", "plasticity", "checkpoint_file", "restore_file")


def import_nest():
    """Imports PyNEST quietly (its banner goes to stderr, stdout stays clean)."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        import nest  # noqa: PLC0415
    except ImportError as e:
        raise nl.ConfigError(f"NEST is not installed for {sys.executable} ({e}): run scripts/setup_nest.sh")
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    return nest


def nest_seed(seed: int) -> int:
    """NEST's rng_seed for an engine seed (NEST takes 1 .. 2^31 - 1)."""
    top = 2**31 - 1
    return seed if 1 <= seed <= top else seed % top + 1


def _nest_message(e: BaseException) -> str:
    """NEST's error text, on one line, without the C++ function names it sometimes carries."""
    text = " ".join(str(e).split())
    return text or type(e).__name__


class Network:
    """A network file built in NEST: the nodes, the port plumbing and the spike recorder."""

    def __init__(self, nest, spec: dict, *, seed: int, threads: int, plasticity: bool = True,
                 with_ports: bool = True):
        self.nest = nest
        self.spec = spec
        self.h = h = spec["resolution_ms"]
        self.plasticity = plasticity
        nest.ResetKernel()
        nest.verbosity = nest.VerbosityLevel.ERROR
        try:
            nest.SetKernelStatus({"resolution": h, "rng_seed": nest_seed(seed),
                                  "local_num_threads": threads, "print_time": False})
        except Exception as e:  # noqa: BLE001 - NEST's kernel refuses the value
            raise SpecError("resolution_ms", _nest_message(e)) from None

        # Populations first, in file order: global neuron index = NEST node id - 1.
        self.pops = []
        models = set(nest.node_models)
        for i, p in enumerate(spec["populations"]):
            path = f"populations[{i}]"
            if p["model"] not in models:
                raise SpecError(path + ".model", f'unknown model "{p["model"]}" (not a model of NEST '
                                                 f"{nest.__version__})")
            if nest.GetDefaults(p["model"], "element_type") != "neuron":
                raise SpecError(path + ".model", f'"{p["model"]}" is a NEST device, not a neuron model')
            if p["n"] == 0:
                raise SpecError(path + ".n", "a population needs at least one neuron in NEST")
            try:
                nodes = nest.Create(p["model"], p["n"], params=dict(p["params"]))
            except Exception as e:  # noqa: BLE001
                raise SpecError(path + ".params", _nest_message(e)) from None
            try:
                if p["V_m"] is not None:
                    nodes.V_m = self.param(p["V_m"])
                if p["tau_minus"] is not None:
                    nodes.tau_minus = p["tau_minus"]
            except Exception as e:  # noqa: BLE001
                raise SpecError(path + (".V_m" if p["V_m"] is not None else ".tau_minus"),
                                _nest_message(e)) from None
            self.pops.append(nodes)
        self.n_neurons = sum(p["n"] for p in spec["populations"])
        if self.n_neurons and self.pops[0][0].global_id != 1:
            raise RuntimeError("the first neuron is not NEST node 1")
        self.population_of = np.concatenate(
            [np.full(p["n"], i, dtype=np.int64) for i, p in enumerate(spec["populations"])]
        ) if self.pops else np.zeros(0, dtype=np.int64)

        # Volume transmitters (and the reward plumbing: generator -> parrot -> transmitter).
        self.vts = {}
        self.rewards = []  # (port name, generator, connection parrot -> vt)
        for i, v in enumerate(spec["volume_transmitters"]):
            path = f"volume_transmitters[{i}]"
            try:
                vt = nest.Create("volume_transmitter", params={"deliver_interval": v["deliver_interval"]})
                if v["population"] is not None:
                    nest.Connect(self.nodes(v["population"]), vt,
                                 syn_spec={"delay": v["delay"] if v["delay"] is not None else h})
                if v["reward_port"] is not None and with_ports:
                    gen = nest.Create("spike_generator")
                    parrot = nest.Create("parrot_neuron")
                    nest.Connect(gen, parrot, syn_spec={"delay": h})
                    nest.Connect(parrot, vt, syn_spec={"weight": 1.0, "delay": h})
                    conn = nest.GetConnections(parrot, vt)
                    self.rewards.append({"port": v["reward_port"], "gen": gen, "conn": conn, "weight": 1.0,
                                         "last_stamp": None})
            except Exception as e:  # noqa: BLE001
                raise SpecError(path, _nest_message(e)) from None
            self.vts[v["name"]] = vt

        # Projections, in file order (NEST's connection RNG streams follow this order).
        dopamine_models: Dict[str, str] = {}
        for i, q in enumerate(spec["projections"]):
            path = f"projections[{i}]"
            s = q["synapse"]
            c = q["connect"]
            conn = {"rule": c["rule"], "allow_autapses": c["allow_autapses"],
                    "allow_multapses": c["allow_multapses"]}
            for k in ("indegree", "outdegree", "N", "p"):
                if c[k] is not None:
                    conn[k] = c[k]
            syn: Dict[str, Any] = {"weight": self.param(s["weight"])}
            syn["delay"] = self.delay_param(s["delay"])
            model = s["synapse_model"]
            if not plasticity or model == "static_synapse":
                syn["synapse_model"] = "static_synapse"
            elif model == "stdp_synapse":
                syn["synapse_model"] = "stdp_synapse"
                syn.update(s["params"])
            else:
                # NEST 3: the volume transmitter and the parameters are common properties of a model.
                key = json.dumps([s["volume_transmitter"], s["params"]], sort_keys=True)
                if key not in dopamine_models:
                    name = f"neuroloop_dopamine_{len(dopamine_models)}"
                    try:
                        nest.CopyModel("stdp_dopamine_synapse", name,
                                       {"volume_transmitter": self.vts[s["volume_transmitter"]],
                                        **s["params"]})
                    except Exception as e:  # noqa: BLE001
                        raise SpecError(path + ".synapse.params", _nest_message(e)) from None
                    dopamine_models[key] = name
                syn["synapse_model"] = dopamine_models[key]
            src, tgt = q["source"], q["target"]
            if c["rule"] == "one_to_one":
                for which, ref in (("source", src), ("target", tgt)):
                    m = network_file.members(spec, ref)
                    if m != sorted(m):
                        raise SpecError(f"{path}.{which}", f'one_to_one with group "{ref}" listed out of '
                                        "order is not supported by the NEST bridge (NEST pairs neurons "
                                        "in node id order)")
            try:
                nest.Connect(self.nodes(src), self.nodes(tgt), conn, syn)
            except Exception as e:  # noqa: BLE001
                raise SpecError(path, _nest_message(e)) from None

        for i, g in enumerate(spec["poisson_generators"]):
            self._device(f"poisson_generators[{i}]", "poisson_generator", {"rate": g["rate"]}, g)
        for i, g in enumerate(spec["dc_generators"]):
            params = {"amplitude": g["amplitude"], "start": g["start"]}
            if g["stop"] is not None:
                params["stop"] = g["stop"]
            try:
                dc = nest.Create("dc_generator", params=params)
                nest.Connect(dc, self.nodes(g["target"]))
            except Exception as e:  # noqa: BLE001
                raise SpecError(f"dc_generators[{i}]", _nest_message(e)) from None
        for i, g in enumerate(spec["spike_generators"]):
            self._device(f"spike_generators[{i}]", "spike_generator", {"spike_times": g["spike_times"]}, g)
        # spike_recorders and multimeters of the file: the engine records every population anyway
        # (`rates`, the outputs) and, like the Rust brain engine, has no port for a multimeter.

        # Spike input ports: one generator per channel, one to one onto the target, delay h.
        self.inputs = []
        if with_ports:
            for i, inp in enumerate(spec["inputs"]):
                ids = network_file.members(spec, inp["target"])
                try:
                    gens = nest.Create("spike_generator", len(ids))
                    syn = {"weight": inp["weight"], "delay": h}
                    if ids == sorted(ids):
                        nest.Connect(gens, nest.NodeCollection([x + 1 for x in ids]), "one_to_one", syn)
                    else:  # a group listed out of order: channel j -> its j-th neuron, one by one
                        for j, x in enumerate(ids):
                            nest.Connect(gens[j], nest.NodeCollection([x + 1]), syn_spec=syn)
                except Exception as e:  # noqa: BLE001
                    raise SpecError(f"inputs[{i}]", _nest_message(e)) from None
                delay = inp["delay"] if inp["delay"] is not None else h
                self.inputs.append({"port": inp["name"], "first_gen": gens[0].global_id, "size": len(ids),
                                    "delay_steps": int(round(delay / h)), "pending": {}})

        # One spike recorder on every neuron: outputs and rates.
        self.recorder = nest.Create("spike_recorder")
        if self.n_neurons:
            nest.Connect(nest.NodeCollection(list(range(1, self.n_neurons + 1))), self.recorder)
        self.outputs = []
        for o in spec["outputs"]:
            ids = network_file.members(spec, o["population"])
            channel = np.full(self.n_neurons, -1, dtype=np.int64)
            channel[ids] = np.arange(len(ids))
            self.outputs.append({"port": o["name"], "size": len(ids), "channel": channel})
        self.steps = 0  # resolution steps simulated

    def _device(self, path, model, params, g):
        try:
            dev = self.nest.Create(model, params=params)
            self.nest.Connect(dev, self.nodes(g["target"]), "all_to_all",
                              {"weight": g["weight"], "delay": g["delay"] if g["delay"] is not None else self.h})
        except Exception as e:  # noqa: BLE001
            raise SpecError(path, _nest_message(e)) from None

    def nodes(self, reference: str):
        """The NodeCollection of a population or group (node ids in increasing order)."""
        ids = network_file.members(self.spec, reference)
        return self.nest.NodeCollection(sorted(x + 1 for x in ids))

    def param(self, d: dict):
        """A number or a NEST random parameter for a distribution of the file."""
        nest = self.nest
        if d["kind"] == "const":
            return d["value"]
        if d["kind"] == "uniform":
            return nest.random.uniform(min=d["min"], max=d["max"])
        p = nest.random.normal(mean=d["mean"], std=d["std"])
        if math.isinf(d["min"]) and math.isinf(d["max"]):
            return p
        return nest.math.redraw(p, min=d["min"], max=d["max"])

    def delay_param(self, d: Optional[dict]):
        """Delays: the resolution by default; drawn delays are redrawn below half a step (they round to
        no step at all), as the Rust brain does (connect.rs ``sample_delay``)."""
        if d is None:
            return self.h
        if d["kind"] == "const":
            return d["value"]
        base = dict(d, min=-math.inf, max=math.inf) if d["kind"] == "normal" else d
        p = self.param(base) if d["kind"] == "normal" else self.nest.random.uniform(min=d["min"], max=d["max"])
        return self.nest.math.redraw(p, min=max(d["min"], 0.5 * self.h), max=d["max"])

    def take_spikes(self, after_step: int = -1):
        """The spikes recorded with a stamp after step ``after_step``: global neuron index and stamp in
        steps (a spike in the step ending at k*h has stamp k)."""
        ev = self.recorder.get("events")
        senders = np.asarray(ev["senders"], dtype=np.int64)
        steps = np.rint(np.asarray(ev["times"], dtype=np.float64) / self.h).astype(np.int64)
        # With several threads the recorder keeps one list per thread, so new events are told apart
        # by their time, not by their position.
        keep = steps > after_step
        return senders[keep] - 1, steps[keep], len(senders)

    def clear_recorder(self, prepared: bool):
        """Empties the spike recorder. NEST refuses to change a recorder between Prepare and Cleanup,
        so a prepared kernel is cleaned up and prepared again around it (NEST's results do not depend
        on where a simulation is cut into Prepare/Run/Cleanup pieces)."""
        if prepared:
            self.nest.Cleanup()
        self.recorder.n_events = 0
        if prepared:
            self.nest.Prepare()


def neuron_map(engine: str, spec: dict) -> dict:
    """``<engine>.neurons.json``, the same document as the Rust brain's ``neuron_map``."""
    def ids_entry(ids):
        if ids == list(range(ids[0], ids[0] + len(ids))):
            return "range", [ids[0], ids[0] + len(ids)]
        return "list", ids

    pops, first = [], 0
    for p in spec["populations"]:
        groups = []
        for name, local in p["resolved_groups"]:
            kind, v = ids_entry(local)
            g = {"name": name, "size": len(local)}
            if kind == "range":
                g["local_range"], g["global_range"] = v, [first + v[0], first + v[1]]
            else:
                g["local_neurons"], g["global_ids"] = v, [first + i for i in v]
            groups.append(g)
        pops.append({"name": p["name"], "model": p["model"], "first_id": first, "size": p["n"], "groups": groups})
        first += p["n"]

    def port(name, ref):
        p, g = network_file.find(spec, ref)
        ids = network_file.members(spec, ref)
        m = {"port": name, "population": spec["populations"][p]["name"],
             "group": None if g is None else spec["populations"][p]["resolved_groups"][g][0], "size": len(ids)}
        kind, v = ids_entry(ids) if ids else ("range", [0, 0])
        m["global_range" if kind == "range" else "global_ids"] = v
        return m

    return {"engine": engine, "populations": pops,
            "inputs": [port(i["name"], i["target"]) for i in spec["inputs"]],
            "outputs": [port(o["name"], o["population"]) for o in spec["outputs"]]}


def _experiment_folder() -> Optional[Path]:
    """The folder of the experiment file of this run: the run folder's manifest names the file (as given
    to ``neuroloop run``, relative to its working directory, which the engine shares)."""
    run_dir = os.environ.get("NEUROLOOP_RUN_DIR")
    if not run_dir:
        return None
    try:
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
        return Path(manifest["experiment_file"]).resolve().parent
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_config(name: str, config: dict):
    """The engine's configuration, checked; returns (spec, threads, plasticity, which key)."""
    key = lambda k: f"engines.{name}.config.{k}"  # noqa: E731
    for k in config:
        if k not in CONFIG_KEYS:
            raise nl.ConfigError(f"engines.{name}.config: unknown field `{k}`, expected one of "
                                 f"{', '.join(f'`{c}`' for c in CONFIG_KEYS[:4])}")
    for k in ("checkpoint_file", "restore_file"):
        if k in config:
            raise nl.ConfigError(f"{key(k)}: not supported by the NEST bridge (the Rust brain's "
                                 "checkpoints cannot be loaded into NEST)")
    threads = config.get("threads", 2)
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 256:
        raise nl.ConfigError(f"{key('threads')}: {threads!r} threads")
    plasticity = config.get("plasticity", True)
    if not isinstance(plasticity, bool):
        raise nl.ConfigError(f"{key('plasticity')}: invalid type: {plasticity!r}, expected a boolean")
    has_file, has_inline = "network_file" in config, "network" in config
    if has_file == has_inline:
        raise nl.ConfigError(f"engines.{name}.config: give either `network_file` or `network` (a table)")
    if has_file:
        which = "network_file"
        path = config["network_file"]
        if not isinstance(path, str):
            raise nl.ConfigError(f"{key(which)}: expected a path (a string)")
        p = Path(path)
        if not p.is_absolute():
            folder = _experiment_folder()
            p = (folder / p) if folder is not None else p
        try:
            spec = network_file.load(p)
        except SpecError as e:
            raise nl.ConfigError(f"{key(which)}: {e}") from None
    else:
        which = "network"
        try:
            spec = network_file.parse(config["network"])
        except SpecError as e:
            raise nl.ConfigError(f"{key(which)}{'.' + e.path if e.path else ''}: {e.message}") from None
    return spec, threads, plasticity, which


class NestCore:
    """The network of one engine in NEST and its stepping, on every MPI rank alike (each rank runs the
    same NEST calls; NEST distributes the neurons). :class:`NestBrain` (rank 0) feeds it the inputs as
    plain arrays and gathers what every rank's recorder holds."""

    def __init__(self, spec: dict, *, seed: int, threads: int, plasticity: bool, steps_per_sync: int):
        self.nest = import_nest()
        self.net = Network(self.nest, spec, seed=seed, threads=threads, plasticity=plasticity)
        self.h = spec["resolution_ms"]
        self.steps_per_sync = steps_per_sync
        self.prepared = False

    def advance(self, plan: dict):
        """One sync step: ``plan["clear"]`` empties the recorder first, ``plan["inputs"]`` are the spike
        batches of the input ports (neuron indices, times in ms), ``plan["rewards"]`` per reward port the
        dopamine spike's weight or None. Returns this rank's new spikes (global neuron index, stamp in
        steps) and how many events its recorder holds."""
        nest, net, h = self.nest, self.net, self.h
        if not self.prepared:
            nest.Prepare()
            self.prepared = True
        if plan["clear"]:
            net.clear_recorder(prepared=True)
        now = net.steps
        # Input spikes: the generator of channel i fires one step before the arrival (delay h), and
        # not before the next step NEST simulates.
        for inp, (neuron, time_ms) in zip(net.inputs, plan["inputs"]):
            pending = inp["pending"]
            changed = set()
            if len(neuron):
                arrival = np.rint(time_ms / h).astype(np.int64) + inp["delay_steps"]
                fire = np.maximum(arrival - 1, now + 1)
                for i, k in zip(neuron.tolist(), fire.tolist()):
                    pending.setdefault(i, []).append(k)
                    changed.add(i)
            if changed:
                # One SetStatus for all the generators that got spikes (in node id order).
                order = sorted(changed)
                for i in order:
                    pending[i] = sorted(k for k in pending[i] if k > now)
                ids = [inp["first_gen"] + i for i in order]
                nest.NodeCollection(ids).set([{"spike_times": [k * h for k in pending[i]]} for i in order])
            for i in [i for i, v in pending.items() if i not in changed and v and v[-1] <= now]:
                del pending[i]
        for r, weight in zip(net.rewards, plan["rewards"]):
            if weight is None:
                continue
            if weight != r["weight"]:
                if len(r["conn"]):  # under MPI: on the rank that holds the connection
                    r["conn"].weight = weight
                r["weight"] = weight
            r["gen"].spike_times = [(now + 1) * h]
        nest.Run(self.steps_per_sync * h)
        neurons, steps, held = net.take_spikes(after_step=now)
        net.steps += self.steps_per_sync
        return neurons, steps, np.array([held], dtype=np.int64)

    def shutdown(self):
        if self.prepared:
            self.nest.Cleanup()
            self.prepared = False


def _build(world: mpi_world.World, arg: dict) -> Optional[NestCore]:
    """Collective: every rank builds the network; a rank's error (the first in rank order) is raised
    on every rank as a SpecError."""
    core, error = None, None
    try:
        core = NestCore(arg["spec"], seed=arg["seed"], threads=arg["threads"], plasticity=arg["plasticity"],
                        steps_per_sync=arg["steps_per_sync"])
    except SpecError as e:
        error = (e.path, e.message)
    except nl.ConfigError as e:
        error = ("", str(e))
    failed = world.first_error(error)
    if failed is not None:
        rank, (path, message) = failed
        raise SpecError(path, message + (f" (on MPI rank {rank})" if rank else ""))
    return core


class NestBrain(nl.Engine):
    """The engine (MPI rank 0). See the module docs."""

    def __init__(self, ctx: nl.InitContext, world: Optional[mpi_world.World] = None):
        self.world = world or mpi_world.World()
        self.name = ctx.name
        spec, threads, plasticity, which = read_config(ctx.name, ctx.config)
        h = spec["resolution_ms"]
        ratio = ctx.step_ms / h
        self.steps_per_sync = int(round(ratio))
        if not (self.steps_per_sync >= 1 and abs(ratio - self.steps_per_sync) < 1e-9 * self.steps_per_sync):
            raise nl.ConfigError(f"engines.{ctx.name}.step_ms: the sync step of {ctx.step_ms} ms is not a whole "
                                 f"number of the network's resolution_ms = {h}")
        arg = {"spec": spec, "seed": ctx.seed, "threads": threads, "plasticity": plasticity,
               "steps_per_sync": self.steps_per_sync}
        self.world.command("build", arg)
        try:
            self.core = _build(self.world, arg)
        except SpecError as e:
            where = f"engines.{ctx.name}.config.{which}"
            sep = ": " if which == "network_file" else "."
            raise nl.ConfigError(f"{where}{sep}{e}" if e.path else f"{where}: {e}") from None
        self.nest, self.net = self.core.nest, self.core.net
        self.spec = spec
        self.h = h
        run_dir = os.environ.get("NEUROLOOP_RUN_DIR")
        if run_dir:
            path = Path(run_dir) / f"{ctx.name}.neurons.json"
            path.write_text(json.dumps(neuron_map(ctx.name, spec), indent=2) + "\n")
        if not plasticity:
            print(f"engine {ctx.name}: plasticity is off: plastic synapses are static, rewards are ignored",
                  file=sys.stderr)
        if self.world.size > 1:
            print(f"engine {ctx.name}: NEST on {self.world.size} MPI ranks x {threads} threads", file=sys.stderr)
        self.pop_sizes = np.array([max(p["n"], 1) for p in spec["populations"]], dtype=np.float64)
        self.clear = False

    def ports(self):
        spec = self.spec
        ports = [nl.Port.input(i["name"], nl.Spikes(len(network_file.members(spec, i["target"]))))
                 for i in spec["inputs"]]
        ports += [nl.Port.output(o["name"], nl.Spikes(len(network_file.members(spec, o["population"]))))
                  for o in spec["outputs"]]
        ports += [nl.Port.input(v["reward_port"], nl.Scalar("1")) for v in spec["volume_transmitters"]
                  if v["reward_port"] is not None]
        ports.append(nl.Port.output("rates", nl.Analog([(p["name"], "Hz") for p in spec["populations"]])))
        return ports

    def step(self, t_ms, dt_ms, inputs, outputs):
        net, h = self.net, self.h
        plan = {"clear": self.clear, "inputs": [], "rewards": []}
        for inp in net.inputs:
            batch = inputs[inp["port"]]
            plan["inputs"].append((np.asarray(batch.neuron), np.asarray(batch.time_ms, dtype=np.float64)))
        for r in net.rewards:
            stamp = inputs.stamp(r["port"])
            weight = None
            if stamp is not None and stamp != r["last_stamp"]:
                r["last_stamp"] = stamp
                value = float(inputs[r["port"]])
                if not math.isfinite(value):
                    raise RuntimeError(f"engine {self.name}: reward port {r['port']} got {value}")
                if value > 0.0 and net.plasticity:
                    weight = value
            plan["rewards"].append(weight)
        self.world.command("advance", plan)
        neurons, steps, held = self.world.gather(*self.core.advance(plan))
        # Reading the recorder costs time in proportion to what it holds (~0.08 us per event); emptying
        # it costs a Cleanup and a Prepare (~0.3 ms): done (before the next step) once a rank's recorder
        # holds CLEAR_AT events.
        self.clear = bool(held.max() >= CLEAR_AT)
        # The same order whatever the number of ranks and threads: by stamp, then neuron.
        order = np.lexsort((neurons, steps))
        neurons, steps = neurons[order], steps[order]
        times = steps.astype(np.float64) * h
        for o in net.outputs:
            ch = o["channel"][neurons]
            keep = ch >= 0
            outputs[o["port"]] = nl.SpikeBatch(ch[keep].astype(np.uint32), times[keep])
        counts = np.bincount(net.population_of[neurons], minlength=len(self.pop_sizes)).astype(np.float64)
        outputs["rates"] = counts / (self.pop_sizes * (self.steps_per_sync * h * 1e-3))

    def shutdown(self):
        self.world.command("shutdown")
        self.core.shutdown()


def serve_other_ranks(world: mpi_world.World) -> int:
    """MPI ranks 1..N-1: build and step the network as rank 0 says, send it the spikes."""
    state: Dict[str, Optional[NestCore]] = {"core": None}

    def build(arg):
        try:
            state["core"] = _build(world, arg)
        except SpecError:
            state["core"] = None  # rank 0 reports it and waits for the next command
        return True

    def advance(plan):
        world.gather(*state["core"].advance(plan))
        return True

    def shutdown(_):
        if state["core"] is not None:
            state["core"].shutdown()
        return True

    world.serve({"build": build, "advance": advance, "shutdown": shutdown, "exit": lambda _: False})
    return 0


def engine_main() -> int:
    """The engine: rank 0 serves the coordinator; under MPI the other ranks follow it."""
    world = mpi_world.World()
    if not world.root:
        return serve_other_ranks(world)
    try:
        nl.main(lambda ctx: NestBrain(ctx, world))
    finally:
        world.command("exit")
    return 0


def spike_digest(neurons: np.ndarray, steps: np.ndarray) -> str:
    """A fingerprint of a spike train (sorted by stamp, then neuron): equal trains, equal digests."""
    import hashlib  # noqa: PLC0415

    order = np.lexsort((neurons, steps))
    data = np.stack([steps[order], neurons[order]]).astype("<i8").tobytes()
    return hashlib.sha256(data).hexdigest()


def _cli(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description="NEST bridge: validate or simulate a neuroloop network file")
    ap.add_argument("--validate", metavar="FILE")
    ap.add_argument("--simulate", metavar="FILE")
    ap.add_argument("--ms", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    path = args.validate or args.simulate
    try:
        spec = network_file.load(Path(path))
        nest = import_nest()
        net = Network(nest, spec, seed=args.seed, threads=args.threads)
    except (SpecError, nl.ConfigError) as e:
        print(f"{path}: {e}", file=sys.stderr)
        return 2
    if args.validate:
        print(f"{path}: ok ({net.n_neurons} neurons, {nest.GetKernelStatus('num_connections')} connections "
              f"in NEST {nest.__version__})")
        return 0
    t0 = time.perf_counter()
    nest.Simulate(args.ms)
    wall = time.perf_counter() - t0
    # Under mpirun every rank runs this, and each rank's recorder holds its own neurons' spikes.
    world = mpi_world.World()
    gathered = world.gather(*net.take_spikes()[:2])
    if not world.root:
        return 0
    neurons, steps = gathered
    pops = []
    for i, p in enumerate(spec["populations"]):
        n = int(np.count_nonzero(net.population_of[neurons] == i))
        pops.append({"name": p["name"], "n": p["n"], "spikes": n, "rate_hz": n / (p["n"] * args.ms * 1e-3)})
    print(json.dumps({"nest_version": nest.__version__, "seed": args.seed, "threads": args.threads,
                      "mpi_ranks": world.size, "sim_ms": args.ms, "sim_s": round(wall, 3), "populations": pops,
                      "spikes_sha256": spike_digest(neurons, steps)}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(_cli(sys.argv[1:]))
    sys.exit(engine_main())
