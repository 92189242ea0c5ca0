"""The engine in-process, stepped like the runner steps it: ports as the Rust brain's, input spikes
through to output spikes with their timing, rewards reaching the dopamine synapses."""

import numpy as np
import pytest

import neuroloop as nl
from neuroloop.engine import Inputs, Outputs


def make(nest_engine, network, step_ms=1.0, **config):
    ctx = nl.InitContext(name="brain", config={"network": network, "threads": 1, **config}, seed=9,
                         base_step_ms=step_ms, period=1)
    e = nest_engine.NestBrain(ctx)
    ports = e.ports()
    return e, ports, Inputs(ports), Outputs(ports)


def step(e, inputs, outputs, k, dt, spikes=None, reward=None):
    inputs._begin_step()
    outputs._begin_step()
    if spikes is not None:
        neuron, t = zip(*spikes)
        inputs._set(0, nl.SpikeBatch(np.array(neuron, np.uint32), np.array(t, np.float64)), k)
    if reward is not None:
        inputs._set(inputs.index("reward"), float(reward), k)
    e.step(k * dt, dt, inputs, outputs)


RELAY = {
    "populations": [{"name": "pad", "model": "iaf_psc_delta", "n": 2},
                    {"name": "S", "model": "iaf_psc_delta", "n": 4,
                     "groups": [{"name": "a", "size": 2}, {"name": "b", "size": 2}]}],
    "inputs": [{"name": "sensory", "target": "S", "weight": 30.0, "delay": 1.0}],
    "outputs": [{"name": "motor", "population": "S"}, {"name": "b", "population": "S.b"}],
    "resolution_ms": 0.1,
}


def test_ports_are_the_rust_brains(nest_engine):
    e, ports, _, _ = make(nest_engine, RELAY)
    assert [(p.name, p.is_input, p.kind) for p in ports] == [
        ("sensory", True, nl.Spikes(4)), ("motor", False, nl.Spikes(4)), ("b", False, nl.Spikes(2)),
        ("rates", False, nl.Analog([("pad", "Hz"), ("S", "Hz")]))]
    e.shutdown()


def test_an_input_spike_comes_out_as_in_the_rust_brain(nest_engine):
    # Stamped 0.5 ms, delay 1 ms: arrives at 1.5 ms; S neuron 3 fires in the step ending at 1.5 ms
    # (crates/brain/src/engine.rs, ports_on_groups...: the same (1, 1.5)). Neuron 3 is group b's 1.
    e, ports, inputs, outputs = make(nest_engine, RELAY)
    seen = []
    for k in range(4):
        step(e, inputs, outputs, k, 1.0, spikes=[(3, 0.5)] if k == 1 else None)
        for name in ("motor", "b"):
            b = outputs[name]
            seen += [(k, name, int(i), round(float(t), 9)) for i, t in zip(b.neuron, b.time_ms)]
        if k == 1:
            assert list(outputs["rates"]) == [0.0, 250.0]  # 1 spike / 4 neurons / 1 ms
    assert seen == [(1, "motor", 3, 1.5), (1, "b", 1, 1.5)]
    e.shutdown()


def test_an_input_due_at_once_acts_one_resolution_step_later_than_in_the_rust_brain(nest_engine):
    # Stamped 0.95 ms with delay 0.1 ms (one step): due at 1.0 ms, the start of the step from 1 ms. The
    # Rust brain lets it act in the step ending at 1.1 ms; NEST can at the earliest in the one ending
    # at 1.2 ms (a generator spike must lie in the future and then needs one step of delay).
    net = dict(RELAY, inputs=[{"name": "sensory", "target": "S", "weight": 30.0, "delay": 0.1}])
    e, ports, inputs, outputs = make(nest_engine, net)
    seen = []
    for k in range(3):
        step(e, inputs, outputs, k, 1.0, spikes=[(0, 0.95)] if k == 1 else None)
        seen += [round(float(t), 9) for t in outputs["motor"].time_ms]
    assert seen == [1.2]
    e.shutdown()


def pairing(ms):
    """Pre fires 5 ms before post every 20 ms, through a dopamine synapse fed by the port `reward`
    (the Rust brain's reward_tests::pairing)."""
    pre = [20.0 * i for i in range(1, ms // 20)]
    post = [t + 5.0 for t in pre]
    return {
        "resolution_ms": 1.0,
        "populations": [{"name": "pre", "model": "iaf_psc_delta", "n": 1},
                        {"name": "post", "model": "iaf_psc_delta", "n": 1}],
        "spike_generators": [{"target": "pre", "spike_times": pre, "weight": 100.0},
                             {"target": "post", "spike_times": post, "weight": 100.0}],
        "projections": [{"source": "pre", "target": "post", "connect": {"rule": "one_to_one"},
                         "synapse": {"synapse_model": "stdp_dopamine_synapse", "weight": 5.0, "delay": 1.0,
                                     "params": {"A_plus": 2.0, "tau_n": 100.0}, "volume_transmitter": "vt"}}],
        "volume_transmitters": [{"name": "vt", "reward_port": "reward"}],
    }


def weight(e):
    nest = e.nest
    return float(nest.GetConnections(synapse_model="neuroloop_dopamine_0").get("weight"))


@pytest.mark.parametrize("rewarded,plasticity", [(False, True), (True, True), (True, False)])
def test_rewards_reach_the_dopamine_synapses(nest_engine, rewarded, plasticity):
    e, ports, inputs, outputs = make(nest_engine, pairing(800), plasticity=plasticity)
    assert ports[0].name == "reward"
    for k in range(800):
        step(e, inputs, outputs, k, 1.0, reward=1.0 if rewarded and k % 100 == 50 else None)
    e.shutdown()
    if not plasticity:
        w = float(e.nest.GetConnections(synapse_model="static_synapse").get("weight")[0])
        assert w == 5.0
    elif rewarded:
        assert weight(e) > 5.5, weight(e)
    else:
        assert weight(e) == 5.0
