"""neuroloop: write a neuroloop engine in Python, drive a run (:class:`Run`, a client of
``neuroloop control``), read run folders (:func:`read_run`) and export them to NWB (:func:`export_nwb`,
which needs pynwb).

An engine is a subclass of :class:`Engine`; :func:`serve` (or :func:`main`) runs it as a process of a
``neuroloop run``, speaking the wire protocol of ``docs/protocol.md`` over zenoh::

    import neuroloop as nl

    class Doubler(nl.Engine):
        def __init__(self, ctx: nl.InitContext):
            self.gain = ctx.config.get("gain", 2.0)

        def ports(self):
            return [nl.Port.input("x", nl.Analog([("x", "1")])),
                    nl.Port.output("y", nl.Analog([("y", "1")]))]

        def step(self, t_ms, dt_ms, inputs, outputs):
            outputs["y"][0] = self.gain * inputs["x"][0]

    if __name__ == "__main__":
        nl.main(Doubler)
"""

from . import wire
from .engine import (
    BadConfig,
    ConfigError,
    Engine,
    EngineArgs,
    InitContext,
    Inputs,
    NeuroloopError,
    Outputs,
    TlsFiles,
    main,
    serve,
    zenoh_config,
)
from .folder import RunFolder, read_run
from .run import Control, Run
from .wire import (
    INPUT,
    OUTPUT,
    PROTOCOL_VERSION,
    Analog,
    DataEntry,
    EventBatch,
    Events,
    Port,
    Scalar,
    SpikeBatch,
    Spikes,
    WireError,
)

__all__ = [
    "Analog",
    "BadConfig",
    "ConfigError",
    "Control",
    "DataEntry",
    "Engine",
    "EngineArgs",
    "EventBatch",
    "Events",
    "ExportError",
    "INPUT",
    "InitContext",
    "Inputs",
    "NeuroloopError",
    "OUTPUT",
    "Outputs",
    "PROTOCOL_VERSION",
    "Port",
    "Run",
    "RunFolder",
    "Scalar",
    "SpikeBatch",
    "Spikes",
    "TlsFiles",
    "WireError",
    "export_nwb",
    "main",
    "read_run",
    "serve",
    "wire",
    "zenoh_config",
]


def __getattr__(name):
    # export_nwb and ExportError come from neuroloop.nwb, imported on first use: importing it here would
    # make `python -m neuroloop.nwb` warn that the module was imported before it ran.
    if name in ("export_nwb", "ExportError"):
        from . import nwb

        return getattr(nwb, name)
    raise AttributeError(f"module 'neuroloop' has no attribute {name!r}")
