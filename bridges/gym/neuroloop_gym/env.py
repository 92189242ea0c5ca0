"""``JoystickEnv``: the mouse forelimb's joystick pull task (Mathis et al. 2017) as a Gymnasium
environment, simulated by neuroloop's body engine in lockstep.

How it runs, two backends with the same observations, bit for bit (tested):

* ``backend="native"`` (default): the extension ``neuroloop_gym_native`` (:mod:`neuroloop_gym.native`)
  builds the body engine (``neuroloop-body``'s ``BodyEngine``, from the same configuration table as the
  experiment below) in this process and steps it directly, no run and no exchange.
* ``backend="zenoh"``: the env starts a ``neuroloop control`` server (``neuroloop.Run``) on a generated
  experiment (:mod:`neuroloop_gym.experiment`): the body engine (a process, rapier3d) and the *agent*,
  an external engine served by a thread of this process, whose ``excitations`` output drives the body's
  8 muscles. ``step(action)`` hands the action to the agent, advances the run by one control step and
  reads the body's outputs (``run.read``). ``reset()`` resets the run to a new episode (the body is
  built anew).

Timing (what the agent sees and when its action acts): in the experiment the link agent -> body is one
control step late (``delay_ms`` = ``control_step_ms``), so the coordinator exchanges with both engines
once per control step (one lookahead ``Window``, docs/protocol.md 7.1) instead of every millisecond; the
native backend holds the excitations for one control step likewise. Hence:

* the observation returned by ``reset()`` is the body at t = 0, and by the k-th ``step`` (k = 1, 2, ...)
  the body at t = k * control_step (its outputs at the end of the last physics step: no sensing delay);
* the action of the k-th ``step`` drives the muscles during ``[k, k + 1) * control_step``, i.e. during the
  *next* control step: one control step of motor latency. During the first control step of an episode
  the muscles get ``initial_excitation``. The observation carries the excitations that will act next
  (``pending_excitation``), so the state stays Markov.

Episodes: one trial of the task. The body starts at rest in the task's ``iti`` state; with the env's
task settings (``iti_ms`` = 0) it is ``home`` at once, ``armed`` after ``home_dwell_ms`` (100 ms) in the
home box, a pull across ``start_line_mm`` (1 mm) starts the trial (``moving``), holding the grip in the
end box (pull >= 3.5 mm, |lateral| <= 1 mm) for ``hold_ms`` (50 ms) within ``movement_window_ms``
(400 ms) is a success (reward 1). ``terminated`` when the trial ended (success or timeout), ``truncated``
at ``max_episode_ms`` (default 1500 ms = 150 steps). Reward: 1 for the success, plus optional
potential-based shaping (``shaping`` > 0, Ng et al. 1999): ``shaping * (gamma * phi(s') - phi(s))`` with
``phi`` = the pull towards the end box (clipped to [0, 1] of ``end_pull_mm``) while armed, moving or
holding and 0 otherwise (and 0 after the episode ends), which leaves the optimal policy unchanged.
With ``shaping_end="pull"`` the potential at the episode's end is the pull reached then (clipped to
[0, 1] of ``end_pull_mm``) instead of 0: a trial that times out near the end box keeps most of its
shaping, which gives a learning signal before the first success (it no longer leaves the optimal policy
exactly unchanged: ending pulled is favoured, which a success implies anyway; a success returns about
``1 + shaping``, a failed pull at most about ``shaping``).

Noise: the body is deterministic; episodes differ through *motor noise* only: Gaussian noise of
standard deviation ``motor_noise`` (default 0.05) added to each excitation before it is clipped to
[0, 1], drawn from the env's ``np_random`` (so ``reset(seed=...)`` makes it reproducible). The
observation's ``pending_excitation`` is the excitation with its noise, as the muscles will get it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

import gymnasium as gym
from gymnasium import spaces

import neuroloop as nl

from .experiment import (
    JOINTS,
    MUSCLES,
    OBSERVED_PORTS,
    TASK_STATES,
    excitation_ports,
    experiment_toml,
    observed_ports,
)

#: The task settings of the env (override with ``task=``): no inter-trial interval, so that an episode
#: starts with the home dwell; the rest are the world file's defaults, written out.
DEFAULT_TASK = {
    "iti_ms": 0.0,
    "home_half_width_mm": 1.0,
    "home_dwell_ms": 100.0,
    "start_line_mm": 1.0,
    "end_pull_mm": 3.5,
    "end_lateral_mm": 1.0,
    "hold_ms": 50.0,
    "movement_window_ms": 400.0,
}

ARMED, MOVING, HOLDING = 2, 3, 4


def observation_names() -> List[str]:
    """Names of the observation's elements, in order (61), without sensor summaries (an env with
    sensors appends them: ``env.obs_names``)."""
    names = [f"joint_angle.{j}" for j in JOINTS]  # rad
    names += [f"joint_velocity.{j}" for j in JOINTS]  # rad/s
    names += ["joystick.pull_mm", "joystick.lateral_mm"]
    names += [f"muscle_length_mm.{m}" for m in MUSCLES]
    names += [f"muscle_velocity_mm_per_s.{m}" for m in MUSCLES]
    names += [f"muscle_force_n.{m}" for m in MUSCLES]
    names += [f"muscle_activation.{m}" for m in MUSCLES]
    names += [f"task_state.{s}" for s in TASK_STATES]  # one-hot
    names += [f"pending_excitation.{m}" for m in MUSCLES]
    names += ["episode_time"]  # t / max_episode_ms, in [0, 1]
    return names


N_OBS = len(observation_names())

# A *row*: the values of OBSERVED_PORTS in order (joint angles, joint velocities, joystick position,
# muscles (length_m, velocity_m_per_s, force_n, activation per muscle), task (state, trial, outcome,
# lateral force)), then the native backend's sensor summaries.
_NJ, _NM = len(JOINTS), len(MUSCLES)
ROW_TASK = 2 * _NJ + 2 + 4 * _NM  # where the task values start in a row
ROW_LEN = ROW_TASK + 4  # a row's length without sensor summaries
ROW_PULL = 2 * _NJ  # the joystick's pull (mm) in a row; the observation has it at the same index
# The observation's first values from a row: angles, velocities and joystick as they are, then per
# quantity the 8 muscles (lengths and velocities in mm), by one gather and one product.
_PICK = np.r_[np.arange(2 * _NJ + 2), [2 * _NJ + 2 + 4 * k + q for q in range(4) for k in range(_NM)]]
_SCALE = np.r_[np.ones(2 * _NJ + 2), np.full(2 * _NM, 1e3), np.ones(2 * _NM)]
_OBS_STATE = len(_PICK)  # the task state one-hot starts here
_OBS_PENDING = _OBS_STATE + len(TASK_STATES)


def observation_from_rows(rows: np.ndarray, pending: np.ndarray, t_frac) -> np.ndarray:
    """The observations (float32, n x (61 + summaries)) of rows (n x row length): the body's values
    (lengths and velocities of the muscles in mm), the task state one-hot, the pending excitations
    (n x 8), the episode time ``t_frac`` (n) and the row's sensor summaries. One definition for both
    backends."""
    n = rows.shape[0]
    obs = np.zeros((n, N_OBS + rows.shape[1] - ROW_LEN), dtype=np.float32)
    # The products in float64, rounded once to float32 (casting "same_kind").
    np.multiply(rows[:, _PICK], _SCALE, out=obs[:, :_OBS_STATE], casting="same_kind")
    if n == 1:
        obs[0, _OBS_STATE + int(rows[0, ROW_TASK])] = 1.0
    else:
        obs[np.arange(n), _OBS_STATE + rows[:, ROW_TASK].astype(np.intp)] = 1.0
    obs[:, _OBS_PENDING:N_OBS - 1] = pending
    obs[:, N_OBS - 1] = t_frac
    obs[:, N_OBS:] = rows[:, ROW_LEN:]
    return obs


def rows_from_read(values: Dict[str, Dict[str, Any]], bodies: List[str]) -> np.ndarray:
    """The rows (n bodies x ROW_LEN) of a ``run.read`` of :func:`observed_ports` (zenoh backend)."""
    return np.array(
        [np.concatenate([values[f"{b}.{p}"]["values"] for p in OBSERVED_PORTS]) for b in bodies],
        dtype=np.float64,
    )


def clip01(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``np.clip(a, 0, 1, out=out)`` (NaN stays NaN), in a third of its time on small arrays."""
    return np.minimum(np.maximum(a, 0.0, out=out), 1.0, out=out)


