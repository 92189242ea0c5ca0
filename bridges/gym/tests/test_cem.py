"""A CI-sized training run of the light agent (numpy only: noisy cross-entropy method on a linear
policy, neuroloop_gym.cem) beats a uniformly random policy on the joystick pull.

Bounded by construction: 15 iterations x 40 candidates x 2 training episodes of at most 60 control
steps (72,000 env steps at most; about 60,000 in practice), then 2 x 20 evaluation episodes of at most
150 steps (6,000 at most): about 20 s on the 2-core development machine (native backend), about a
minute when the machine is busy, within the 2 minutes the CI budget allows. These are the example's
settings (examples/train_cem.py), which succeeded for each of the seeds 0-5 tried (README).

The margin cannot be met by chance: the random policy's success, measured here on the same 20
evaluation episodes, is 0/20 (0.00 in every measurement so far: README); the trained policy must
succeed in at least 10 of 20. If the trained policy were no better than random, its success rate would
be below 14 % (the 95 % upper bound of 0/20), and 10 or more successes in 20 would have a probability
under 1e-4.
"""

import numpy as np

from neuroloop_gym import JoystickEnv
from neuroloop_gym.baselines import RandomPolicy
from neuroloop_gym.cem import LinearPolicy, evaluate, train_cem


def test_cem_training_beats_random(native):
    train_env = JoystickEnv(shaping=1.0, shaping_end="pull", max_episode_ms=600.0)
    eval_env = JoystickEnv()
    try:
        res = train_cem(train_env, iterations=15, population=40, episodes_per_candidate=2, seed=0)
        assert res.env_steps <= 15 * 40 * 2 * 60
        seeds = range(5000, 5020)
        trained = evaluate(eval_env, LinearPolicy(res.theta), seeds)
        rand = evaluate(eval_env, RandomPolicy(0), seeds)
        print(f"trained: {trained}\nrandom: {rand}\n{res.env_steps} env steps, {res.seconds:.1f} s")
        assert trained["successes"] >= 10, trained
        assert trained["successes"] >= rand["successes"] + 8, (trained, rand)
        # The training improved what it optimises (the shaped return of the candidates).
        first, last = res.history[0], res.history[-1]
        assert last["mean_score"] > first["mean_score"] + 0.5, res.history
        assert np.all(np.isfinite(res.theta))
    finally:
        train_env.close()
        eval_env.close()
