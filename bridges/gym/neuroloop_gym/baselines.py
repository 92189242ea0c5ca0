"""Reference policies for JoystickEnv: a scripted PD controller (the law of the built-in
``joystick_pd`` engine and bridges/python/examples/joystick_pd.py, on the env's observation) and a
uniformly random policy."""

from __future__ import annotations

import numpy as np

PULL = np.array([1.0, 0, 0, 0, 0, 1.0, 0, 0])  # Foot1 + Humerus2 pull the grip
PUSH = np.array([0, 0.5, 0, 0.5, 1.0, 0, 0, 0])
LEFT, RIGHT = np.eye(8)[6], np.eye(8)[7]  # Humerus3 / Humerus4 move it to +y / -y


class PdPolicy:
    """Pulls to ``target_mm`` while the task is armed, moving or holding, else holds the grip home;
    velocity from the last two observations. Call ``reset()`` at each episode's start."""

    def __init__(self, control_step_ms: float = 10.0, target_mm: float = 4.5):
        self.dt = control_step_ms * 1e-3
        self.target_mm = target_mm
        self.prev = None

    def reset(self) -> None:
        self.prev = None

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        pos = np.asarray(obs[12:14], dtype=np.float64)
        vel = np.zeros(2) if self.prev is None else (pos - self.prev) / self.dt
        self.prev = pos
        state = int(np.argmax(obs[46:52]))
        target = self.target_mm if state in (2, 3, 4) else 0.0
        e = 0.5 * (target - pos[0]) - 0.004 * vel[0]
        el = 0.3 * (0.0 - pos[1]) - 0.003 * vel[1]
        u = 0.02 + max(e, 0) * PULL + max(-e, 0) * PUSH + max(el, 0) * LEFT + max(-el, 0) * RIGHT
        return np.clip(u, 0.0, 1.0).astype(np.float32)


class RandomPolicy:
    """Excitations drawn uniformly from [0, 1]."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        pass

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.rng.uniform(0.0, 1.0, 8).astype(np.float32)
