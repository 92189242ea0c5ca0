"""A Python engine whose step() raises at t = 10 ms: tests/python_engine.rs checks that the run fails
with exit status 1 and that the coordinator's error names the engine and carries the exception text."""

import neuroloop as nl


class Raising(nl.Engine):
    def __init__(self, ctx):
        self.fail_at_ms = float(ctx.config.get("fail_at_ms", 10.0))

    def ports(self):
        return [
            nl.Port.input("position", nl.Analog([("x", "m")])),
            nl.Port.output("force", nl.Analog([("force", "N")])),
        ]

    def step(self, t_ms, dt_ms, inputs, outputs):
        if t_ms >= self.fail_at_ms:
            raise RuntimeError(f"deliberate failure at t = {t_ms} ms")
        outputs["force"][0] = 0.0


if __name__ == "__main__":
    nl.main(Raising)
