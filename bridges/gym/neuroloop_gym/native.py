"""The native backend: the forelimbs stepped in-process by the Rust extension ``neuroloop_gym_native``
(``bridges/gym/native``, built and installed by ``scripts/setup_python.sh``), which builds the body
engine of ``neuroloop-body`` from the same configuration table as the ``body`` engine of the zenoh
backend's experiment file (:func:`neuroloop_gym.experiment.body_config`) and steps it directly: no run,
no coordinator, no zenoh exchange.

Same semantics as the zenoh backend (tested bit for bit): the observation after a control step is the
body's outputs at its end; the excitations given with a step act during the next control step (the
extension holds them, as the experiment's link from the agent to the body is one control step late);
an episode's body is built anew; episode seeds are derived as ``Run.reset`` derives them.

Sensor summaries (native backend only; off by default), appended to the observation after its 61
values, computed by the sensor engines of ``neuroloop-sensors`` (the same code as in a run), which
step every 1 ms base step on the body's outputs at its start (a link of one base step) with seeds
derived from the episode's seed and their names (``skin``, ``spindles``, ``camera``) as a run derives
them:

* ``skin=True`` (or the skin engine's config table): SA-I and RA-I rates (Hz) per collision shape of
  the paw (``skin.sa1_hz.palm_pad``, ``skin.ra1_hz.digit2``, ...): the spikes of the control step over
  the shape's taxels and the step's length;
* ``spindles=True`` (or the proprioception engine's config table): spindle Ia and II rates (Hz) per
  muscle (``spindle.ia_hz.Foot1``, ...), the mean over the control step of the engine's rate model
  (Prochazka 1999);
* ``camera=True`` (or ``{"grid": [columns, rows], "config": {...}}``, default grid 4 x 4, the event
  camera's default 128 x 128 sensor): ON and OFF event counts of the control step per grid cell
  (``camera.on.r0c0``, ..., row-major).

The sensors take their layout from the body's world file (``world_file`` is passed to them unless
their table gives one).
"""

from __future__ import annotations

import json
from typing import Optional

import numpy as np

from .experiment import OBSERVED_PORTS, body_config

try:
    import neuroloop_gym_native as _native
except ImportError as e:  # the extension is not built: say how to get it when it is asked for
    _native = None
    _import_error = e


def available() -> bool:
    """Whether the extension ``neuroloop_gym_native`` is installed."""
    return _native is not None


def _require():
    if _native is None:
        raise ImportError(
            "the native backend needs the extension neuroloop_gym_native (bridges/gym/native): run "
            f"scripts/setup_python.sh, or use backend='zenoh' ({_import_error})"
        )
    return _native


def _sensor_table(name: str, value) -> Optional[dict]:
    if value is False or value is None:
        return None
    if value is True:
        table = {}
    elif isinstance(value, dict):
        table = dict(value)
    else:
        raise ValueError(f"{name} must be True, False or a dict (got {value!r})")
    return table


def limb_spec(control_step_ms: int, task: dict, world_file, initial_excitation, skin=False, spindles=False,
              camera=False) -> dict:
    """The extension's limb specification: the body engine's config table, the reported ports
    (:data:`~neuroloop_gym.experiment.OBSERVED_PORTS`) and the sensors asked for."""
    body = body_config(task, world_file)
    spec = {
        "body": body,
        "control_step_ms": int(control_step_ms),
        "ports": list(OBSERVED_PORTS),
        "initial_excitation": [float(x) for x in initial_excitation],
    }
    for name, value in (("skin", skin), ("spindles", spindles)):
        table = _sensor_table(name, value)
        if table is not None:
            table.setdefault("world_file", body["world_file"])
            spec[name] = table
    cam = _sensor_table("camera", camera)
    if cam is not None:
        unknown = set(cam) - {"grid", "config"}
        if unknown:
            raise ValueError(f"camera: unknown keys {sorted(unknown)} (grid, config)")
        config = dict(cam.get("config", {}))
        config.setdefault("world_file", body["world_file"])
        spec["camera"] = {"config": config, "grid": list(cam.get("grid", [4, 4]))}
    return spec


class Episodes:
    """The seeds of the episodes of one env (or sub-env), as a run derives them: ``reset(seed)`` is
    episode 0 of a run with that seed, ``reset()`` the next episode (seed derived from the run's seed
    and the episode index, ``neuroloop_run::episode_seed``); the first ``reset()`` without a seed draws
    the run's seed from the env's ``np_random`` (as the zenoh backend does)."""

    def __init__(self):
        self.run_seed: Optional[int] = None
        self.episode = 0

    def next(self, seed: Optional[int], np_random) -> int:
        if seed is not None:
            self.run_seed, self.episode = int(seed) % (2**63), 0
        elif self.run_seed is None:
            self.run_seed, self.episode = int(np_random.integers(0, 2**31)), 0
        else:
            self.episode += 1
        if self.episode == 0:
            return self.run_seed
        return _require().derive_seed(self.run_seed, f"episode {self.episode}")


class NativeLimbs:
    """``n`` forelimbs of the extension and their row buffer (the backend of :class:`JoystickEnv` with
    ``n = 1`` and of :class:`~neuroloop_gym.vector.JoystickNativeVectorEnv`)."""

    finished = False  # no session to run out of

    def __init__(self, n: int, control_step_ms: int, task: dict, world_file, initial_excitation, skin=False,
                 spindles=False, camera=False):
        nat = _require()
        spec = limb_spec(control_step_ms, task, world_file, initial_excitation, skin, spindles, camera)
        self.limbs = nat.Limbs(json.dumps(spec), n, 0)
        self.summary_names = list(self.limbs.summary_names)
        self.rows = np.zeros((n, self.limbs.row_len))
        self.episodes = [Episodes() for _ in range(n)]

    def new_episode(self, seed: Optional[int], np_random, i: int = 0) -> np.ndarray:
        """A new episode of limb ``i`` (see :class:`Episodes`); returns its row at t = 0 (1 x row
        length, a view of the buffer)."""
        self.limbs.reset(i, self.episodes[i].next(seed, np_random), self.rows[i])
        return self.rows[i : i + 1]

    def step(self, pending: np.ndarray) -> np.ndarray:
        """One control step of every limb, driven by the excitations given at the previous step;
        ``pending`` (n x 8, or 8 for one limb) acts next. Returns the rows (the buffer)."""
        self.limbs.step(pending.reshape(self.rows.shape[0], -1), self.rows)
        return self.rows

    def close(self) -> None:
        self.limbs = None
