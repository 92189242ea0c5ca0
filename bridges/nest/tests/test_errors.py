"""Bad input gives one clear line naming the key path, exit status 2 and no Python traceback: the
network file read on its own (`nest_engine.py --validate`), checked when NEST builds it, and the engine
inside a run (the coordinator reports the engine's message)."""

import pytest

from conftest import ROOT, run_cli, run_neuroloop

POP = '[[populations]]\nname = "E"\nmodel = "iaf_psc_exp"\nn = 4\n'
PROJ = '[[projections]]\nsource = "E"\ntarget = "E"\n'

CASES = [
    # (network file text, what the message must contain)
    ('[[populations]]\nname = "E"\nmodel = "iaf_foo"\nn = 4\n',
     'populations[0].model: unknown model "iaf_foo"'),
    ('[[populations]]\nname = "E"\nmodel = "spike_recorder"\nn = 4\n',
     'populations[0].model: "spike_recorder" is a NEST device'),
    (POP.replace("n = 4\n", "n = 4\nparams = { tau_foo = 1.0 }\n"), "populations[0].params: "),
    (POP.replace("n = 4\n", "n = 4\nparams = { tau_m = -1.0 }\n"), "populations[0].params: "),
    (POP.replace("n = 4\n", "n = 4\nsize = 2\n"), "populations[0].size: unknown field `size`"),
    (POP + PROJ + 'connect = { rule = "random" }\n', "projections[0].connect.rule: unknown variant `random`"),
    (POP + PROJ + 'connect = { rule = "fixed_indegree" }\n',
     "projections[0].connect: rule `fixed_indegree` needs `indegree`"),
    (POP + PROJ + 'connect = { rule = "all_to_all" }\nsynapse = { synapse_model = "tsodyks_synapse" }\n',
     "projections[0].synapse.synapse_model: unknown variant `tsodyks_synapse`"),
    (POP + PROJ + 'connect = { rule = "all_to_all" }\nsynapse = { synapse_model = "stdp_dopamine_synapse" }\n',
     "projections[0].synapse.volume_transmitter: stdp_dopamine_synapse needs a volume_transmitter"),
    (POP + PROJ.replace('target = "E"', 'target = "E.left"') + 'connect = { rule = "all_to_all" }\n',
     'projections[0].target: population "E" has no group "left"'),
    (POP + PROJ + 'connect = { rule = "all_to_all" }\n'
     'synapse = { weight = { distribution = "normal", mean = 1.0 } }\n',
     'projections[0].synapse.weight: distribution "normal" needs `std`'),
    (POP + '[[outputs]]\nname = "rates"\npopulation = "E"\n', 'outputs[0].name: port name "rates"'),
    ('resolution_ms = "fast"\n', "resolution_ms: invalid type"),
    ("[[populations]\n", "not valid TOML"),
]


@pytest.mark.parametrize("text,expect", CASES)
def test_a_bad_network_file_names_its_key_and_exits_2(tmp_path, text, expect):
    f = tmp_path / "net.toml"
    f.write_text(text)
    r = run_cli("--validate", f)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert expect in r.stderr, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_the_example_networks_build():
    for f in ("experiments/networks/joystick_reward_brain.toml", "crates/brain/networks/brunel.toml"):
        r = run_cli("--validate", ROOT / f)
        assert r.returncode == 0, r.stderr


def experiment(tmp_path, config: str) -> str:
    kind = (ROOT / "bridges/nest/nest_engine.sh").as_posix()
    f = tmp_path / "exp.toml"
    f.write_text(f'[run]\nduration_ms = 10.0\nbase_step_ms = 1.0\n\n[engines.brain]\nkind = "{kind}"\n'
                 f"step_ms = 1.0\nconfig = {config}\n")
    return f


@pytest.mark.parametrize("config,expect", [
    ('{ network_file = "net.toml" }',
     'engines.brain.config.network_file: populations[0].model: unknown model "iaf_foo"'),
    ('{ network_file = "missing.toml" }', "engines.brain.config.network_file: cannot read"),
    ('{ network_file = "net.toml", restore_file = "x.ckpt" }',
     "engines.brain.config.restore_file: not supported by the NEST bridge"),
    ('{ network = { populations = 3 } }', "engines.brain.config.network.populations: invalid type"),
    ('{ network = {}, thread = 2 }', "engines.brain.config: unknown field `thread`"),
    ('{ network = { resolution_ms = 0.3 } }', "engines.brain.step_ms: the sync step"),
])
def test_a_bad_configuration_fails_the_run_with_the_engines_message(tmp_path, config, expect):
    # network_file is relative to the experiment file's folder (here tmp_path), not the working directory.
    (tmp_path / "net.toml").write_text('[[populations]]\nname = "E"\nmodel = "iaf_foo"\nn = 4\n')
    r = run_neuroloop("run", experiment(tmp_path, config), "--output", tmp_path / "run")
    assert r.returncode == 1, r.stderr
    assert "failed to initialize" in r.stderr and expect in r.stderr, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert "(exit status 2)" in r.stderr or "exited" not in r.stderr, r.stderr
