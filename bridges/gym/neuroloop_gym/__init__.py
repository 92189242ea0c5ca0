"""Gymnasium environments on neuroloop (issue 13, part 2).

``import neuroloop_gym`` registers ``neuroloop/JoystickPull-v0`` (:class:`JoystickEnv`: the mouse
forelimb pulls the joystick through its 8 muscle excitations)::

    import gymnasium as gym
    import neuroloop_gym  # noqa: F401

    env = gym.make("neuroloop/JoystickPull-v0", control_step_ms=10)

The ``neuroloop`` binary comes from ``$NEUROLOOP_BIN``, else the PATH (or ``binary=``).
"""

from gymnasium.envs.registration import register

from .env import DEFAULT_TASK, N_OBS, JoystickEnv, observation_names
from .experiment import JOINTS, MUSCLES, TASK_STATES, experiment_toml

ENV_ID = "neuroloop/JoystickPull-v0"

register(id=ENV_ID, entry_point="neuroloop_gym.env:JoystickEnv", disable_env_checker=False)

__all__ = [
    "DEFAULT_TASK",
    "ENV_ID",
    "JOINTS",
    "JoystickEnv",
    "MUSCLES",
    "N_OBS",
    "TASK_STATES",
    "experiment_toml",
    "observation_names",
]
