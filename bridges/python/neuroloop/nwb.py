"""Export a neuroloop run folder to an NWB 2.x file (Neurodata Without Borders, written with pynwb).

::

    python -m neuroloop.nwb RUN_DIR [--output FILE]     # default FILE: RUN_DIR/run.nwb

    import neuroloop as nl
    path = nl.export_nwb("runs/demo-20261206-abc123")   # -> Path of the file written

Exit status of ``python -m neuroloop.nwb`` (what ``neuroloop export nwb`` passes on):

* 0: the file was written; one line on stdout names it and counts what it holds.
* 2: bad input (not a run folder, a file of the run folder that cannot be read or is not what neuroloop
  writes, an output path that cannot be written, bad arguments): one line on stderr,
  ``error: <what is wrong>``, no traceback; nothing is written.
* 3: pynwb is not installed in this Python (``scripts/setup_python.sh`` installs it).
* 1: anything else (a bug of the exporter): a Python traceback.

What goes where (names are the run folder's ``engine.port``):

* The session: ``identifier`` ``neuroloop-<run_id>``, ``session_id`` the run id,
  ``session_start_time`` the manifest's ``started_utc``, ``experiment_description`` the experiment file's
  text (and the ``--set`` overrides), ``notes`` the rest of ``manifest.json`` as JSON (seed, git commit,
  versions, exit status, timings, ...).
* Spike ports -> the ``units`` table, one unit per neuron of the port (neurons that never fired too),
  spike times in seconds, columns ``engine``, ``port``, ``neuron`` (index in the port), ``population``
  and ``group``: for a brain, the population and group of ``<engine>.neurons.json`` (``group`` is ""
  where the population has none); for afferents (skin, spindles), ``population`` is the afferent class
  (``sa1``, ``ia``, ...) and ``group`` the taxel or muscle of ``<engine>.afferents.json``.
* Analog and scalar ports -> ``acquisition``: a ``TimeSeries`` per port (data: samples x channels, in the
  recording's units, channel names in the description; ``rate`` when the samples are evenly spaced, else
  ``timestamps``); a port whose channels have different units becomes one ``TimeSeries`` per channel,
  ``<engine>.<port>.<channel>``. Ports named ``*_position_mm`` (the joystick's and the paw's grip) are
  ``SpatialSeries`` in metres (the data stay in mm with ``conversion`` 0.001). Joint angles, muscle
  excitations, brain rates, the task port: whatever was recorded.
* A port named ``reward`` -> an ``EventsTable`` ``<engine>.reward`` (NWB 2.9+ core): one event per step
  with a non-zero reward, column ``value``; the zero samples are not stored, and a run without a reward
  has no such table.
* A body's ``task`` port -> besides its ``TimeSeries``, an ``EventsTable`` ``<engine>.task_states``: one
  event per entry into a task state, columns ``duration`` (s, to the next change; NaN for the last),
  ``state``, ``state_name``, ``trial``.
* Event-camera ports (x, y, polarity) -> an ``EventsTable`` ``<engine>.<port>``: one row per event,
  columns ``x``, ``y``, ``polarity`` (none when the camera sent no event).
* ``<engine>.trials.jsonl`` -> the ``trials`` table, one row per trial record: ``start_time`` (the
  start crossing), ``stop_time`` (the first sample after the start at which the task port leaves
  Moving/Holding when ``<engine>.task`` was recorded, else the last trajectory sample), and every field
  of the record as a column of the same name (``start_ms`` excepted): ``engine``, ``episode``, ``index``,
  ``block``, ``outcome``, ``reaction_time_ms``, ``movement_time_ms`` (NaN unrewarded),
  ``perturbed``, ``peak_pull_mm``, ``lateral_at_bins_mm`` (one value per bin), ``trajectory`` (ragged:
  rows of time since start ms, pull mm, lateral mm).
* Episodes (a run that was reset restarts ``t_ms`` at 0 in each episode) are laid end to end on the
  file's one clock: episode k+1 starts one base step after the last step of episode k. The ``epochs``
  table has one row per episode (column ``episode``); every time in the file is on that clock, and the
  trials and task-state events keep their ``episode``.

Left out: the experiment's expected-result checks (they are in the experiment text), the neurons of a
brain's populations that no recorded port carries, the skin taxels' positions (``*.afferents.json``
keeps them), a ``Subject`` (the animal is simulated; the NWB best-practice check reports its absence).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from .folder import RunFolder

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_NO_PYNWB = 3

# The body task's states, as the `task` port reports them (crates/body/src/task.rs).
TASK_STATES = {0: "iti", 1: "home", 2: "armed", 3: "moving", 4: "holding", 5: "done"}
# States during which a trial is running (a trial ends when the task leaves them).
TRIAL_RUNNING = (3.0, 4.0)


class ExportError(Exception):
    """The run folder (or the output path) is not what the exporter can read or write: bad input."""


# ---------------------------------------------------------------------------------------------------
# Reading the run folder


class Recording:
    """One recorded port: its kind (``spikes``, ``events`` or ``analog``), columns as numpy arrays and
    units."""

    def __init__(self, name: str, path: Path):
        import pyarrow.parquet as pq

        self.name = name  # "engine.port"
        self.engine, _, self.port = name.partition(".")
        try:
            table = pq.read_table(path)
        except Exception as e:  # pyarrow raises several types for a damaged or foreign file
            raise ExportError(f"{path}: cannot read it as Parquet: {one_line(e)}") from None
        names = table.column_names
        if len(names) < 3 or names[:2] != ["step", "t_ms"] or names[-1] != "episode":
            raise ExportError(f"{path}: not a neuroloop recording (columns {names}; expected step, t_ms, ..., episode)")
        self.units: Dict[str, str] = {}
        self.size: Optional[int] = None
        for field in table.schema:
            meta = field.metadata or {}
            if b"unit" in meta:
                self.units[field.name] = meta[b"unit"].decode()
            if b"size" in meta:
                self.size = int(meta[b"size"])
        self.columns = {n: table.column(n).to_numpy() for n in names}
        self.step = self.columns["step"].astype(np.int64)
        self.t_ms = self.columns["t_ms"].astype(np.float64)
        self.episode = self.columns["episode"].astype(np.int64)
        if names[2:-1] == ["neuron"] and self.size is not None:
            self.kind = "spikes"
        elif names[2:-1] == ["x", "y", "polarity"]:
            self.kind = "events"
        else:
            self.kind = "analog"
            self.channels = names[2:-1]
            for c in self.channels:
                if c not in self.units:
                    raise ExportError(f"{path}: analog column {c!r} has no unit in its metadata")


def one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ExportError(f"{path}: cannot read it as JSON: {one_line(e)}") from None


def read_trials(path: Path) -> List[Dict[str, Any]]:
    records = []
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ExportError(f"{path}: cannot read it: {one_line(e)}") from None
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError as e:
            raise ExportError(f"{path}, line {i}: not JSON: {one_line(e)}") from None
        if not isinstance(r, dict) or not isinstance(r.get("start_ms"), (int, float)):
            raise ExportError(f"{path}, line {i}: not a trial record (no numeric start_ms)")
        records.append(r)
    return records


def load(run_dir: Path):
    """The manifest, recordings, trial records (engine -> records) and neuron maps (engine -> map)."""
    if not run_dir.is_dir():
        raise ExportError(f"{run_dir} is not a directory")
    if not (run_dir / "manifest.json").is_file():
        raise ExportError(f"{run_dir} is not a neuroloop run folder (no manifest.json)")
    manifest = read_json(run_dir / "manifest.json")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("recordings"), list):
        raise ExportError(f"{run_dir / 'manifest.json'}: not a neuroloop manifest (no list of recordings)")
    for key in ("run_id", "seed", "started_utc", "steps", "duration_ms"):
        if key not in manifest:
            raise ExportError(f"{run_dir / 'manifest.json'}: not a neuroloop manifest (no {key!r})")
    recordings = []
    for file in manifest["recordings"]:
        if not isinstance(file, str) or not file.endswith(".parquet"):
            raise ExportError(f"{run_dir / 'manifest.json'}: recording {file!r} is not a .parquet file name")
        path = run_dir / file
        if not path.is_file():
            raise ExportError(f"{path} is listed in manifest.json but missing")
        recordings.append(Recording(file[: -len(".parquet")], path))
    trials = {}
    for path in sorted(run_dir.glob("*.trials.jsonl")):
        trials[path.name[: -len(".trials.jsonl")]] = read_trials(path)
    maps = {}
    for path in sorted(run_dir.glob("*.neurons.json")) + sorted(run_dir.glob("*.afferents.json")):
        maps[path.name.split(".")[0]] = read_json(path)
    return manifest, recordings, trials, maps


# ---------------------------------------------------------------------------------------------------
# One clock for all episodes


class Clock:
    """Maps (episode, t_ms) to seconds on the file's clock: episodes end to end."""

    def __init__(self, manifest, recordings: List[Recording], trials: Dict[str, List[Dict[str, Any]]]):
        steps = int(manifest["steps"])
        duration_ms = float(manifest["duration_ms"])
        # duration_ms = steps * base_step_ms (every episode's steps).
        self.base_step_ms = duration_ms / steps if steps > 0 else 1.0
        last_step: Dict[int, int] = {}  # episode -> last step recorded in it
        for rec in recordings:
            for ep in np.unique(rec.episode):
                s = int(rec.step[rec.episode == ep].max())
                last_step[int(ep)] = max(last_step.get(int(ep), 0), s)
        for records in trials.values():
            for r in records:
                ep = int(r.get("episode", 0))
                end_ms = r["start_ms"] + trajectory_end_ms(r)
                last_step[ep] = max(last_step.get(ep, 0), math.ceil(end_ms / self.base_step_ms))
        n = max(last_step) + 1 if last_step else 1
        self.last_step = [last_step.get(k, 0) for k in range(n)]
        self.offset_ms = np.zeros(n)
        for k in range(1, n):
            self.offset_ms[k] = self.offset_ms[k - 1] + (self.last_step[k - 1] + 1) * self.base_step_ms

    def seconds(self, episode, t_ms):
        """Seconds on the file's clock (numpy arrays or scalars)."""
        return (self.offset_ms[np.asarray(episode, dtype=np.int64)] + np.asarray(t_ms, dtype=np.float64)) / 1000.0

    def episodes(self) -> List[Tuple[int, float, float]]:
        """(episode, start s, stop s) of each episode."""
        return [
            (k, self.offset_ms[k] / 1000.0, (self.offset_ms[k] + self.last_step[k] * self.base_step_ms) / 1000.0)
            for k in range(len(self.last_step))
        ]


