"""``JoystickVectorEnv``: N mouse forelimbs in ONE run (one control server, one coordinator, N body
processes, one agent engine with N outputs), stepped together by one ``advance`` and one ``read`` per
vector step, so the per-step overhead (two zenoh queries, one Window per engine) is paid once for all N.

Difference from N :class:`~neuroloop_gym.JoystickEnv` (read this before comparing returns): the protocol
resets a run as a whole, so a sub-env's episode here is one *trial of a continuing session*: when it ends
(success, timeout or time limit), the next one starts at once (autoreset "same step") from wherever the
limb is, without rebuilding the body (the task comes back to ``home`` and arms only after the grip has
dwelt ``home_dwell_ms`` in the home box, so the next trial still starts from rest). A sub-episode cut
by the time limit while a trial runs hands that trial over to the next sub-episode. ``reset()`` resets
the whole run (every body built anew). Observation, action, reward and timing are those of
``JoystickEnv`` (its module docs), the episode time counting from the sub-episode's start.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional

import numpy as np

import gymnasium as gym
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

import neuroloop as nl

from .env import (
    DEFAULT_TASK,
    N_OBS,
    ROW_PULL,
    ROW_TASK,
    _ActionBox,
    _Agent,
    clip01,
    observation_from_rows,
    observation_names,
    potential,
    rows_from_read,
    shaped_reward,
)
from .experiment import MUSCLES, body_names, excitation_ports, experiment_toml, observed_ports


class JoystickVectorEnv(VectorEnv):
    """``num_envs`` forelimbs in one run; the parameters are those of :class:`JoystickEnv`."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        num_envs: int = 2,
        control_step_ms: int = 10,
        max_episode_ms: float = 1500.0,
        shaping: float = 0.0,
        gamma: float = 0.99,
        shaping_end: str = "zero",
        task: Optional[dict] = None,
        initial_excitation: float = 0.0,
        motor_noise: float = 0.05,
        binary: Optional[str] = None,
        world_file: Optional[str] = None,
        session_ms: float = 3_600_000.0,
    ):
        self.num_envs = int(num_envs)
        self.control_step_ms = int(control_step_ms)
        self.max_steps = int(np.ceil(float(max_episode_ms) / self.control_step_ms))
        self.shaping, self.gamma = float(shaping), float(gamma)
        if shaping_end not in ("zero", "pull"):
            raise ValueError(f'shaping_end must be "zero" or "pull" (got {shaping_end!r})')
        self.shaping_end = shaping_end
        # A session long enough never to end (the trials of every sub-episode in a row).
        self.task = dict(DEFAULT_TASK, **(task or {}))
        self.task.update(baseline_trials=1_000_000_000, force_field_trials=0, washout_trials=0)
        self.motor_noise = float(motor_noise)
        self._noise = np.random.default_rng()
        self.binary, self.world_file, self.session_ms = binary, world_file, float(session_ms)
        self.single_action_space = spaces.Box(0.0, 1.0, shape=(len(MUSCLES),), dtype=np.float32)
        self.single_observation_space = spaces.Box(-np.inf, np.inf, shape=(N_OBS,), dtype=np.float32)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self._bodies = body_names(self.num_envs)
        self._ports = observed_ports(self._bodies)
        self._box = _ActionBox(self.num_envs, np.full(len(MUSCLES), float(initial_excitation)))
        self._run: Optional[nl.Run] = None
        self._dir = tempfile.mkdtemp(prefix="neuroloop-gym-vec-")
        self._n_runs = 0
        self._k = np.zeros(self.num_envs, dtype=np.int64)
        self._trial0 = np.zeros(self.num_envs)
        self._phi = np.zeros(self.num_envs)
        self._rng_seed: Optional[int] = None

    def _start(self, seed: int) -> None:
        if self._run is not None:
            self._run.close()
        self._n_runs += 1
        path = os.path.join(self._dir, f"gym_joystick_x{self.num_envs}_{self._n_runs}.toml")
        with open(path, "w") as f:
            f.write(experiment_toml(self.num_envs, self.control_step_ms, self.session_ms, seed, self.task, self.world_file))
        box, names = self._box, excitation_ports(self.num_envs)
        self._run = nl.Run(path, output=os.path.join(self._dir, f"run{self._n_runs}"), binary=self.binary,
                           engines={"agent": lambda ctx: _Agent(ctx, box, names)})

    def _potential(self, task: np.ndarray, pull_mm: float) -> float:
        return potential(int(task[0]), pull_mm, self.task["end_pull_mm"])

    def _read(self):
        rows = rows_from_read(self._run.read(*self._ports), self._bodies)
        obs = observation_from_rows(rows, np.asarray(self._box.actions), self._k / self.max_steps)
        return obs, list(rows[:, ROW_TASK:])

    def reset(self, *, seed=None, options=None):
        """Resets the run: every body built anew. ``seed`` (an int, or a list whose first element is
        used: the sub-envs share one run) starts a new run with ``run.seed = seed``."""
        if isinstance(seed, (list, tuple)):
            seed = seed[0]
        if seed is not None or self._run is None:
            if seed is None:
                seed = int(np.random.default_rng(self._rng_seed).integers(0, 2**31))
            self._rng_seed = int(seed)
            self._noise = np.random.default_rng(int(seed))
            self._start(int(seed) % (2**63))
        else:
            self._run.reset()
        self._box.reset()
        self._k[:] = 0
        obs, tasks = self._read()
        for i, t in enumerate(tasks):
            self._trial0[i] = t[1]
            self._phi[i] = self._potential(t, float(obs[i, ROW_PULL]))
        return obs, {}

    def step(self, actions):
        a = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, len(MUSCLES))
        if self.motor_noise:
            a = a + self.motor_noise * self._noise.standard_normal(a.shape)
        a = np.clip(a, 0.0, 1.0)
        for i in range(self.num_envs):
            self._box.actions[i][:] = a[i]
        self._run.advance(steps=self.control_step_ms)
        self._k += 1
        obs, tasks = self._read()
        n = self.num_envs
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        success = np.zeros(n, dtype=bool)
        for i, t in enumerate(tasks):
            over = t[1] > self._trial0[i]
            success[i] = over and int(t[2]) == 1
            rewards[i], self._phi[i] = shaped_reward(self, over, success[i], int(t[0]), float(obs[i, ROW_PULL]),
                                                     self._phi[i])
            terminated[i] = over
            truncated[i] = not over and (self._k[i] >= self.max_steps or self._run.finished)
        info = {"is_success": success, "_is_success": np.ones(n, dtype=bool)}
        done = terminated | truncated
        if done.any():
            final_obs = np.empty(n, dtype=object)
            for i in np.flatnonzero(done):
                final_obs[i] = obs[i].copy()
            info["final_obs"], info["_final_obs"] = final_obs, done.copy()
            final_info = {"is_success": success.copy(), "_is_success": done.copy()}
            info["final_info"], info["_final_info"] = final_info, done.copy()
            if self._run.finished:  # the session ran out: a new run (every body anew)
                obs, _ = self.reset()
            else:
                for i in np.flatnonzero(done):  # the next sub-episode starts now, same limb
                    self._k[i] = 0
                    self._trial0[i] = tasks[i][1]
                    obs[i, -1] = 0.0
                    self._phi[i] = self._potential(tasks[i], float(obs[i, ROW_PULL]))
        return obs, rewards, terminated, truncated, info

    def close_extras(self, **kwargs):
        if self._run is not None:
            self._run.close()
            self._run = None
        shutil.rmtree(self._dir, ignore_errors=True)


