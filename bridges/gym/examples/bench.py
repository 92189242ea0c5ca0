#!/usr/bin/env python3
"""Benchmark (not a test): env steps per second of neuroloop/JoystickPull-v0 for 1 env and N envs, side
by side in one invocation with MyoSuite's myoElbowPose1D6MRandom-v0 (MuJoCo muscle arm) when MyoSuite is
installed (scripts/setup_python.sh --bench).

Measured: the native backend (the body engine stepped in-process by the extension neuroloop_gym_native)
as a single env and as its vector env (N bodies stepped by one call, in parallel threads); with --zenoh
also the zenoh backend (a run of `neuroloop control`) as a single env and its one-run vector env;
MyoSuite as a single env and in gymnasium's AsyncVectorEnv (it has no vector env of its own); with
--async also AsyncVectorEnv of native single envs. Random actions, autoreset on. The configurations take
turns: each repeat times one block of every configuration in a row, so that a change of the machine's
load hits all of them alike; each figure is the median over the repeats. Prints a Markdown table (env
steps/s in all, per env, simulated seconds per wall second) and the load average before and after.

    PYTHONPATH=bridges/python:bridges/gym .venv/bin/python bridges/gym/examples/bench.py --n 2 4
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


class Single:
    """A single env stepped with random actions, reset when an episode ends."""

    def __init__(self, env, seed=0):
        self.env, self.n = env, 1
        self.rng = np.random.default_rng(seed)
        self.low, self.high = env.action_space.low, env.action_space.high
        env.reset(seed=seed)

    def run(self, steps):
        env, rng, low, high = self.env, self.rng, self.low, self.high
        for _ in range(steps):
            _, _, term, trunc, _ = env.step(rng.uniform(low, high).astype(np.float32))
            if term or trunc:
                env.reset()

    def close(self):
        self.env.close()


class Vector:
    """A vector env stepped with random actions (autoreset)."""

    def __init__(self, envs, n, seed=0):
        self.env, self.n = envs, n
        self.rng = np.random.default_rng(seed)
        self.low, self.high = envs.single_action_space.low, envs.single_action_space.high
        envs.reset(seed=seed)

    def run(self, steps):
        for _ in range(steps):
            self.env.step(self.rng.uniform(self.low, self.high, size=(self.n,) + self.low.shape).astype(np.float32))

    def close(self):
        self.env.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[2, 4], help="numbers of envs")
    ap.add_argument("--seconds", type=float, default=1.0, help="wall seconds per timed block (about)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--control-step-ms", type=int, default=10)
    ap.add_argument("--zenoh", action="store_true", help="also the zenoh backend (needs the neuroloop binary)")
    ap.add_argument("--async", dest="async_", action="store_true",
                    help="also AsyncVectorEnv of native single envs")
    ap.add_argument("--no-myosuite", action="store_true")
    args = ap.parse_args(argv)

    import neuroloop_gym

    load_before = os.getloadavg()
    kw = dict(control_step_ms=args.control_step_ms)
    dt_nl = args.control_step_ms / 1000.0
    nl = "neuroloop JoystickPull-v0"
    # (env, backend / vectorisation, n, sim s per env step, maker)
    configs = [(nl, "native, single env", 1, dt_nl, lambda: Single(gym.make(neuroloop_gym.ENV_ID, **kw)))]
    if args.zenoh:
        configs.append((nl, "zenoh, single env", 1, dt_nl,
                        lambda: Single(gym.make(neuroloop_gym.ENV_ID, backend="zenoh", **kw))))
    for n in args.n:
        configs.append((nl, "native vector env (threads)", n, dt_nl, lambda n=n: Vector(
            gym.make_vec(neuroloop_gym.ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", **kw), n)))
        if args.zenoh:
            configs.append((nl, "zenoh vector env (one run)", n, dt_nl, lambda n=n: Vector(gym.make_vec(
                neuroloop_gym.ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", backend="zenoh", **kw), n)))
        if args.async_:
            configs.append((nl, "native, AsyncVectorEnv", n, dt_nl, lambda n=n: Vector(gym.vector.AsyncVectorEnv(
                [lambda: gym.make("neuroloop_gym:" + neuroloop_gym.ENV_ID, **kw) for _ in range(n)],
                context="spawn"), n)))
    myo_note = ""
    if not args.no_myosuite:
        try:
            import myosuite  # noqa: F401

            probe = gym.make(MYO_ID)
            dt_myo = float(probe.unwrapped.dt)
            probe.close()
            myo = f"MyoSuite {MYO_ID}"
            configs.append((myo, "single env", 1, dt_myo, lambda: Single(gym.make(MYO_ID))))
            for n in args.n:
                configs.append((myo, "AsyncVectorEnv", n, dt_myo, lambda n=n: Vector(gym.vector.AsyncVectorEnv(
                    [lambda: (__import__("myosuite"), gym.make(MYO_ID))[1] for _ in range(n)], context="spawn"), n)))
        except ImportError as e:
            myo_note = f"MyoSuite not measured: {e}"

    runners = [make() for (*_, make) in configs]
    try:
        # Warm-up, and the block length of each configuration: about --seconds of wall time.
        blocks = []
        for r in runners:
            r.run(20)
            t = time.perf_counter()
            r.run(100)
            per_step = (time.perf_counter() - t) / 100
            blocks.append(max(50, int(args.seconds / per_step)))
        rates = [[] for _ in runners]
        for _ in range(args.repeats):
            for i, r in enumerate(runners):
                t = time.perf_counter()
                r.run(blocks[i])
                rates[i].append(blocks[i] * r.n / (time.perf_counter() - t))
    finally:
        for r in runners:
            r.close()
    load_after = os.getloadavg()

    print(f"\n{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, gymnasium {gym.__version__}; "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; median of {args.repeats} turns")
    print("| env | backend / vectorisation | envs | env steps/s | per env | sim ms per env step | simulated s / wall s (all envs) |")
    print("|---|---|---|---|---|---|---|")
    for (name, how, n, dt, _), rs in zip(configs, rates):
        rate = statistics.median(rs)
        print(f"| {name} | {how} | {n} | {rate:.0f} | {rate / n:.0f} | {dt * 1000:.0f} | {rate * dt:.1f} |")
    if myo_note:
        print(myo_note)


if __name__ == "__main__":
    main()
