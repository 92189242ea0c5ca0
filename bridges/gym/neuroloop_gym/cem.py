"""A light agent for JoystickEnv, numpy only: the noisy cross-entropy method (Rubinstein 1999; noisy
variant for policy search: Szita & Lorincz 2006, Neural Computation 18:2936) on a linear policy.

The policy: excitations = sigmoid(W f + b) with features ``f`` of the observation: the task state
one-hot (iti, home, armed, moving, holding, done), the joystick's pull and lateral position (mm, over
the end box's 3.5 mm and 1 mm) and their change over the last control step (mm per step, times 10);
``9 x 8 + 8 = 80`` parameters. The cross-entropy method keeps a Gaussian over the parameters, samples
a population, scores each candidate by its mean return over the same episodes (common random numbers:
the same seeds for every candidate of an iteration), refits the Gaussian to the elite and adds a
decaying extra variance (the "noisy" CEM, which keeps it from collapsing early).

Used by ``examples/train_cem.py`` and the CI training test (``tests/test_cem.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np

from .env import N_OBS, ROW_PULL

_STATE = slice(46, 52)  # the task state one-hot in the observation
N_FEATURES = 6 + 2 + 2


class LinearPolicy:
    """``sigmoid(W f + b)`` on the features of the module docs; ``theta`` = W (row-major, 8 x 10) then
    b."""

    n_params = 8 * N_FEATURES + 8

    def __init__(self, theta: np.ndarray, end_pull_mm: float = 3.5, end_lateral_mm: float = 1.0):
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta has shape {theta.shape}; ({self.n_params},) expected")
        self.w = theta[: 8 * N_FEATURES].reshape(8, N_FEATURES)
        self.b = theta[8 * N_FEATURES :]
        self.scale = np.array([1.0 / end_pull_mm, 1.0 / end_lateral_mm])
        self.prev: Optional[np.ndarray] = None

    def reset(self) -> None:
        self.prev = None

    def features(self, obs: np.ndarray) -> np.ndarray:
        pos = obs[ROW_PULL : ROW_PULL + 2].astype(np.float64) * self.scale
        vel = np.zeros(2) if self.prev is None else (pos - self.prev) * 10.0
        self.prev = pos
        return np.concatenate([obs[_STATE], pos, vel])

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        z = self.w @ self.features(obs) + self.b
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def run_episode(env, policy, seed: int):
    """One episode from ``reset(seed)``: (return, success, steps)."""
    obs, _ = env.reset(seed=seed)
    policy.reset()
    total, steps = 0.0, 0
    while True:
        obs, r, term, trunc, info = env.step(policy(obs))
        total += r
        steps += 1
        if term or trunc:
            return total, bool(info.get("is_success", False)), steps


@dataclass
class CemResult:
    """What a training run gives: the final mean parameters and per-iteration statistics."""

    theta: np.ndarray
    history: List[dict] = field(default_factory=list)
    env_steps: int = 0
    seconds: float = 0.0


def train_cem(
    env,
    iterations: int = 15,
    population: int = 40,
    elite_frac: float = 0.25,
    episodes_per_candidate: int = 2,
    init_std: float = 1.0,
    extra_std: float = 0.5,
    extra_decay: float = 0.7,
    seed: int = 0,
    init_mean: Optional[np.ndarray] = None,
    log: Optional[Callable[[dict], None]] = None,
) -> CemResult:
    """Noisy cross-entropy method on :class:`LinearPolicy` (see the module docs). ``env``: a
    JoystickEnv (its reward is the score: use ``shaping`` for a signal before the first success)."""
    rng = np.random.default_rng(seed)
    n = LinearPolicy.n_params
    mean = np.zeros(n) if init_mean is None else np.asarray(init_mean, dtype=np.float64).copy()
    if init_mean is None:
        mean[8 * N_FEATURES :] = -2.0  # start with low excitations (sigmoid(-2) = 0.12)
    std = np.full(n, init_std)
    n_elite = max(2, int(round(elite_frac * population)))
    end_pull = env.unwrapped.task["end_pull_mm"]
    end_lat = env.unwrapped.task["end_lateral_mm"]
    result = CemResult(theta=mean)
    t0 = time.perf_counter()
    for it in range(iterations):
        seeds = rng.integers(0, 2**31, size=episodes_per_candidate)
        thetas = mean + std * rng.standard_normal((population, n))
        scores = np.empty(population)
        successes = 0
        for c, theta in enumerate(thetas):
            policy = LinearPolicy(theta, end_pull, end_lat)
            rets = []
            for s in seeds:
                ret, ok, steps = run_episode(env, policy, int(s))
                rets.append(ret)
                successes += ok
                result.env_steps += steps
            scores[c] = np.mean(rets)
        elite = thetas[np.argsort(scores)[-n_elite:]]
        mean = elite.mean(axis=0)
        extra = extra_std * extra_decay**it
        std = np.sqrt(elite.var(axis=0) + extra**2)
        stats = {
            "iteration": it,
            "env_steps": result.env_steps,
            "mean_score": float(scores.mean()),
            "elite_score": float(np.sort(scores)[-n_elite:].mean()),
            "success_rate": successes / (population * episodes_per_candidate),
            "seconds": time.perf_counter() - t0,
        }
        result.history.append(stats)
        if log is not None:
            log(stats)
    result.theta = mean
    result.seconds = time.perf_counter() - t0
    return result


def evaluate(env, policy, seeds) -> dict:
    """Success rate, mean return and mean episode length of ``policy`` on episodes ``reset(seed)`` for
    each seed."""
    rets, oks, steps = [], [], []
    for s in seeds:
        ret, ok, n = run_episode(env, policy, int(s))
        rets.append(ret)
        oks.append(ok)
        steps.append(n)
    rets = np.array(rets)
    return {
        "episodes": len(rets),
        "successes": int(np.sum(oks)),
        "success_rate": float(np.mean(oks)),
        "mean_return": float(rets.mean()),
        "return_sem": float(rets.std(ddof=1) / np.sqrt(len(rets))) if len(rets) > 1 else 0.0,
        "mean_steps": float(np.mean(steps)),
    }



