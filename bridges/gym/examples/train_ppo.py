#!/usr/bin/env python3
"""Trains stable-baselines3 PPO on the joystick pull (neuroloop/JoystickPull-v0) and evaluates it.

Training runs N forelimbs in one run (JoystickVectorEnv, through neuroloop_gym.sb3.Sb3VectorEnv), with
potential-based shaping (--shaping, default 1) on the pull and observation normalisation
(VecNormalize); evaluation uses the plain single env (a fresh body per episode, the task's reward only,
deterministic policy) and compares with a uniformly random policy on the same episodes. Prints one JSON
line with the results (and writes it to --out/result.json with the model).

    NEUROLOOP_BIN=/work/snap2/neuroloop PYTHONPATH=bridges/python:bridges/gym \\
        .venv-rl/bin/python bridges/gym/examples/train_ppo.py --timesteps 200000 --n-envs 4

Needs stable-baselines3 (and torch): `scripts/setup_python.sh --rl`.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def evaluate(policy, n_episodes: int, seed: int, env_kwargs: dict):
    """Success rate, mean task return and mean peak pull (mm) of ``policy(obs) -> action`` over
    ``n_episodes`` episodes of a JoystickEnv (seeds seed, seed + 1, ...)."""
    from neuroloop_gym import JoystickEnv

    env = JoystickEnv(**env_kwargs)
    succ, ret, peak, lengths = [], [], [], []
    try:
        for e in range(n_episodes):
            obs, _ = env.reset(seed=seed + e)
            if hasattr(policy, "reset"):
                policy.reset()
            done, total, top, n = False, 0.0, 0.0, 0
            while not done:
                obs, r, term, trunc, info = env.step(policy(obs))
                total += r
                top = max(top, float(obs[12]))
                n += 1
                done = term or trunc
            succ.append(bool(info["is_success"]))
            ret.append(total)
            peak.append(top)
            lengths.append(n)
    finally:
        env.close()
    return {
        "episodes": n_episodes,
        "success_rate": float(np.mean(succ)),
        "mean_return": float(np.mean(ret)),
        "mean_peak_pull_mm": float(np.mean(peak)),
        "mean_length": float(np.mean(lengths)),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timesteps", type=int, default=200_000, help="env steps of training (all envs together)")
    ap.add_argument("--n-envs", type=int, default=4, help="forelimbs (envs) in training")
    ap.add_argument("--vec", default="native", choices=["native", "subproc"],
                    help="native: JoystickVectorEnv (N bodies in one run; a sub-episode is a trial of a "
                         "continuing session); subproc: SB3's SubprocVecEnv of JoystickEnv (a fresh body "
                         "per episode, as in the evaluation)")
    ap.add_argument("--n-steps", type=int, default=256, help="PPO rollout length per env")
    ap.add_argument("--shaping", type=float, default=1.0)
    ap.add_argument("--shaping-end", default="pull", choices=["zero", "pull"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-episodes", type=int, default=50)
    ap.add_argument("--out", default="runs/ppo_joystick")
    ap.add_argument("--eval-shaped", action="store_true",
                    help="also evaluate trained and random policies with the training's shaping")
    args = ap.parse_args(argv)

    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

    from neuroloop_gym import JoystickVectorEnv
    from neuroloop_gym.sb3 import Sb3VectorEnv

    torch.set_num_threads(1)  # the bodies need the cores
    os.makedirs(args.out, exist_ok=True)
    gamma = 0.99
    shaped = dict(shaping=args.shaping, gamma=gamma, shaping_end=args.shaping_end)
    if args.vec == "native":
        venv = JoystickVectorEnv(num_envs=args.n_envs, **shaped)
        sb3_env = Sb3VectorEnv(venv)  # actions in [-1, 1] for SB3, mapped to the excitations' [0, 1]
    else:
        import functools

        from stable_baselines3.common.vec_env import SubprocVecEnv

        from neuroloop_gym.env import symmetric_joystick_env

        make = functools.partial(symmetric_joystick_env, **shaped)
        sb3_env = SubprocVecEnv([make] * args.n_envs, start_method="spawn")
    env = VecNormalize(VecMonitor(sb3_env), norm_obs=True, norm_reward=False, gamma=gamma)
    env.seed(args.seed)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=args.n_steps,
        batch_size=256,
        n_epochs=10,
        learning_rate=3e-4,
        gamma=gamma,
        gae_lambda=0.95,
        ent_coef=0.0,
        policy_kwargs=dict(log_std_init=-0.5, net_arch=[64, 64]),
        seed=args.seed,
        verbose=0,
        device="cpu",
    )
    curve = []

    from stable_baselines3.common.callbacks import BaseCallback

    class Curve(BaseCallback):
        """Success rate of the training episodes per rollout."""

        def __init__(self):
            super().__init__()
            self.succ, self.ret = [], []

        def _on_step(self):
            for info, done in zip(self.locals["infos"], self.locals["dones"]):
                if done:
                    self.succ.append(info.get("is_success", False))
                    if "episode" in info:  # VecMonitor: the shaped return
                        self.ret.append(info["episode"]["r"])
            return True

        def _on_rollout_end(self):
            if self.succ:
                r = float(np.mean(self.ret)) if self.ret else float("nan")
                curve.append((self.num_timesteps, float(np.mean(self.succ)), len(self.succ), r))
                print(f"  {self.num_timesteps:>8} steps: training success {np.mean(self.succ):.2f} "
                      f"({len(self.succ)} episodes), shaped return {r:.3f}", flush=True)
            self.succ, self.ret = [], []

    t0 = time.perf_counter()
    model.learn(total_timesteps=args.timesteps, callback=Curve())
    train_s = time.perf_counter() - t0
    model.save(os.path.join(args.out, "ppo_joystick"))
    env.save(os.path.join(args.out, "vecnormalize.pkl"))
    env.close()

    obs_rms = env.obs_rms
    clip = env.clip_obs

    def trained(obs):
        o = np.clip((obs - obs_rms.mean) / np.sqrt(obs_rms.var + env.epsilon), -clip, clip)
        a, _ = model.predict(o.astype(np.float32), deterministic=True)
        return ((np.clip(a, -1.0, 1.0) + 1.0) * 0.5).astype(np.float32)

    from neuroloop_gym.baselines import PdPolicy, RandomPolicy

    eval_seed = 10_000 + args.seed
    result = {
        "timesteps": args.timesteps,
        "n_envs": args.n_envs,
        "vec": args.vec,
        "shaping": args.shaping,
        "shaping_end": args.shaping_end,
        "seed": args.seed,
        "train_wall_s": round(train_s, 1),
        "train_env_steps_per_s": round(args.timesteps / train_s, 1),
        "trained": evaluate(trained, args.eval_episodes, eval_seed, {}),
        "random": evaluate(RandomPolicy(args.seed), args.eval_episodes, eval_seed, {}),
        "scripted_pd": evaluate(PdPolicy(), args.eval_episodes, eval_seed, {}),
        "curve": curve,
    }
    if args.eval_shaped:
        shaped = {"shaping": args.shaping, "shaping_end": args.shaping_end, "gamma": gamma}
        result["trained_shaped"] = evaluate(trained, args.eval_episodes, eval_seed, shaped)
        result["random_shaped"] = evaluate(RandomPolicy(args.seed), args.eval_episodes, eval_seed, shaped)
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}))
    return result


if __name__ == "__main__":
    main()
