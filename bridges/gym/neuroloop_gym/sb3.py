"""A stable-baselines3 ``VecEnv`` over a Gymnasium ``VectorEnv`` with "same step" autoreset
(:class:`~neuroloop_gym.vector.JoystickVectorEnv`), so that SB3 trains on N forelimbs of one run.
Needs stable-baselines3 (and so torch)."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv


class Sb3VectorEnv(VecEnv):
    """``symmetric_actions``: SB3 sees actions in [-1, 1] (its recommendation for Box actions: a
    Gaussian policy starts at the middle of the range), mapped linearly to the env's bounds."""

    def __init__(self, venv, symmetric_actions: bool = True):
        from gymnasium import spaces

        self.venv = venv
        inner = venv.single_action_space
        self._low, self._high = inner.low.astype(np.float64), inner.high.astype(np.float64)
        self._symmetric = symmetric_actions
        space = spaces.Box(-1.0, 1.0, shape=inner.shape, dtype=np.float32) if symmetric_actions else inner
        super().__init__(venv.num_envs, venv.single_observation_space, space)
        self._actions = None
        self._seed: Optional[int] = None

    def reset(self):
        obs, _ = self.venv.reset(seed=self._seed)
        self._seed = None
        return obs

    def seed(self, seed: Optional[int] = None) -> List[Optional[int]]:
        self._seed = seed
        return [seed] * self.num_envs

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """The env's actions for SB3's."""
        if not self._symmetric:
            return actions
        a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
        return self._low + (a + 1.0) * 0.5 * (self._high - self._low)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = self.to_env(actions)

    def step_wait(self):
        obs, rewards, term, trunc, info = self.venv.step(self._actions)
        infos: List[dict] = []
        for i in range(self.num_envs):
            d = {"is_success": bool(info["is_success"][i])}
            if term[i] or trunc[i]:
                d["terminal_observation"] = info["final_obs"][i]
                d["TimeLimit.truncated"] = bool(trunc[i] and not term[i])
            infos.append(d)
        return obs, rewards.astype(np.float32), (term | trunc), infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices=None) -> List[Any]:
        return [getattr(self.venv, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> List[Any]:
        return [getattr(self.venv, method_name)(*args, **kwargs)] * len(self._get_indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None) -> List[bool]:
        return [False] * len(self._get_indices(indices))

    def _get_indices(self, indices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return indices
