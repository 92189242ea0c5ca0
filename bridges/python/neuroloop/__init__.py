"""neuroloop: write a neuroloop engine in Python, drive a run (:class:`Run`, a client of
``neuroloop control``), and read run folders (:func:`read_run`).

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
    "WireError",
    "main",
    "read_run",
    "serve",
    "wire",
    "zenoh_config",
]
