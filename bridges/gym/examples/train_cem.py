#!/usr/bin/env python3
"""Trains the light agent (numpy only: the noisy cross-entropy method on a linear policy,
neuroloop_gym.cem) on the joystick pull (neuroloop/JoystickPull-v0, native backend) and evaluates it.

Training: JoystickEnv with potential-based shaping 1 on the pull (shaping_end "pull") and episodes of at
most --train-episode-ms; every candidate of an iteration is scored on the same --episodes-per-candidate
episodes. Evaluation: the plain single env (default settings: task reward only, motor noise 0.05,
episodes of 1500 ms, a fresh body per episode) with the final mean parameters, against a uniformly
random policy and the scripted PD on the same episodes. Prints one JSON line (and writes --out).

    PYTHONPATH=bridges/python:bridges/gym .venv/bin/python bridges/gym/examples/train_cem.py \\
        --out bridges/gym/results/cem_seed0.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--population", type=int, default=40)
    ap.add_argument("--episodes-per-candidate", type=int, default=2)
    ap.add_argument("--train-episode-ms", type=float, default=600.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-episodes", type=int, default=50)
    ap.add_argument("--out", default=None, help="write the result (JSON) here")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    from neuroloop_gym import JoystickEnv
    from neuroloop_gym.baselines import PdPolicy, RandomPolicy
    from neuroloop_gym.cem import LinearPolicy, evaluate, train_cem

    log = None if args.quiet else (lambda s: print(
        f"  iteration {s['iteration']:>2}: {s['env_steps']:>6} env steps, {s['seconds']:6.1f} s, candidates' "
        f"success {s['success_rate']:.2f}, mean score {s['mean_score']:.3f}, elite {s['elite_score']:.3f}",
        flush=True))
    train_env = JoystickEnv(shaping=1.0, shaping_end="pull", max_episode_ms=args.train_episode_ms)
    eval_env = JoystickEnv()
    try:
        res = train_cem(train_env, iterations=args.iterations, population=args.population,
                        episodes_per_candidate=args.episodes_per_candidate, seed=args.seed, log=log)
        seeds = range(10_000 + args.seed, 10_000 + args.seed + args.eval_episodes)
        result = {
            "agent": "noisy cross-entropy method, linear policy (neuroloop_gym.cem)",
            "iterations": args.iterations,
            "population": args.population,
            "episodes_per_candidate": args.episodes_per_candidate,
            "train_episode_ms": args.train_episode_ms,
            "seed": args.seed,
            "train_env_steps": res.env_steps,
            "train_wall_s": round(res.seconds, 1),
            "machine": f"{platform.node()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end",
            "trained": evaluate(eval_env, LinearPolicy(res.theta), seeds),
            "random": evaluate(eval_env, RandomPolicy(args.seed), seeds),
            "scripted_pd": evaluate(eval_env, PdPolicy(), seeds),
            "curve": res.history,
            "theta": res.theta.tolist(),
        }
    finally:
        train_env.close()
        eval_env.close()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k not in ("curve", "theta")}))
    return result


if __name__ == "__main__":
    main()
