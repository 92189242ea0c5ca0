#!/usr/bin/env python3
"""A proportional controller as a Python engine: the same controller as the built-in `p_controller`
(crates/engines/src/control.rs), computing the same floating-point formula in the same order, so that a
run with it records exactly the same numbers.

    F = clamp(gain_n_per_m * (target_m - x), -max_force_n, max_force_n)

Ports: input `position` (analog [x, m]), output `force` (analog [force, N]).
Config: target_m (default 0), gain_n_per_m (default 5), max_force_n (default 10, >= 0).

`neuroloop run` starts it through p_controller.sh (which picks the repository's .venv); started by hand for
an `external = true` engine, run it with NEUROLOOP_RUN_ID, NEUROLOOP_ENGINE and NEUROLOOP_CONNECT set.
"""

import sys
from pathlib import Path

try:
    import neuroloop as nl
except ImportError:  # Run from a checkout without PYTHONPATH: use the SDK next to this example.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import neuroloop as nl

DEFAULTS = {"target_m": 0.0, "gain_n_per_m": 5.0, "max_force_n": 10.0}


class PController(nl.Engine):
    def __init__(self, ctx: nl.InitContext):
        unknown = sorted(set(ctx.config) - set(DEFAULTS))
        if unknown:
            raise ValueError(
                f"engines.{ctx.name}.config: unknown field `{unknown[0]}`, "
                f"expected one of {', '.join(DEFAULTS)}"
            )
        cfg = {**DEFAULTS, **ctx.config}
        self.target_m = float(cfg["target_m"])
        self.gain_n_per_m = float(cfg["gain_n_per_m"])
        self.max_force_n = float(cfg["max_force_n"])
        if not self.max_force_n >= 0.0:
            raise ValueError(f"engines.{ctx.name}.config.max_force_n: must be >= 0")

    def ports(self):
        return [
            nl.Port.input("position", nl.Analog([("x", "m")])),
            nl.Port.output("force", nl.Analog([("force", "N")])),
        ]

    def step(self, t_ms, dt_ms, inputs, outputs):
        x = float(inputs["position"][0])
        f = self.gain_n_per_m * (self.target_m - x)
        # f64::clamp: below the minimum -> minimum, above the maximum -> maximum, else unchanged.
        if f < -self.max_force_n:
            f = -self.max_force_n
        if f > self.max_force_n:
            f = self.max_force_n
        outputs["force"][0] = f

    def reset(self):
        pass


if __name__ == "__main__":
    nl.main(PController)
