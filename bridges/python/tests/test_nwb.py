"""NWB export (neuroloop.nwb): a run folder -> an NWB file that pynwb's validator and the NWB inspector
accept and that reads back to what the run folder holds; bad input -> exit status 2 and one line.

    PYTHONPATH=bridges/python .venv/bin/python -m pytest -q bridges/python/tests/test_nwb.py

A synthetic run folder (written here with pyarrow, two episodes, every kind of port) is checked value by
value. Real runs are made with the neuroloop binary ($NEUROLOOP_BIN, else target/release or target/debug
of this repository, else `neuroloop` on the PATH): joystick_reward_learning with brain spikes, the
forelimb senses (camera, skin, spindles) and a run reset into a second episode; without a binary these
are skipped, saying so.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

try:
    import pynwb
    from nwbinspector import Importance, inspect_nwbfile
except ImportError as e:  # fail, do not skip: the project's environment has them
    raise ImportError(f"{e}: pynwb and nwbinspector are missing: run scripts/setup_python.sh") from e

PACKAGE = Path(__file__).resolve().parents[1]  # bridges/python
ROOT = PACKAGE.parents[1]


# ---------------------------------------------------------------------------------------------------
# helpers


def export_cli(*args, cwd=None):
    """``python -m neuroloop.nwb ARGS`` with this package on the path."""
    env = dict(os.environ, PYTHONPATH=str(PACKAGE))
    return subprocess.run([sys.executable, "-m", "neuroloop.nwb", *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def validate(path):
    """No error from pynwb's validator; from the NWB inspector, nothing worse than a best-practice
    suggestion except what the exporter leaves out on purpose (a Subject: the animal is simulated) and
    the spike-time resolution it does not know."""
    errors = pynwb.validate(path=str(path))
    assert errors == [], f"pynwb validator: {errors}"
    allowed = {"check_subject_exists", "check_units_resolution_is_set"}
    bad = [m for m in inspect_nwbfile(nwbfile_path=str(path))
           if m.importance in (Importance.ERROR, Importance.CRITICAL, Importance.PYNWB_VALIDATION,
                               Importance.BEST_PRACTICE_VIOLATION)
           and m.check_function_name not in allowed]
    assert bad == [], "NWB inspector:\n" + "\n".join(f"{m.importance.name} {m.check_function_name}: {m.message}" for m in bad)


def spike_times_by_unit(nwbfile):
    units = nwbfile.units.to_dataframe()
    return {(r.engine, r.port, int(r.neuron)): np.asarray(r.spike_times) for r in units.itertuples()}, units


def check_against_folder(run_dir, path):
    """Reads the NWB file back and compares it with the run folder: every spike, every analog sample,
    every trial, the reward and task-state events, the camera events."""
    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    recordings = {r[: -len(".parquet")]: pq.read_table(run_dir / r) for r in manifest["recordings"]}
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        assert f.session_id == manifest["run_id"]
        notes = json.loads(f.notes)
        assert notes["seed"] == manifest["seed"] and notes["git_commit"] == manifest["git_commit"]
        assert f.session_start_time.isoformat().startswith(manifest["started_utc"][:19])
        epochs = f.epochs.to_dataframe()
        offsets = dict(zip(epochs.episode, epochs.start_time))  # episode -> s

        def seconds(episode, t_ms):
            return np.array([offsets[e] for e in episode]) + np.asarray(t_ms) / 1000.0

        spikes, units = (spike_times_by_unit(f) if f.units is not None else ({}, None))
        n_units = 0
        for name, table in recordings.items():
            engine, port = name.split(".", 1)
            df = table.to_pandas()
            cols = [c for c in df.columns if c not in ("step", "t_ms", "episode")]
            if cols == ["neuron"]:
                size = int(table.schema.field("neuron").metadata[b"size"])
                n_units += size
                for i in range(size):
                    rows = df[df.neuron == i]
                    expected = np.sort(seconds(rows.episode, rows.t_ms))
                    np.testing.assert_allclose(spikes[(engine, port, i)], expected, rtol=0, atol=1e-9)
            elif cols == ["x", "y", "polarity"]:
                ev = f.events[name].to_dataframe()
                assert len(ev) == len(df)
                np.testing.assert_array_equal(ev.x, df.x)
                np.testing.assert_array_equal(ev.polarity, df.polarity)
                np.testing.assert_allclose(ev.timestamp, seconds(df.episode, df.t_ms), atol=1e-9)
            elif port == "reward":
                hit = df[df.value != 0]
                if len(hit) == 0:
                    assert name not in (f.events or {})
                else:
                    ev = f.events[name].to_dataframe()
                    np.testing.assert_allclose(ev.timestamp, seconds(hit.episode, hit.t_ms), atol=1e-9)
                    np.testing.assert_array_equal(ev.value, hit.value)
            else:
                units_ = {c: table.schema.field(c).metadata[b"unit"].decode() for c in cols}
                ts_seconds = seconds(df.episode, df.t_ms)
                series = ([(name, cols)] if len(set(units_.values())) == 1
                          else [(f"{name}.{c}", [c]) for c in cols])
                for sname, scols in series:
                    s = f.acquisition[sname]
                    data = np.asarray(s.data[:])
                    np.testing.assert_array_equal(data.reshape(len(df), -1), df[scols].to_numpy())
                    assert s.unit == ("meters" if port.endswith("_position_mm") else units_[scols[0]])
                    np.testing.assert_allclose(s.get_timestamps(), ts_seconds, atol=1e-9)
                if port == "task":
                    st = f.events[f"{engine}.task_states"].to_dataframe()
                    state = df.state.to_numpy()
                    change = np.r_[True, (state[1:] != state[:-1]) | (df.episode.to_numpy()[1:] != df.episode.to_numpy()[:-1])]
                    np.testing.assert_array_equal(st.state, state[change])
                    np.testing.assert_allclose(st.timestamp, ts_seconds[change], atol=1e-9)
        assert (0 if units is None else len(units)) == n_units
        for trials_file in sorted(run_dir.glob("*.trials.jsonl")):
            records = [json.loads(line) for line in trials_file.read_text().splitlines() if line.strip()]
            trials = f.trials.to_dataframe()
            trials = trials[trials.engine == trials_file.name.split(".")[0]]
            assert len(trials) == len(records)
            for (_, t), r in zip(trials.iterrows(), records):
                assert t.outcome == r["outcome"] and t.block == r["block"] and t["index"] == r["index"]
                assert t.episode == r.get("episode", 0)
                assert t.start_time == pytest.approx(offsets[r.get("episode", 0)] + r["start_ms"] / 1000.0, abs=1e-9)
                assert t.stop_time > t.start_time
                assert t.reaction_time_ms == pytest.approx(r["reaction_time_ms"])
                np.testing.assert_allclose(np.asarray(t.lateral_at_bins_mm, dtype=float),
                                           [np.nan if v is None else v for v in r["lateral_at_bins_mm"]])
                np.testing.assert_allclose(np.asarray(t.trajectory, dtype=float), np.asarray(r["trajectory"], dtype=float))


# ---------------------------------------------------------------------------------------------------
# a synthetic run folder: two episodes, every kind of port


def write_recording(path, columns, units=None, size=None, episode=None):
    units = units or {}
    fields, arrays = [], []
    for name, values in columns.items():
        arr = pa.array(values)
        meta = {}
        if name in units:
            meta[b"unit"] = units[name].encode()
        if name == "neuron" and size is not None:
            meta[b"size"] = str(size).encode()
        fields.append(pa.field(name, arr.type, nullable=False, metadata=meta or None))
        arrays.append(arr)
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), path)


@pytest.fixture
def synthetic(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    steps = [0, 1, 2, 3, 4, 0, 1, 2]  # episode 0: steps 0..4, episode 1: steps 0..2 (1 ms base step)
    episode = [0, 0, 0, 0, 0, 1, 1, 1]
    t = [float(s) for s in steps]
    u32 = lambda v: pa.array(v, pa.uint32())  # noqa: E731
    u64 = lambda v: pa.array(v, pa.uint64())  # noqa: E731
    write_recording(run / "body.joystick_position_mm.parquet",
                    {"step": u64(steps), "t_ms": t, "x": [0.0, 0.5, 1.0, 1.5, 2.0, 0.0, 0.2, 0.4],
                     "y": [0.0, 0.1, 0.2, 0.1, 0.0, 0.0, -0.1, -0.2], "episode": u32(episode)},
                    units={"x": "mm", "y": "mm"})
    write_recording(run / "body.task.parquet",
                    {"step": u64(steps), "t_ms": t, "state": [2.0, 3.0, 3.0, 4.0, 0.0, 0.0, 1.0, 1.0],
                     "trial": [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
                     "outcome": [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
                     "lateral_force_n": [0.0, 0.0, 0.01, 0.0, 0.0, 0.0, 0.0, 0.0], "episode": u32(episode)},
                    units={"state": "1", "trial": "1", "outcome": "1", "lateral_force_n": "N"})
    write_recording(run / "body.reward.parquet",
                    {"step": u64(steps), "t_ms": t, "value": [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
                     "episode": u32(episode)}, units={"value": "1"})
    write_recording(run / "brain.motor.parquet",
                    {"step": u64([1, 2, 2, 4, 1]), "t_ms": [0.5, 1.25, 1.5, 3.75, 0.5], "neuron": u32([0, 3, 0, 2, 3]),
                     "episode": u32([0, 0, 0, 0, 1])}, size=4)
    write_recording(run / "spindles.ia.parquet",
                    {"step": u64([2]), "t_ms": [1.1], "neuron": u32([1]), "episode": u32([1])}, size=2)
    write_recording(run / "camera.events.parquet",
                    {"step": u64([1, 3]), "t_ms": [0.3, 2.7], "x": pa.array([5, 6], pa.uint16()),
                     "y": pa.array([7, 8], pa.uint16()), "polarity": [True, False], "episode": u32([0, 1])})
    recordings = ["body.joystick_position_mm.parquet", "body.task.parquet", "body.reward.parquet",
                  "brain.motor.parquet", "spindles.ia.parquet", "camera.events.parquet"]
    (run / "brain.neurons.json").write_text(json.dumps({
        "engine": "brain", "inputs": [],
        "outputs": [{"global_range": [10, 14], "group": None, "population": "M1", "port": "motor", "size": 4}],
        "populations": [{"first_id": 10, "name": "M1", "model": "iaf_psc_exp", "size": 4, "groups": [
            {"global_range": [10, 12], "local_range": [0, 2], "name": "Flexor", "size": 2},
            {"global_range": [12, 14], "local_range": [2, 4], "name": "Extensor", "size": 2}]}]}))
    (run / "spindles.afferents.json").write_text(json.dumps({
        "engine": "spindles", "kind": "proprioception",
        "ports": {"ia": [{"neuron": 0, "afferent": "ia", "muscle": "Foot1"},
                         {"neuron": 1, "afferent": "ia", "muscle": "Foot2"}]}}))
    trial = {"episode": 0, "index": 0, "block": "baseline", "outcome": "success", "start_ms": 0.0,
             "reaction_time_ms": 12.0, "movement_time_ms": 2.0, "perturbed": False, "peak_pull_mm": 2.0,
             "lateral_at_bins_mm": [0.1, None], "trajectory": [[0.0, 0.0, 0.0], [2.0, 1.0, 0.2]]}
    (run / "body.trials.jsonl").write_text(json.dumps(trial) + "\n")
    manifest = {"experiment_file": "experiments/synthetic.toml", "experiment_text": "[run]\nduration_ms = 5.0\n",
                "overrides": [], "seed": 7, "run_id": "synthetic01", "git_commit": "0123abcd", "versions": {},
                "host": "test", "started_utc": "2026-12-06T10:00:00.000Z", "ended_utc": "2026-12-06T10:00:01.000Z",
                "exit_status": "ok", "error": None, "duration_ms": 6.0, "steps": 6, "recordings": recordings}
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


def test_synthetic_run_exports_validates_and_reads_back(synthetic, tmp_path):
    out = tmp_path / "synthetic.nwb"
    r = export_cli(synthetic, "--output", out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{out}: 6 units (6 spikes), 5 time series, 1 trials, 9 events"
    validate(out)
    check_against_folder(synthetic, out)
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        f = io.read()
        # Episode 1 starts one base step after episode 0's last step (4 ms): at 5 ms; it ends at its
        # last recorded step, 3 (the camera event's).
        assert f.epochs.to_dataframe()[["start_time", "stop_time", "episode"]].values.tolist() == [
            [0.0, 0.004, 0], [0.005, 0.008, 1]]
        js = f.acquisition["body.joystick_position_mm"]
        assert type(js).__name__ == "SpatialSeries" and js.conversion == 0.001
        assert js.rate == pytest.approx(1000.0) and js.starting_time == 0.0  # evenly spaced across episodes
        spikes, units = spike_times_by_unit(f)
        np.testing.assert_allclose(spikes[("brain", "motor", 0)], [0.0005, 0.0015])
        np.testing.assert_allclose(spikes[("brain", "motor", 3)], [0.00125, 0.0055])
        assert spikes[("brain", "motor", 1)].size == 0
        assert units.group.tolist() == ["Flexor", "Flexor", "Extensor", "Extensor", "Foot1", "Foot2"]
        assert units.population.tolist() == ["M1"] * 4 + ["ia", "ia"]
        np.testing.assert_allclose(spikes[("spindles", "ia", 1)], [0.0061])
        states = f.events["body.task_states"].to_dataframe()
        assert states.state_name.tolist() == ["armed", "moving", "holding", "iti", "iti", "home"]
        np.testing.assert_allclose(states.duration[:3], [0.001, 0.002, 0.001])
        assert np.isnan(states.duration.iloc[3]) and np.isnan(states.duration.iloc[5])
        trials = f.trials.to_dataframe()
        assert trials.stop_time.tolist() == [0.004]  # first task sample after the start that is not moving/holding
        assert trials.perturbed.tolist() == [False] and trials.movement_time_ms.tolist() == [2.0]
        assert f.events["camera.events"].to_dataframe().timestamp.tolist() == [0.0003, 0.0077]
        assert f.events["body.reward"].to_dataframe().timestamp.tolist() == [0.004]


def test_function_api_and_default_output(synthetic):
    import neuroloop

    path = neuroloop.export_nwb(synthetic)
    assert path == synthetic / "run.nwb" and path.is_file()
    assert not [p for p in synthetic.iterdir() if p.name.endswith(".tmp.nwb")]
    validate(path)


# ---------------------------------------------------------------------------------------------------
# bad input: exit status 2, one line, no traceback, nothing written


def bad(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_bad_input_exits_2_with_one_line(synthetic, tmp_path):
    bad(export_cli(tmp_path / "nowhere"), "is not a directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    bad(export_cli(empty), "not a neuroloop run folder")
    bad(export_cli(), "RUN_DIR")
    bad(export_cli(synthetic, "--output", tmp_path / "no" / "such" / "dir" / "x.nwb"), "cannot write")

    def broken(name, edit):
        run = tmp_path / name
        shutil.copytree(synthetic, run)
        edit(run)
        r = export_cli(run)
        assert not (run / "run.nwb").exists()
        return r

    bad(broken("manifest", lambda d: (d / "manifest.json").write_text("{not json")), "manifest.json", "JSON")
    bad(broken("missing", lambda d: (d / "brain.motor.parquet").unlink()), "brain.motor.parquet", "missing")
    bad(broken("parquet", lambda d: (d / "body.task.parquet").write_bytes(b"PAR1 truncated")),
        "body.task.parquet", "Parquet")
    bad(broken("trials", lambda d: (d / "body.trials.jsonl").write_text('{"start_ms": 1.0}\n{oops\n')),
        "body.trials.jsonl", "line 2")
    bad(broken("neurons", lambda d: (d / "brain.neurons.json").write_text('{"outputs": [{"port": "motor"}]}')),
        "neuron map")
    bad(broken("foreign", lambda d: pq.write_table(pa.table({"a": [1.0]}), d / "body.reward.parquet")),
        "not a neuroloop recording")


# ---------------------------------------------------------------------------------------------------
# real runs


def neuroloop_binary():
    candidates = [os.environ.get("NEUROLOOP_BIN"), ROOT / "target/release/neuroloop", ROOT / "target/debug/neuroloop",
                  shutil.which("neuroloop")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return str(c)
    return None


BIN = neuroloop_binary()
needs_binary = pytest.mark.skipif(BIN is None, reason="no neuroloop binary ($NEUROLOOP_BIN, target/*/neuroloop, PATH)")


def neuroloop_run(experiment, out, *sets):
    args = [BIN, "run", str(ROOT / "experiments" / experiment), "--quiet", "--output", str(out)]
    for s in sets:
        args += ["--set", s]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return out


@needs_binary
def test_real_run_brain_spikes_joints_trials_reward(tmp_path):
    run = neuroloop_run("joystick_reward_learning.toml", tmp_path / "reward", "run.duration_ms=3000",
                        'record.ports=["body.joystick_position_mm", "body.joint_angles", "body.task", "body.reward", '
                        '"body.excitations", "brain.rates", "brain.motor"]')
    r = export_cli(run)
    assert r.returncode == 0, r.stderr
    out = run / "run.nwb"
    validate(out)
    check_against_folder(run, out)
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        f = io.read()
        units = f.units.to_dataframe()
        assert len(units) == 8 * 900 and set(units.population) == {"M1"}  # the motor pools, 900 per muscle
        assert sorted(set(units.group)) == sorted(["Foot1", "Foot2", "Radius1", "Radius2", "Humerus1", "Humerus2",
                                                   "Humerus3", "Humerus4"])
        assert f.acquisition["body.joint_angles"].unit == "rad"
        assert len(f.trials) >= 1


@needs_binary
def test_real_run_senses_camera_and_afferents(tmp_path):
    run = neuroloop_run("forelimb_senses.toml", tmp_path / "senses")
    out = tmp_path / "senses.nwb"
    r = export_cli(run, "--output", out)
    assert r.returncode == 0, r.stderr
    validate(out)
    check_against_folder(run, out)
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        units = io.read().units.to_dataframe()
        assert {"skin", "spindles"} <= set(units.engine)
        assert set(units[units.engine == "spindles"].group) >= {"Foot1", "Humerus4"}


@needs_binary
def test_real_run_with_two_episodes(tmp_path):
    import neuroloop as nl

    out = tmp_path / "episodes"
    with nl.Run(str(ROOT / "experiments/joystick_reward_learning.toml"), output=str(out), binary=BIN,
                set=["run.duration_ms=3000",
                     'record.ports=["body.joystick_position_mm", "body.task", "body.reward", "brain.motor"]']) as run:
        run.advance(to_ms=3000)
        run.reset()
        run.advance(to_ms=2500)
        run.stop()
    r = export_cli(out)
    assert r.returncode == 0, r.stderr
    validate(out / "run.nwb")
    check_against_folder(out, out / "run.nwb")
    with pynwb.NWBHDF5IO(str(out / "run.nwb"), "r") as io:
        f = io.read()
        assert f.epochs.to_dataframe().episode.tolist() == [0, 1]
        assert f.epochs.start_time[1] == pytest.approx(3.001)
        assert sorted(set(f.trials.to_dataframe().episode)) == [0, 1]
