#!/usr/bin/env python3
"""Benchmark (not a test): env steps per second of neuroloop/JoystickPull-v0 for 1 env and N envs, side
by side in one invocation with MyoSuite's myoElbowPose1D6MRandom-v0 (MuJoCo muscle arm) when MyoSuite is
installed. Random actions, autoreset on; each figure is the median of --repeats timed blocks of --steps
vector steps after a warm-up. Prints a Markdown table (env steps/s in all, per env, simulated seconds per
wall second).

    NEUROLOOP_BIN=/work/snap2/neuroloop PYTHONPATH=bridges/python:bridges/gym \\
        .venv/bin/python bridges/gym/examples/bench.py --n 2 4
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

import gymnasium as gym

MYO_ID = "myoElbowPose1D6MRandom-v0"


def time_steps(envs, n_envs, steps, repeats, seed=0):
    rng = np.random.default_rng(seed)
    low, high = envs.single_action_space.low, envs.single_action_space.high
    envs.reset(seed=seed)
    acts = lambda: rng.uniform(low, high, size=(n_envs,) + low.shape).astype(np.float32)
    for _ in range(min(50, steps)):  # warm-up
        envs.step(acts())
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            envs.step(acts())
        rates.append(steps * n_envs / (time.perf_counter() - t))
    return statistics.median(rates)


def time_single(env, steps, repeats, seed=0):
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    env.reset(seed=seed)

    def run(n):
        for _ in range(n):
            _, _, term, trunc, _ = env.step(rng.uniform(low, high).astype(np.float32))
            if term or trunc:
                env.reset()

    run(min(50, steps))
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        run(steps)
        rates.append(steps / (time.perf_counter() - t))
    return statistics.median(rates)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[2, 4], help="numbers of envs")
    ap.add_argument("--steps", type=int, default=300, help="vector steps per timed block")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--control-step-ms", type=int, default=10)
    ap.add_argument("--no-myosuite", action="store_true")
    args = ap.parse_args(argv)

    import neuroloop_gym

    rows = []  # (env, vectorisation, n, steps/s, sim s per env step)
    dt_nl = args.control_step_ms / 1000.0
    kw = dict(control_step_ms=args.control_step_ms)

    env = gym.make(neuroloop_gym.ENV_ID, **kw)
    rows.append(("neuroloop JoystickPull-v0", "single env", 1, time_single(env, args.steps, args.repeats), dt_nl))
    env.close()
    for n in args.n:
        envs = gym.make_vec(neuroloop_gym.ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", **kw)
        rows.append(("neuroloop JoystickPull-v0", "native (one run)", n, time_steps(envs, n, args.steps, args.repeats), dt_nl))
        envs.close()
        envs = gym.vector.AsyncVectorEnv(
            [lambda: gym.make("neuroloop_gym:" + neuroloop_gym.ENV_ID, **kw) for _ in range(n)], context="spawn"
        )
        rows.append(("neuroloop JoystickPull-v0", "AsyncVectorEnv", n, time_steps(envs, n, args.steps, args.repeats), dt_nl))
        envs.close()

    myo_note = ""
    if not args.no_myosuite:
        try:
            import myosuite  # noqa: F401

            env = gym.make(MYO_ID)
            dt_myo = float(env.unwrapped.dt)
            rows.append((f"MyoSuite {MYO_ID}", "single env", 1, time_single(env, args.steps * 5, args.repeats), dt_myo))
            env.close()
            for n in args.n:
                envs = gym.vector.AsyncVectorEnv(
                    [lambda: (__import__("myosuite"), gym.make(MYO_ID))[1] for _ in range(n)], context="spawn"
                )
                rows.append((f"MyoSuite {MYO_ID}", "AsyncVectorEnv", n, time_steps(envs, n, args.steps * 5, args.repeats), dt_myo))
                envs.close()
        except ImportError as e:
            myo_note = f"MyoSuite not measured: {e}"

    print(f"\n{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, gymnasium {gym.__version__}")
    print("| env | vectorisation | envs | env steps/s | per env | sim ms per env step | simulated s / wall s (all envs) |")
    print("|---|---|---|---|---|---|---|")
    for name, how, n, rate, dt in rows:
        print(f"| {name} | {how} | {n} | {rate:.0f} | {rate / n:.0f} | {dt * 1000:.0f} | {rate * dt:.1f} |")
    if myo_note:
        print(myo_note)


if __name__ == "__main__":
    main()