def trajectory_end_ms(record: Dict[str, Any]) -> float:
    traj = record.get("trajectory") or []
    return float(traj[-1][0]) if traj else 0.0


# ---------------------------------------------------------------------------------------------------
# Writing


def compressed(data):
    from pynwb import H5DataIO

    return H5DataIO(np.ascontiguousarray(data), compression="gzip")


def time_args(seconds: np.ndarray) -> Dict[str, Any]:
    """``starting_time`` and ``rate`` when the samples are evenly spaced, else ``timestamps``."""
    if len(seconds) >= 2:
        d = np.diff(seconds)
        if d[0] > 0 and np.allclose(d, d[0], rtol=1e-9, atol=1e-12):
            return {"starting_time": float(seconds[0]), "rate": float(1.0 / d[0])}
    return {"timestamps": compressed(seconds)}


def add_analog(nwb, rec: Recording, clock: Clock) -> int:
    from pynwb import TimeSeries
    from pynwb.behavior import SpatialSeries

    seconds = clock.seconds(rec.episode, rec.t_ms)
    units = [rec.units[c] for c in rec.channels]
    if rec.port.endswith("_position_mm") and set(units) == {"mm"} and 1 <= len(rec.channels) <= 3:
        data = np.column_stack([rec.columns[c].astype(np.float64) for c in rec.channels])
        nwb.add_acquisition(
            SpatialSeries(
                name=rec.name,
                description=f"recording of port {rec.name}, columns {', '.join(rec.channels)} (mm)",
                data=compressed(data),
                unit="meters",
                conversion=0.001,
                reference_frame=f"the {rec.port[: -len('_position_mm')]} relative to its rest position "
                "(x: pull, y: lateral, as the body engine reports it)",
                **time_args(seconds),
            )
        )
        return 1
    if len(set(units)) == 1:
        groups = [(rec.name, rec.channels, units[0])]
    else:
        groups = [(f"{rec.name}.{c}", [c], u) for c, u in zip(rec.channels, units)]
    for name, channels, unit in groups:
        data = np.column_stack([rec.columns[c].astype(np.float64) for c in channels])
        if data.shape[1] == 1:
            data = data[:, 0]
        nwb.add_acquisition(
            TimeSeries(
                name=name,
                description=f"recording of port {rec.name}, columns {', '.join(channels)} ({unit})",
                data=compressed(data),
                unit=unit,
                **time_args(seconds),
            )
        )
    return len(groups)


