"""Reading a run folder in Python: the manifest, the recordings as pandas DataFrames (units from the
Parquet metadata), the body's trial records and the engines' maps of their neurons.

::

    import neuroloop as nl

    run = nl.read_run("runs/demo-20261206-abc123")
    run.manifest["seed"], run.recordings                      # what ran, which ports were recorded
    pos = run.recording("plant.position")                     # DataFrame: step, t_ms, x, episode
    pos.attrs["units"]["x"]                                   # "m"
    trials = run.trials("body")                               # DataFrame, one row per trial
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Union


class RunFolder:
    """A run folder written by ``neuroloop run`` (or the run library)."""

    def __init__(self, path: Union[str, Path]):
        self.path = Path(path)
        manifest = self.path / "manifest.json"
        if not manifest.is_file():
            raise FileNotFoundError(f"{manifest} does not exist: is {self.path} a neuroloop run folder?")
        self.manifest: Dict[str, Any] = json.loads(manifest.read_text())

    @property
    def recordings(self) -> List[str]:
        """The recorded ports, ``"engine.port"``, as the manifest lists them."""
        return [r[: -len(".parquet")] for r in self.manifest.get("recordings", [])]

    def recording(self, port: str):
        """The recording of ``"engine.port"`` as a pandas DataFrame (columns ``step``, ``t_ms``, the
        port's own, ``episode``), with ``df.attrs["units"]`` (column -> unit, from the Parquet field
        metadata) and, for spikes, ``df.attrs["size"]`` (the population size)."""
        import pyarrow.parquet as pq

        path = self.path / f"{port}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist (recorded: {', '.join(self.recordings)})")
        table = pq.read_table(path)
        df = table.to_pandas()
        units, size = {}, None
        for field in table.schema:
            meta = field.metadata or {}
            if b"unit" in meta:
                units[field.name] = meta[b"unit"].decode()
            if b"size" in meta:
                size = int(meta[b"size"])
        df.attrs["units"] = units
        if size is not None:
            df.attrs["size"] = size
        return df

    def trials(self, engine: str = "body"):
        """The trial records of body engine ``engine`` (``<engine>.trials.jsonl``), one row per trial."""
        import pandas as pd

        path = self.path / f"{engine}.trials.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: engine {engine!r} is not a body engine of this run")
        return pd.read_json(path, lines=True)

    def neurons(self, engine: str) -> Dict[str, Any]:
        """What each output neuron of engine ``engine`` stands for: ``<engine>.neurons.json`` (brain:
        population and group) or ``<engine>.afferents.json`` (skin, proprioception)."""
        for name in (f"{engine}.neurons.json", f"{engine}.afferents.json"):
            path = self.path / name
            if path.is_file():
                return json.loads(path.read_text())
        raise FileNotFoundError(f"no {engine}.neurons.json or {engine}.afferents.json in {self.path}")


def read_run(path: Union[str, Path]) -> RunFolder:
    """The run folder at ``path`` (see :class:`RunFolder`)."""
    return RunFolder(path)
