"""The native backend (the extension neuroloop_gym_native): the same observations, rewards and ends as the
zenoh backend, bit for bit; its vector env equals N single envs; the sensor summaries (spindle rates
against the Prochazka model, skin and camera against what the limb does); bad options are refused."""

import numpy as np
import pytest

import neuroloop_gym
from neuroloop_gym import JoystickEnv, JoystickNativeVectorEnv
from neuroloop_gym.env import ROW_LEN

PULL = np.array([1.0, 0, 0, 0, 0, 1.0, 0, 0])


def scripted(obs):
    """Rest until armed, then pull (Foot1 + Humerus2): ends a trial."""
    state = int(np.argmax(obs[46:52]))
    return (0.7 * PULL if state >= 2 else np.full(8, 0.02)).astype(np.float32)


def rollout(env, seed, actions, policy_mix=False):
    """Observations, rewards, ends and infos of a run through ``actions`` (with ``policy_mix``: added to
    the scripted pull), resetting without a seed after each end."""
    obs, info = env.reset(seed=seed)
    out = [("reset", obs, info)]
    for k, a in enumerate(actions):
        if policy_mix:  # the scripted pull, perturbed
            a = np.clip(scripted(obs) + 0.1 * (a - 0.5), 0.0, 1.0).astype(np.float32)
        obs, r, term, trunc, info = env.step(a)
        out.append(("step", obs, r, term, trunc, info))
        if term or trunc:
            obs, info = env.reset()
            out.append(("reset", obs, info))
    return out


def assert_same(xs, ys):
    assert len(xs) == len(ys)
    for k, (x, y) in enumerate(zip(xs, ys)):
        assert x[0] == y[0], k
        np.testing.assert_array_equal(x[1], y[1], err_msg=f"observation {k} ({x[0]})")
        assert x[1].dtype == y[1].dtype
        assert x[2:] == y[2:], f"record {k}: {x[2:]} != {y[2:]}"