def add_reward_events(nwb, rec: Recording, clock: Clock) -> int:
    from hdmf.common import VectorData
    from pynwb.event import EventsTable, TimestampVectorData

    value = rec.columns[rec.channels[0]].astype(np.float64)
    hit = value != 0
    if not hit.any():
        return 0  # no table: an empty one says no more, and the NWB inspector trips on it
    nwb.add_events_table(
        EventsTable(
            name=rec.name,
            description=f"steps in which port {rec.name} was non-zero (the water reward of a trial); "
            "the zero samples of the recording are not stored",
            columns=[
                TimestampVectorData(name="timestamp", description="time of the step, s",
                                    data=clock.seconds(rec.episode[hit], rec.t_ms[hit]),
                                    resolution=clock.base_step_ms / 1000.0),
                VectorData(name="value", description=f"reward ({rec.units[rec.channels[0]]})", data=value[hit]),
            ],
        )
    )
    return int(hit.sum())


def state_changes(rec: Recording) -> np.ndarray:
    """Indices of the samples of a task recording at which the state differs from the sample before
    (or an episode begins)."""
    state = rec.columns["state"]
    change = np.ones(len(state), dtype=bool)
    change[1:] = (state[1:] != state[:-1]) | (rec.episode[1:] != rec.episode[:-1])
    return np.flatnonzero(change)