def _clip01_float(x: float) -> float:
    """``float(np.clip(x, 0, 1))`` of a Python float (NaN stays NaN), without numpy's scalar overhead."""
    return min(max(x, 0.0), 1.0)


def potential(task_state: int, pull_mm: float, end_pull_mm: float) -> float:
    """The shaping potential ``phi``: the pull towards the end box, clipped to [0, 1] of
    ``end_pull_mm``, while armed, moving or holding; else 0."""
    if task_state in (ARMED, MOVING, HOLDING):
        return _clip01_float(pull_mm / end_pull_mm)
    return 0.0


def end_potential(env, over: bool, task_state: int, pull_mm: float) -> float:
    """The shaping potential after a step: ``phi`` of the state, or at the episode's end 0 (or the
    pull, with ``shaping_end="pull"``)."""
    if not over:
        return potential(task_state, pull_mm, env.task["end_pull_mm"])
    if env.shaping_end == "pull":
        return _clip01_float(pull_mm / env.task["end_pull_mm"])
    return 0.0


class _ActionBox:
    """What the agent engine outputs: shared by the env (writer) and the engine thread (reader). The
    engine reads it only inside a Window, which runs while the env waits for ``advance``: no race."""

    def __init__(self, n: int, initial: np.ndarray):
        self.initial = np.array(initial, dtype=np.float64)
        self.actions = [self.initial.copy() for _ in range(n)]

    def reset(self) -> None:
        for a in self.actions:
            a[:] = self.initial


