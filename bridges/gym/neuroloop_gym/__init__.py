"""Gymnasium environments on neuroloop (issue 13, part 2).

``import neuroloop_gym`` registers ``neuroloop/JoystickPull-v0`` (:class:`JoystickEnv`: the mouse
forelimb pulls the joystick through its 8 muscle excitations)::

    import gymnasium as gym
    import neuroloop_gym  # noqa: F401

    env = gym.make("neuroloop/JoystickPull-v0", control_step_ms=10)
    envs = gym.make_vec("neuroloop/JoystickPull-v0", num_envs=4, vectorization_mode="vector_entry_point")

(the second: :class:`JoystickNativeVectorEnv`, 4 forelimbs stepped in-process by one call per vector
step; with ``backend="zenoh"``, :class:`JoystickVectorEnv`, 4 forelimbs in one run, whose episodes
differ: see its docs).

Backends: ``backend="native"`` (default) steps the body engine in-process through the extension
``neuroloop_gym_native`` (:mod:`neuroloop_gym.native`; ``scripts/setup_python.sh`` builds it);
``backend="zenoh"`` runs it in a run of ``neuroloop control``, the ``neuroloop`` binary from
``$NEUROLOOP_BIN``, else the PATH (or ``binary=``). Same observations, bit for bit.
"""

from gymnasium.envs.registration import register

from .env import DEFAULT_TASK, N_OBS, JoystickEnv, observation_names
from .vector import JoystickNativeVectorEnv, JoystickVectorEnv, make_vector_env
from .experiment import JOINTS, MUSCLES, TASK_STATES, experiment_toml

ENV_ID = "neuroloop/JoystickPull-v0"

register(
    id=ENV_ID,
    entry_point="neuroloop_gym.env:JoystickEnv",
    vector_entry_point="neuroloop_gym.vector:make_vector_env",
)

__all__ = [
    "DEFAULT_TASK",
    "ENV_ID",
    "JOINTS",
    "JoystickEnv",
    "JoystickNativeVectorEnv",
    "JoystickVectorEnv",
    "MUSCLES",
    "N_OBS",
    "TASK_STATES",
    "experiment_toml",
    "make_vector_env",
    "observation_names",
]