class JoystickNativeVectorEnv(VectorEnv):
    """``num_envs`` forelimbs stepped in-process by the native backend (:mod:`neuroloop_gym.native`),
    all of them by one call into the extension per vector step (in parallel threads when there is
    more than one). Unlike :class:`JoystickVectorEnv`, every sub-env is a :class:`JoystickEnv` of its
    own: a sub-episode is one trial with the body built anew, and sub-env ``i`` with seed ``s + i``
    (``reset(seed=s)``) gives the same observations, rewards and ends as ``JoystickEnv(...).reset(seed=s
    + i)`` given the same actions, its autoresets being that env's ``reset()`` (tested). Autoreset
    "same step" (the final observation in ``info["final_obs"]``). Parameters: those of
    :class:`JoystickEnv` (``backend`` aside), ``skin``, ``spindles`` and ``camera`` included."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        num_envs: int = 2,
        control_step_ms: int = 10,
        max_episode_ms: float = 1500.0,
        shaping: float = 0.0,
        gamma: float = 0.99,
        shaping_end: str = "zero",
        task: Optional[dict] = None,
        initial_excitation: float = 0.0,
        motor_noise: float = 0.05,
        world_file: Optional[str] = None,
        skin=False,
        spindles=False,
        camera=False,
    ):
        from gymnasium.utils import seeding

        from .native import NativeLimbs

        self._seeding = seeding
        self.num_envs = int(num_envs)
        if self.num_envs < 1:
            raise ValueError(f"num_envs must be >= 1 (got {num_envs})")
        self.control_step_ms = int(control_step_ms)
        if self.control_step_ms != control_step_ms or self.control_step_ms < 1:
            raise ValueError(f"control_step_ms must be a whole number of ms >= 1 (got {control_step_ms})")
        self.max_steps = int(np.ceil(float(max_episode_ms) / self.control_step_ms))
        self.shaping, self.gamma = float(shaping), float(gamma)
        if shaping_end not in ("zero", "pull"):
            raise ValueError(f'shaping_end must be "zero" or "pull" (got {shaping_end!r})')
        self.shaping_end = shaping_end
        self.task = dict(DEFAULT_TASK, **(task or {}))
        self.motor_noise = float(motor_noise)
        self._initial = np.full(len(MUSCLES), float(initial_excitation))
        self._limbs = NativeLimbs(self.num_envs, self.control_step_ms, self.task, world_file, self._initial,
                                  skin=skin, spindles=spindles, camera=camera)
        self.obs_names = observation_names() + self._limbs.summary_names
        self.single_action_space = spaces.Box(0.0, 1.0, shape=(len(MUSCLES),), dtype=np.float32)
        self.single_observation_space = spaces.Box(-np.inf, np.inf, shape=(len(self.obs_names),), dtype=np.float32)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self._rngs = [np.random.default_rng() for _ in range(self.num_envs)]
        self._pending = np.tile(self._initial, (self.num_envs, 1))
        self._k = np.zeros(self.num_envs, dtype=np.int64)
        self._phi = np.zeros(self.num_envs)
        self._started = False

    def _new_episode(self, i: int, seed: Optional[int]) -> np.ndarray:
        """Sub-env ``i``'s next episode (``seed``: episode 0 of that seed); its observation at t = 0."""
        rows = self._limbs.new_episode(seed, self._rngs[i], i)
        self._pending[i] = self._initial
        self._k[i] = 0
        obs = observation_from_rows(rows, self._pending[i], 0.0)
        self._phi[i] = potential(int(rows[0, ROW_TASK]), float(obs[0, ROW_PULL]), self.task["end_pull_mm"])
        return obs[0]

    def reset(self, *, seed=None, options=None):
        """A new episode of every sub-env. ``seed``: an int ``s`` (sub-env ``i`` gets ``s + i``) or a
        list of one seed (or None) per sub-env; without, the first reset draws seeds and later ones
        start each sub-env's next episode."""
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, (list, tuple)):
            if len(seed) != self.num_envs:
                raise ValueError(f"seed: {len(seed)} seeds for {self.num_envs} sub-envs")
            seeds = list(seed)
        else:
            seeds = [int(seed) + i for i in range(self.num_envs)]
        obs = np.empty((self.num_envs,) + self.single_observation_space.shape, dtype=np.float32)
        for i, s in enumerate(seeds):
            if s is not None:
                self._rngs[i] = self._seeding.np_random(int(s))[0]
            obs[i] = self._new_episode(i, s)
        self._started = True
        return obs, {}

    def step(self, actions):
        if not self._started:
            raise RuntimeError("step() before reset()")
        n = self.num_envs
        a = np.asarray(actions, dtype=np.float64).reshape(n, len(MUSCLES))
        if self.motor_noise:
            a = a + self.motor_noise * np.stack([r.standard_normal(len(MUSCLES)) for r in self._rngs])
        clip01(a, out=self._pending)
        rows = self._limbs.step(self._pending)
        self._k += 1
        obs = observation_from_rows(rows, self._pending, self._k / self.max_steps)
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        success = np.zeros(n, dtype=bool)
        for i in range(n):
            t = rows[i, ROW_TASK:]
            over = bool(t[1] >= 1.0)  # the episode's trial ended (success or timeout)
            success[i] = over and int(t[2]) == 1
            rewards[i], self._phi[i] = shaped_reward(self, over, success[i], int(t[0]), float(obs[i, ROW_PULL]),
                                                     self._phi[i])
            terminated[i] = over
            truncated[i] = not over and self._k[i] >= self.max_steps
        info = {"is_success": success, "_is_success": np.ones(n, dtype=bool)}
        done = terminated | truncated
        if done.any():
            final_obs = np.empty(n, dtype=object)
            for i in np.flatnonzero(done):
                final_obs[i] = obs[i].copy()
                obs[i] = self._new_episode(int(i), None)
            info["final_obs"], info["_final_obs"] = final_obs, done.copy()
            info["final_info"] = {"is_success": success.copy(), "_is_success": done.copy()}
            info["_final_info"] = done.copy()
        return obs, rewards, terminated, truncated, info

    def close_extras(self, **kwargs):
        if self._limbs is not None:
            self._limbs.close()
            self._limbs = None


def make_vector_env(num_envs: int = 2, backend: str = "native", **kwargs) -> VectorEnv:
    """The vector entry point of ``neuroloop/JoystickPull-v0``: :class:`JoystickNativeVectorEnv`
    (``backend="native"``, default) or :class:`JoystickVectorEnv` (``backend="zenoh"``: N bodies in
    one run)."""
    if backend == "native":
        return JoystickNativeVectorEnv(num_envs=num_envs, **kwargs)
    if backend == "zenoh":
        return JoystickVectorEnv(num_envs=num_envs, **kwargs)
    raise ValueError(f'backend must be "native" or "zenoh" (got {backend!r})')