def add_task_events(nwb, rec: Recording, clock: Clock) -> int:
    from hdmf.common import VectorData
    from pynwb.event import DurationVectorData, EventsTable, TimestampVectorData

    idx = state_changes(rec)
    seconds = clock.seconds(rec.episode[idx], rec.t_ms[idx])
    duration = np.full(len(idx), np.nan)
    same_episode = rec.episode[idx[1:]] == rec.episode[idx[:-1]]
    duration[:-1] = np.where(same_episode, np.diff(seconds), np.nan)
    state = rec.columns["state"][idx].astype(np.int64)
    columns = [
        TimestampVectorData(name="timestamp", description="time the task entered the state, s",
                            data=seconds, resolution=clock.base_step_ms / 1000.0),
        DurationVectorData(name="duration", data=duration,
                           description="time in the state, s (NaN: still in it when the recording ends)"),
        VectorData(name="state", description="task state number as the task port reports it", data=state),
        VectorData(name="state_name", description="task state: " + ", ".join(f"{k} {v}" for k, v in TASK_STATES.items()),
                   data=[TASK_STATES.get(int(s), f"state {s}") for s in state]),
        VectorData(name="episode", description="episode of the run", data=rec.episode[idx]),
    ]
    if "trial" in rec.columns:
        columns.append(VectorData(name="trial", description="trial index the task port reports",
                                  data=rec.columns["trial"][idx].astype(np.int64)))
    nwb.add_events_table(
        EventsTable(name=f"{rec.engine}.task_states",
                    description=f"changes of the task state, from the recording of port {rec.name}",
                    columns=columns)
    )
    return len(idx)