class _Agent(nl.Engine):
    """The external engine: outputs the actions the env set, at every base step of the window."""

    def __init__(self, ctx: nl.InitContext, box: _ActionBox, ports: List[str]):
        self.box, self.names = box, ports
        box.reset()  # a new episode (Init or Reset): the muscles start with the initial excitation

    def ports(self):
        return [nl.Port.output(p, nl.Analog([(m, "1") for m in MUSCLES])) for p in self.names]

    def initial_outputs(self, outputs):
        for p in self.names:
            outputs[p] = self.box.initial

    def step(self, t_ms, dt_ms, inputs, outputs):
        # Held outputs: write the env's arrays (already float64, shape (8,)) without a copy.
        slots = outputs._slots
        for i, a in enumerate(self.box.actions):
            slots[i] = a


def shaped_reward(env, over: bool, success: bool, task_state: int, pull_mm: float, phi_prev: float):
    """The reward of a step (1 for a success, plus the shaping term) and the new potential."""
    reward = 1.0 if success else 0.0
    phi = end_potential(env, over, task_state, pull_mm)
    if env.shaping:
        reward += env.shaping * (env.gamma * phi - phi_prev)
    return reward, phi


class _ZenohBackend:
    """One run of ``neuroloop control`` (the body engine a process, the agent an engine served by a
    thread of this process), stepped by ``advance`` and read by ``read``: what shows that the run
    library works. See the module docs."""

    summary_names: List[str] = []

    def __init__(self, env: "JoystickEnv", binary: Optional[str]):
        self.env, self.binary = env, binary
        self._box = _ActionBox(1, env._initial)
        self._run: Optional[nl.Run] = None
        self._run_seed: Optional[int] = None
        self._n_runs = 0
        self._fresh = False  # the run is at the start of an episode nobody has stepped yet
        self._dir = tempfile.mkdtemp(prefix="neuroloop-gym-")
        self._ports = observed_ports(["body"])

    def _start(self, seed: int) -> None:
        self._stop_run()
        env = self.env
        path = os.path.join(self._dir, f"gym_joystick_{seed}.toml")
        with open(path, "w") as f:
            f.write(
                experiment_toml(
                    n_bodies=1,
                    control_step_ms=env.control_step_ms,
                    duration_ms=(env.max_steps + 1) * env.control_step_ms,
                    seed=seed,
                    task=env.task,
                    world_file=env.world_file,
                )
            )
        names = excitation_ports(1)
        box = self._box
        # The control server always records a run folder (manifest, the body's trial records): here,
        # in the env's temporary folder, removed by close().
        self._n_runs += 1
        self._run = nl.Run(
            path,
            output=os.path.join(self._dir, f"run{self._n_runs}"),
            binary=self.binary,
            engines={"agent": lambda ctx: _Agent(ctx, box, names)},
        )
        self._run_seed = seed
        self._fresh = True

    def _stop_run(self) -> None:
        if self._run is not None:
            try:
                self._run.close()
            finally:
                self._run = None

    def new_episode(self, seed: Optional[int], np_random) -> np.ndarray:
        """With ``seed``: episode 0 of a run with ``run.seed = seed`` (a new run unless the current one
        is that and untouched). Without: the run's next episode (``Run.reset``: its seed derived from
        the run's seed and the episode index). Returns the row at t = 0 (1 x ROW_LEN)."""
        if seed is not None:
            run_seed = int(seed) % (2**63)
            if not (self._fresh and self._run_seed == run_seed and self._run is not None):
                self._start(run_seed)
        elif self._run is None:
            self._start(int(np_random.integers(0, 2**31)))
        elif not self._fresh:
            self._run.reset()
        self._fresh = False
        self._box.reset()
        return rows_from_read(self._run.read(*self._ports), ["body"])

    def step(self, pending: np.ndarray) -> np.ndarray:
        """One control step driven by the excitations set at the previous one; ``pending`` acts next."""
        self._box.actions[0][:] = pending
        self._run.advance(steps=self.env.control_step_ms)
        return rows_from_read(self._run.read(*self._ports), ["body"])

    @property
    def finished(self) -> bool:
        return self._run is not None and self._run.finished

    def close(self) -> None:
        self._stop_run()
        shutil.rmtree(self._dir, ignore_errors=True)


