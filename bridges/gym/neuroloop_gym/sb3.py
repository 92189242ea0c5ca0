"""A stable-baselines3 ``VecEnv`` over a Gymnasium ``VectorEnv`` with "same step" autoreset
(:class:`~neuroloop_gym.vector.JoystickVectorEnv`), so that SB3 trains on N forelimbs of one run.
Needs stable-baselines3 (and so torch)."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv


class Sb3VectorEnv(VecEnv):
    def __init__(self, venv):
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions = None
        self._seed: Optional[int] = None

    def reset(self):
        obs, _ = self.venv.reset(seed=self._seed)
        self._seed = None
        return obs

    def seed(self, seed: Optional[int] = None) -> List[Optional[int]]:
        self._seed = seed
        return [seed] * self.num_envs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

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