def add_camera_events(nwb, rec: Recording, clock: Clock) -> int:
    from hdmf.common import VectorData
    from pynwb.event import EventsTable, TimestampVectorData

    if len(rec.t_ms) == 0:
        return 0  # no table: see add_reward_events

    nwb.add_events_table(
        EventsTable(
            name=rec.name,
            description=f"events of the event camera port {rec.name}, one per row",
            columns=[
                TimestampVectorData(name="timestamp", description="event time, s",
                                    data=compressed(clock.seconds(rec.episode, rec.t_ms))),
                VectorData(name="x", description="pixel column", data=compressed(rec.columns["x"])),
                VectorData(name="y", description="pixel row", data=compressed(rec.columns["y"])),
                VectorData(name="polarity", description="true: brightness increase (ON)",
                           data=compressed(rec.columns["polarity"].astype(bool))),
            ],
        )
    )
    return len(rec.t_ms)


def neuron_labels(rec: Recording, maps: Dict[str, Any]) -> List[Tuple[str, str]]:
    """(population, group) of each neuron of a spike port, from the engine's neuron map."""
    size = rec.size
    m = maps.get(rec.engine)
    where = f"{rec.engine}.neurons.json / {rec.engine}.afferents.json"
    if m is None:
        return [(rec.port, "")] * size
    try:
        if "ports" in m:  # afferents: port -> [{neuron, afferent, muscle | taxel}]
            entries = m["ports"].get(rec.port)
            if entries is None:
                return [(rec.port, "")] * size
            labels = [(rec.port, "")] * size
            for e in entries:
                labels[int(e["neuron"])] = (str(e.get("afferent", rec.port)), str(e.get("muscle", e.get("taxel", ""))))
            return labels
        # a brain: the port is a population or one group of it
        for entry in list(m.get("outputs", [])) + list(m.get("inputs", [])):
            if entry["port"] != rec.port:
                continue
            pop = next(p for p in m["populations"] if p["name"] == entry["population"])
            first = int(entry["global_range"][0])
            labels = []
            for i in range(size):
                gid = first + i
                if entry.get("group") is not None:
                    group = entry["group"]
                else:
                    group = next((g["name"] for g in pop.get("groups", [])
                                  if g["global_range"][0] <= gid < g["global_range"][1]), "")
                labels.append((entry["population"], group))
            return labels
    except (KeyError, IndexError, TypeError, ValueError, StopIteration) as e:
        raise ExportError(f"{where}: the neuron map of port {rec.name} is not what neuroloop writes: {one_line(e)}") from None
    return [(rec.port, "")] * size


def add_units(nwb, spikes: List[Recording], maps: Dict[str, Any], clock: Clock) -> Tuple[int, int]:
    for name, desc in [
        ("engine", "engine whose port the neuron belongs to"),
        ("port", "spike port of the engine"),
        ("neuron", "index of the neuron in the port"),
        ("population", "brain: population; afferents: afferent class (sa1, ra1, ia, ib, ii, ...)"),
        ("group", "brain: group of the population (\"\" if none); afferents: taxel or muscle"),
    ]:
        nwb.add_unit_column(name=name, description=desc)
    n_units = n_spikes = 0
    for rec in spikes:
        neuron = rec.columns["neuron"].astype(np.int64)
        if len(neuron) and neuron.max() >= rec.size:
            raise ExportError(f"{rec.name}: neuron {neuron.max()} out of the port's size {rec.size}")
        seconds = clock.seconds(rec.episode, rec.t_ms)
        order = np.lexsort((seconds, neuron))
        bounds = np.searchsorted(neuron[order], np.arange(rec.size + 1))
        for i, (population, group) in enumerate(neuron_labels(rec, maps)):
            times = seconds[order[bounds[i]: bounds[i + 1]]]
            nwb.add_unit(spike_times=times, engine=rec.engine, port=rec.port, neuron=i,
                         population=population, group=group)
        n_units += rec.size
        n_spikes += len(neuron)
    return n_units, n_spikes