@pytest.mark.parametrize("control_step_ms", [10, 3])
def test_native_equals_zenoh_bit_for_bit(binary, native, control_step_ms):
    """Same seed, same actions: the native backend gives the zenoh backend's observations (bit for
    bit), rewards (with shaping), ends and infos, across episodes started with and without a seed
    (motor noise on: the noise streams line up too)."""
    rng = np.random.default_rng(3)
    actions = rng.uniform(0, 1, size=(1500 // control_step_ms, 8)).astype(np.float32)
    kw = dict(control_step_ms=control_step_ms, max_episode_ms=600.0, shaping=1.0, shaping_end="pull")
    a = JoystickEnv(backend="native", **kw)
    b = JoystickEnv(backend="zenoh", binary=binary, **kw)
    try:
        for seed in (11, 12):
            ra = rollout(a, seed, actions, policy_mix=True)
            rb = rollout(b, seed, actions, policy_mix=True)
            assert_same(ra, rb)
            assert sum(x[0] == "reset" for x in ra) >= 3  # several episodes, some without a seed
            assert any(x[0] == "step" and x[3] for x in ra)  # a trial ended (terminated)
    finally:
        a.close()
        b.close()


def test_native_vector_env_equals_single_envs(native):
    """Sub-env i of the native vector env with seed s is JoystickEnv reset with seed s + i, its
    autoresets that env's reset(): same observations (bit for bit), rewards, ends."""
    n, seed = 3, 40
    kw = dict(max_episode_ms=150.0, shaping=0.5)
    rng = np.random.default_rng(1)
    raw = rng.uniform(0, 1, size=(60, n, 8)).astype(np.float32)
    venv = JoystickNativeVectorEnv(num_envs=n, **kw)
    singles = [JoystickEnv(**kw) for _ in range(n)]
    try:
        vobs, _ = venv.reset(seed=seed)
        sobs = [e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]
        np.testing.assert_array_equal(vobs, np.stack(sobs))
        ends = 0
        for k in range(len(raw)):
            acts = raw[k].copy()
            acts[0] = scripted(vobs[0])  # sub-env 0 pulls: trials end, terminated
            vobs, vr, vterm, vtrunc, info = venv.step(acts)
            for i, e in enumerate(singles):
                o, r, term, trunc, _ = e.step(acts[i])
                assert (r, term, trunc) == (vr[i], vterm[i], vtrunc[i]), (k, i)
                if term or trunc:
                    ends += 1
                    np.testing.assert_array_equal(info["final_obs"][i], o)
                    o, _ = e.reset()
                np.testing.assert_array_equal(vobs[i], o, err_msg=f"step {k}, sub-env {i}")
        assert ends >= 4
    finally:
        venv.close()
        for e in singles:
            e.close()


def test_make_vec_gives_the_native_vector_env(native):
    import gymnasium as gym

    envs = gym.make_vec(neuroloop_gym.ENV_ID, num_envs=2, vectorization_mode="vector_entry_point")
    try:
        assert isinstance(envs, JoystickNativeVectorEnv)
        obs, _ = envs.reset(seed=0)
        assert obs.shape == (2, neuroloop_gym.N_OBS)
    finally:
        envs.close()


def test_spindle_summary_is_the_prochazka_model(native):
    """With a control step of 1 ms the spindle summary of a step is the rate model (Prochazka 1999:
    Ia = 4.3 sign(v)|v|^0.6 + 2 d + 100 a + 80, II = 13.5 d + 20 a + 80, d in mm from the length at
    t = 0, v in mm/s) at the body's state one base step earlier, i.e. at the previous observation."""
    env = JoystickEnv(control_step_ms=1, spindles=True, motor_noise=0.0)
    try:
        names = env.obs_names
        ia = [names.index(f"spindle.ia_hz.{m}") for m in neuroloop_gym.MUSCLES]
        ii = [names.index(f"spindle.ii_hz.{m}") for m in neuroloop_gym.MUSCLES]
        length = [names.index(f"muscle_length_mm.{m}") for m in neuroloop_gym.MUSCLES]
        vel = [names.index(f"muscle_velocity_mm_per_s.{m}") for m in neuroloop_gym.MUSCLES]
        act = [names.index(f"muscle_activation.{m}") for m in neuroloop_gym.MUSCLES]
        obs, _ = env.reset(seed=0)
        assert np.all(obs[ia] == 0.0) and np.all(obs[ii] == 0.0)  # no step taken yet
        rest = obs[length].astype(np.float64)
        rng = np.random.default_rng(0)
        prev, seen = obs, []
        for k in range(80):
            obs, *_ = env.step(rng.uniform(0, 1, 8).astype(np.float32) if k % 20 < 10 else np.zeros(8, np.float32))
            d = prev[length].astype(np.float64) - rest
            v = prev[vel].astype(np.float64)
            a = prev[act].astype(np.float64)
            want_ia = np.clip(4.3 * np.sign(v) * np.abs(v) ** 0.6 + 2.0 * d + 100.0 * a + 80.0, 0, 500)
            want_ii = np.clip(13.5 * d + 20.0 * a + 80.0, 0, 500)
            # float32 observations: lengths to ~1e-6 mm, rates to ~1e-3 Hz.
            np.testing.assert_allclose(obs[ia], want_ia, atol=0.02, err_msg=f"Ia at step {k}")
            np.testing.assert_allclose(obs[ii], want_ii, atol=0.02, err_msg=f"II at step {k}")
            seen.append(np.r_[want_ia, want_ii])
            prev = obs
        # The rates moved: the model was checked away from its resting values.
        assert np.ptp(np.array(seen), axis=0).min() > 5.0
    finally:
        env.close()


def test_skin_summary_follows_the_paw_contacts(native):
    """The paw touches the handle only when the muscles twist it (crates/body): a limb left passive
    gives no SA-I or RA-I spikes; full co-contraction presses the paw (from about 0.3 s on) and the
    skin fires."""
    passive = JoystickEnv(skin=True, motor_noise=0.0, max_episode_ms=1000.0)
    pressed = JoystickEnv(skin=True, motor_noise=0.0, max_episode_ms=1000.0)
    try:
        skin = [i for i, n in enumerate(passive.obs_names) if n.startswith("skin.")]
        assert len(skin) == 10  # SA-I and RA-I for the palm pad and 4 digits
        assert "skin.sa1_hz.palm_pad" in passive.obs_names
        passive.reset(seed=0)
        pressed.reset(seed=0)
        quiet, active = [], []
        for _ in range(60):
            quiet.append(passive.step(np.zeros(8, np.float32))[0][skin])
            active.append(pressed.step(np.ones(8, np.float32))[0][skin])
        assert np.all(np.array(quiet) == 0.0)
        assert np.array(active).sum() > 0.0
        assert np.all(np.array(active) >= 0.0)
    finally:
        passive.close()
        pressed.close()


def test_camera_summary_sees_movement(native):
    """ON/OFF counts of a 4 x 4 grid: whole numbers; the same seed gives the same events; an arm
    driven hard makes many times the events of one at rest (whose events are about the sensor's leak,
    0.01 Hz per pixel, 1.6 per 10 ms on 128 x 128 pixels, and its shot noise)."""
    kw = dict(camera={"grid": [4, 4]}, motor_noise=0.0, max_episode_ms=1000.0)
    rest_env, moving_env = JoystickEnv(**kw), JoystickEnv(**kw)
    try:
        cam = [i for i, n in enumerate(rest_env.obs_names) if n.startswith("camera.")]
        assert len(cam) == 32 and rest_env.obs_names[cam[0]] == "camera.on.r0c0"
        assert rest_env.obs_names[cam[16]] == "camera.off.r0c0"
        rest_env.reset(seed=5)
        moving_env.reset(seed=5)
        zero = np.zeros(8, np.float32)
        for _ in range(30):  # the same seed and actions: the same events
            a, b = rest_env.step(zero)[0][cam], moving_env.step(zero)[0][cam]
            np.testing.assert_array_equal(a, b)
        rest = np.array([rest_env.step(zero)[0][cam] for _ in range(10)])
        moving = np.array([moving_env.step(np.ones(8, np.float32))[0][cam] for _ in range(10)])
        for counts in (rest, moving):
            assert np.all(counts >= 0) and np.all(counts == np.round(counts))
        assert moving.sum() > 5 * max(rest.sum(), 10.0), (moving.sum(), rest.sum())
    finally:
        rest_env.close()
        moving_env.close()


def test_sensor_options_are_checked(native, binary):
    with pytest.raises(ValueError, match="backend='native'"):
        JoystickEnv(backend="zenoh", skin=True)
    with pytest.raises(ValueError, match="camera.grid"):
        JoystickEnv(camera={"grid": [0, 4]})
    with pytest.raises(ValueError, match="camera: unknown keys"):
        JoystickEnv(camera={"grids": [4, 4]})
    with pytest.raises(ValueError, match="skin must be"):
        JoystickEnv(skin="yes")
    with pytest.raises(ValueError, match="engines.skin.config"):
        JoystickEnv(skin={"no_such_key": 1})
    with pytest.raises(ValueError, match="backend must be"):
        JoystickEnv(backend="grpc")


def test_rows_without_sensors_have_the_base_length(native):
    env = JoystickEnv()
    try:
        assert env._backend.rows.shape == (1, ROW_LEN)
        assert env.observation_space.shape == (neuroloop_gym.N_OBS,)
    finally:
        env.close()