class JoystickEnv(gym.Env):
    """The joystick pull task driven through the 8 muscle excitations (see the module docs).

    Parameters: ``control_step_ms`` (whole ms, default 10), ``max_episode_ms`` (default 1500),
    ``shaping`` (default 0: the task's reward only), ``gamma`` (of the shaping, default 0.99) and
    ``shaping_end`` ("zero" or "pull", see the module docs),
    ``task`` (overrides of :data:`DEFAULT_TASK`), ``initial_excitation`` (default 0), ``motor_noise``
    (default 0.05), ``world_file``;
    ``backend``: ``"native"`` (default: the body engine stepped in-process by the extension
    ``neuroloop_gym_native``, :mod:`neuroloop_gym.native`) or ``"zenoh"`` (a run of ``neuroloop
    control``; ``binary``: the ``neuroloop`` binary, default ``$NEUROLOOP_BIN``, else the PATH); the
    two give the same observations, bit for bit (tested);
    ``skin``, ``spindles``, ``camera`` (native backend only, default off): sensor summaries appended
    to the observation (:mod:`neuroloop_gym.native`).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
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
        render_mode: Optional[str] = None,
        backend: str = "native",
        skin=False,
        spindles=False,
        camera=False,
    ):
        super().__init__()
        if render_mode is not None:
            raise ValueError("JoystickEnv has no render modes")
        self.control_step_ms = int(control_step_ms)
        if self.control_step_ms != control_step_ms or self.control_step_ms < 1:
            raise ValueError(f"control_step_ms must be a whole number of ms >= 1 (got {control_step_ms})")
        self.max_episode_ms = float(max_episode_ms)
        self.max_steps = int(np.ceil(self.max_episode_ms / self.control_step_ms))
        self.shaping, self.gamma = float(shaping), float(gamma)
        if shaping_end not in ("zero", "pull"):
            raise ValueError(f'shaping_end must be "zero" or "pull" (got {shaping_end!r})')
        self.shaping_end = shaping_end
        self.task = dict(DEFAULT_TASK, **(task or {}))
        self.motor_noise = float(motor_noise)
        self.world_file = world_file
        self._initial = np.full(len(MUSCLES), float(initial_excitation))
        self._pending = self._initial.copy()
        if backend == "native":
            from .native import NativeLimbs

            self._backend = NativeLimbs(
                1, self.control_step_ms, self.task, world_file, self._initial,
                skin=skin, spindles=spindles, camera=camera,
            )
        elif backend == "zenoh":
            if skin or spindles or camera:
                raise ValueError("skin, spindles and camera summaries need backend='native'")
            self._backend = _ZenohBackend(self, binary)
        else:
            raise ValueError(f'backend must be "native" or "zenoh" (got {backend!r})')
        self.backend = backend
        self.obs_names = observation_names() + list(self._backend.summary_names)
        self.action_space = spaces.Box(0.0, 1.0, shape=(len(MUSCLES),), dtype=np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(len(self.obs_names),), dtype=np.float32)
        self._k = 0
        self._phi = 0.0
        self._done = True

    # -- Gymnasium -----------------------------------------------------------------------------------

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        """A new episode (the body built anew). With ``seed``: episode 0 of a run with ``run.seed =
        seed``, so equal seeds give equal episodes. Without: the next episode (its seed derived from
        the run's seed and the episode index, as ``Run.reset`` derives it)."""
        super().reset(seed=seed)
        rows = self._backend.new_episode(seed, self.np_random)
        self._pending[:] = self._initial
        self._k = 0
        self._done = False
        obs = observation_from_rows(rows, self._pending, 0.0)[0]
        state = int(rows[0, ROW_TASK])
        self._phi = potential(state, float(obs[ROW_PULL]), self.task["end_pull_mm"])
        return obs, {"t_ms": 0.0, "task_state": TASK_STATES[state]}

    def step(self, action):
        if self._done:
            raise RuntimeError("step() after the episode ended: call reset()")
        a = np.asarray(action, dtype=np.float64).reshape(len(MUSCLES))
        if self.motor_noise:
            a = a + self.motor_noise * self.np_random.standard_normal(len(MUSCLES))
        clip01(a, out=self._pending)
        rows = self._backend.step(self._pending)
        self._k += 1
        obs = observation_from_rows(rows, self._pending, self._k / self.max_steps)[0]
        state, trial, outcome = int(rows[0, ROW_TASK]), rows[0, ROW_TASK + 1], rows[0, ROW_TASK + 2]
        trial_over = trial >= 1.0  # the first trial of the episode ended (success or timeout)
        success = bool(trial_over and int(outcome) == 1)
        reward, self._phi = shaped_reward(self, trial_over, success, state, float(obs[ROW_PULL]), self._phi)
        terminated = bool(trial_over)
        truncated = bool(not terminated and (self._k >= self.max_steps or self._backend.finished))
        self._done = terminated or truncated
        info = {
            "t_ms": self._k * float(self.control_step_ms),
            "task_state": TASK_STATES[state],
            "is_success": success,
        }
        return obs, float(reward), terminated, truncated, info

    def close(self):
        self._backend.close()
        super().close()


def symmetric_joystick_env(**kwargs) -> gym.Env:
    """A :class:`JoystickEnv` whose actions are in [-1, 1], mapped linearly to the excitations' [0, 1]
    (``RescaleAction``; stable-baselines3 recommends symmetric Box actions). Importable by spawned
    worker processes (SB3's ``SubprocVecEnv``)."""
    return gym.wrappers.RescaleAction(JoystickEnv(**kwargs), -1.0, 1.0)