def trial_stop_ms(record: Dict[str, Any], task: Optional[Recording]) -> float:
    """Where the trial ended, ms within its episode: the first task sample after the start that is not
    Moving or Holding, else the last trajectory sample."""
    start = float(record["start_ms"])
    if task is not None:
        ep = int(record.get("episode", 0))
        after = (task.episode == ep) & (task.t_ms > start) & ~np.isin(task.columns["state"], TRIAL_RUNNING)
        hits = np.flatnonzero(after)
        if len(hits):
            return float(task.t_ms[hits[0]])
    return start + trajectory_end_ms(record)


def column_values(key: str, values: List[Any], where: str):
    """A trial field's values as column data, and whether the column is ragged (needs an index)."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        return [bool(v) for v in values], False
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return [float("nan") if v is None else v for v in values], False
    if all(isinstance(v, str) for v in present) and len(present) == len(values):
        return values, False
    if all(isinstance(v, list) for v in present) and len(present) == len(values):
        flat = lambda v: np.array([np.nan if x is None else x for x in v], dtype=np.float64)  # noqa: E731
        try:
            if all(all(not isinstance(x, list) for x in v) for v in values):
                if len({len(v) for v in values}) == 1:
                    return [flat(v) for v in values], False  # fixed length: a 2-d column
                return [flat(v) for v in values], True
            return [np.array(v, dtype=np.float64).reshape(len(v), -1) for v in values], True  # rows of rows
        except (TypeError, ValueError):
            pass
    raise ExportError(f"{where}: field {key!r} has values the exporter cannot store as a column")


def add_trials(nwb, trials: Dict[str, List[Dict[str, Any]]], tasks: Dict[str, Recording], clock: Clock) -> int:
    from pynwb.epoch import TimeIntervals

    rows = [(engine, r) for engine, records in trials.items() for r in records]
    if not rows:
        return 0
    keys: List[str] = []
    for _, r in rows:
        keys += [k for k in r if k != "start_ms" and k not in keys]
    columns = {"engine": ([e for e, _ in rows], False)}
    for k in keys:
        columns[k] = column_values(k, [r.get(k) for _, r in rows], "trial records")
    known = {
        "engine": "body engine whose trial records these are",
        "episode": "episode of the run",
        "index": "trial index, 0-based, in its episode",
        "block": "block of the session (baseline, force_field, washout)",
        "outcome": "success (reached and held the end box in the window: rewarded) or timeout",
        "reaction_time_ms": "from Armed to the start crossing, ms",
        "movement_time_ms": "from the start crossing to the end-box entry of a successful trial, ms (NaN unrewarded)",
        "perturbed": "whether the lateral force pulse was applied",
        "peak_pull_mm": "largest pull reached, mm",
        "lateral_at_bins_mm": "lateral displacement when the pull first reached each bin past the start line, mm (NaN: never reached)",
        "trajectory": "joystick from the start crossing: rows of (time since start ms, pull mm, lateral mm)",
    }
    how = "; ".join(
        f"{e}: the first sample after the start at which {e}.task leaves Moving/Holding" if e in tasks
        else f"{e}: the last trajectory sample ({e}.task was not recorded)" for e in trials)
    table = TimeIntervals(name="trials", description=(
        f"trial records ({', '.join(e + '.trials.jsonl' for e in trials)}): start_time is the start crossing; "
        f"stop_time is {how}"))
    for k, (_, ragged) in columns.items():
        table.add_column(name=k, description=known.get(k, f"field {k} of the trial record"), index=ragged)
    for i, (engine, r) in enumerate(rows):
        ep = int(r.get("episode", 0))
        start = float(r["start_ms"])
        stop = trial_stop_ms(r, tasks.get(engine))
        table.add_row(start_time=float(clock.seconds(ep, start)), stop_time=float(clock.seconds(ep, stop)),
                      **{k: v[i] for k, (v, _) in columns.items()})
    nwb.trials = table
    return len(rows)


def export_nwb(run_dir: Union[str, Path], output: Union[str, Path, None] = None) -> Path:
    """Writes the NWB file of run folder ``run_dir`` to ``output`` (default ``run_dir/run.nwb``,
    replaced if it exists) and returns its path. Raises :class:`ExportError` for bad input."""
    return export(run_dir, output)[0]


def export(run_dir: Union[str, Path], output: Union[str, Path, None] = None) -> Tuple[Path, Dict[str, int]]:
    """:func:`export_nwb`, also returning what the file holds: counts of ``units``, ``spikes``,
    ``series`` (time series), ``trials`` and ``events``."""
    from pynwb import NWBHDF5IO, NWBFile

    run_dir = Path(run_dir)
    output = Path(output) if output is not None else run_dir / "run.nwb"
    manifest, recordings, trials, maps = load(run_dir)
    clock = Clock(manifest, recordings, trials)
    started = str(manifest["started_utc"])
    try:
        start_time = datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(f"{run_dir / 'manifest.json'}: started_utc {started!r} is not an RFC 3339 time") from None
    experiment = Path(str(manifest.get("experiment_file", "experiment"))).stem
    rest = {k: v for k, v in manifest.items() if k != "experiment_text"}
    overrides = manifest.get("overrides") or []
    nwb = NWBFile(
        session_description=(
            f"neuroloop run {manifest['run_id']} of experiment {experiment} ({manifest.get('experiment_file')}), "
            f"seed {manifest['seed']}, commit {manifest.get('git_commit')}, exit status {manifest.get('exit_status')}; "
            f"simulated {float(manifest['duration_ms']) / 1000:g} s"
        ),
        identifier=f"neuroloop-{manifest['run_id']}",
        session_id=str(manifest["run_id"]),
        session_start_time=start_time,
        experiment_description=str(manifest.get("experiment_text", ""))
        + ("\n# --set overrides: " + "; ".join(overrides) if overrides else ""),
        notes=json.dumps(rest, indent=1),
        source_script=f"neuroloop.nwb (neuroloop {manifest.get('versions', {}).get('neuroloop', '?')})",
        source_script_file_name="neuroloop/nwb.py",
        keywords=["neuroloop", "simulation", "closed loop", experiment],
    )
    nwb.add_epoch_column(name="episode", description="episode of the run (t_ms starts again at 0 in each)")
    for k, start, stop in clock.episodes():
        nwb.add_epoch(start_time=start, stop_time=stop, tags=[f"episode {k}"], episode=k)

    counts = {"series": 0, "units": 0, "spikes": 0, "trials": 0, "events": 0}
    tasks = {}
    for rec in recordings:
        if rec.kind == "analog":
            if rec.port == "reward" and len(rec.channels) == 1:
                counts["events"] += add_reward_events(nwb, rec, clock)
                continue
            counts["series"] += add_analog(nwb, rec, clock)
            if rec.port == "task" and "state" in rec.columns:
                tasks[rec.engine] = rec
                counts["events"] += add_task_events(nwb, rec, clock)
        elif rec.kind == "events":
            counts["events"] += add_camera_events(nwb, rec, clock)
    spikes = [r for r in recordings if r.kind == "spikes"]
    if spikes:
        counts["units"], counts["spikes"] = add_units(nwb, spikes, maps, clock)
    counts["trials"] = add_trials(nwb, trials, tasks, clock)

    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp.nwb")
    try:
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
        os.replace(tmp, output)
    except OSError as e:
        raise ExportError(f"cannot write {output}: {one_line(e)}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return output, counts


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse would print the usage too)
        print(f"error: {message} (usage: python -m neuroloop.nwb RUN_DIR [--output FILE])", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def main(argv: Optional[List[str]] = None) -> int:
    parser = _Parser(prog="python -m neuroloop.nwb",
                     description="Export a neuroloop run folder to an NWB 2.x file.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run folder")
    parser.add_argument("--output", "-o", metavar="FILE", help="the NWB file to write (default RUN_DIR/run.nwb)")
    args = parser.parse_args(argv)
    try:
        import pynwb  # noqa: F401
    except ImportError as e:
        print(f"error: pynwb is not installed in {sys.executable} ({one_line(e)}): run scripts/setup_python.sh",
              file=sys.stderr)
        return EXIT_NO_PYNWB
    try:
        path, c = export(args.run_dir, args.output)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{path}: {c['units']} units ({c['spikes']} spikes), {c['series']} time series, "
          f"{c['trials']} trials, {c['events']} events")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
