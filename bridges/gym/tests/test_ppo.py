"""A shortened PPO training (stable-baselines3) beats a uniformly random policy on the joystick pull:
higher mean (shaped) return and a larger pull, on the same evaluation episodes. Skipped without
stable-baselines3 (scripts/setup_python.sh --rl installs it with torch). About 1-2 minutes on 2 cores."""

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.skipif(importlib.util.find_spec("stable_baselines3") is None,
                    reason="stable-baselines3 is not installed (scripts/setup_python.sh --rl)")
def test_short_ppo_training_beats_random(binary, tmp_path):
    sys.path.insert(0, str(EXAMPLES))
    try:
        import train_ppo
    finally:
        sys.path.remove(str(EXAMPLES))
    r = train_ppo.main(["--timesteps", "40960", "--vec", "subproc", "--n-envs", "4", "--n-steps", "256", "--seed", "0",
                        "--eval-episodes", "10", "--eval-shaped", "--out", str(tmp_path)])
    trained, rand = r["trained_shaped"], r["random_shaped"]
    print("trained:", trained, "\nrandom:", rand)
    assert trained["mean_return"] > rand["mean_return"] + 0.1
    assert trained["mean_peak_pull_mm"] > rand["mean_peak_pull_mm"]
