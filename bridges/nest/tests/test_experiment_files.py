"""experiments/joystick_reward_learning_nest.toml is joystick_reward_learning.toml with NEST in place of
the Rust brain: the parsed files differ only in the brain engine entry, and there only in `kind`."""

import tomllib

from conftest import ROOT


def load(name):
    with open(ROOT / "experiments" / name, "rb") as f:
        return tomllib.load(f)


def test_the_nest_experiment_differs_only_in_the_brain_engine_entry():
    rust = load("joystick_reward_learning.toml")
    nest = load("joystick_reward_learning_nest.toml")
    rust_brain = rust["engines"].pop("brain")
    nest_brain = nest["engines"].pop("brain")
    assert nest == rust, "the NEST experiment differs outside engines.brain"
    assert rust_brain["kind"] == "brain"
    assert nest_brain["kind"] == "../bridges/nest/nest_engine.sh"
    assert (ROOT / "experiments" / nest_brain["kind"]).resolve() == ROOT / "bridges/nest/nest_engine.sh"
    # The same network file, threads, step: everything but the kind.
    assert {k: v for k, v in nest_brain.items() if k != "kind"} == \
        {k: v for k, v in rust_brain.items() if k != "kind"}
