import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.reward_wrapper import LearnedRewardVecEnv
from envs.mujoco import make_mujoco_env
from envs.registry import get_task
from preference.clips import ClipRecorder


def make_venv(n=2):
    spec = get_task("Reacher")  # 50-step episodes keep this fast
    venv = DummyVecEnv([lambda: make_mujoco_env(spec) for _ in range(n)])
    venv.seed(0)
    return venv


def test_ppo_sees_r_hat_and_never_the_true_reward():
    seen = []

    def reward_fn(obs, acts):
        seen.append((obs.copy(), acts.copy()))
        return np.full(len(obs), 7.0)

    venv = LearnedRewardVecEnv(make_venv(), reward_fn)
    obs = venv.reset()
    acts = np.random.default_rng(0).uniform(-1, 1, (2, 2))
    _, rewards, _, infos = venv.step(acts)
    np.testing.assert_array_equal(rewards, [7.0, 7.0])
    np.testing.assert_array_equal(seen[0][0], obs)  # r̂(o_t, a_t) uses the obs the action was chosen on
    np.testing.assert_array_equal(seen[0][1], acts)
    assert all(np.isfinite(info["true_reward"]) and info["true_reward"] != 7.0 for info in infos)
    # The env underneath hands out no reward at all.
    inner = make_venv()
    inner.reset()
    _, hidden, _, _ = inner.step(acts)
    np.testing.assert_array_equal(hidden, [0.0, 0.0])


def test_true_reward_mode_and_episode_returns():
    venv = LearnedRewardVecEnv(make_venv(1), None)
    venv.reset()
    total, ep = 0.0, None
    for _ in range(50):
        _, r, dones, infos = venv.step(np.zeros((1, 2)))
        assert r[0] == infos[0]["true_reward"]
        total += infos[0]["true_reward"]
        if dones[0]:
            ep = infos[0]["episode"]
    assert ep is not None and ep["l"] == 50 and abs(ep["r"] - total) < 1e-4
    assert len(venv.true_returns) == 1


def test_every_step_reaches_the_clip_recorder():
    rec = ClipRecorder(2, clip_steps=10)
    venv = LearnedRewardVecEnv(make_venv(2), lambda o, a: np.zeros(len(o)), rec)
    venv.reset()
    for _ in range(50):
        venv.step(np.zeros((2, 2)))
    assert rec.total_clips == 10 and rec.env_steps == 100
    clip = rec.clips[0]
    assert clip.obs.shape == (10, 10) and clip.acts.shape == (10, 2) and clip.states.shape[0] == 10
