import numpy as np
import pytest
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


def _linear_reward(obs, acts):
    """A fixed r̂ of (obs, act), [B]."""
    return (np.asarray(obs).sum(-1) + 2.0 * np.asarray(acts).sum(-1)).astype(np.float32)


def test_deferred_r_hat_matches_step_by_step():
    """Settled at the end, r̂ and each episode's learned return are what per-step r̂ gives."""
    rng = np.random.default_rng(1)
    acts = rng.uniform(-1, 1, (120, 2, 2))
    now = LearnedRewardVecEnv(make_venv(), _linear_reward)
    later = LearnedRewardVecEnv(make_venv(), _linear_reward, defer=True)
    now.reset()
    later.reset()
    per_step = []
    for a in acts:
        _, r_now, _, _ = now.step(a)
        _, r_later, _, _ = later.step(a)
        per_step.append(r_now)
        np.testing.assert_array_equal(r_later, [0.0, 0.0])  # a placeholder until the rollout ends
    r, ends = later.settle_rewards()
    np.testing.assert_allclose(r, np.stack(per_step), rtol=1e-6)
    assert ends.sum() == 4  # two 50-step episodes per env
    np.testing.assert_allclose(list(later.learned_returns), list(now.learned_returns), rtol=1e-5)
    np.testing.assert_allclose(later._learned_ret, now._learned_ret, rtol=1e-5)  # the open episodes go on
    assert later.settle_rewards() is None


def test_rollout_normalization_replays_vecnormalize_exactly():
    from stable_baselines3.common.vec_env import VecNormalize

    from agents.reward_wrapper import RolloutRewardNormalize

    rng = np.random.default_rng(2)
    rewards = rng.normal(3.0, 2.0, (300, 2)).astype(np.float32)
    dones = rng.random((300, 2)) < 0.02
    plain = VecNormalize(make_venv(), gamma=0.99)
    deferred = RolloutRewardNormalize(LearnedRewardVecEnv(make_venv(), _linear_reward, defer=True), gamma=0.99)
    assert deferred.defer_rewards
    expected = []
    for r, d in zip(rewards, dones):
        plain._update_reward(r)
        expected.append(plain.normalize_reward(r))
        plain.returns[d] = 0
    got = deferred.normalize_rollout(rewards, dones)
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-6)
    assert deferred.ret_rms.count == plain.ret_rms.count
    np.testing.assert_array_equal(deferred.normalize_reward(rewards[0]), rewards[0])  # placeholders pass through


@pytest.mark.parametrize("algo", ["ppo", "trpo"])
def test_ppo_buffer_is_the_same_with_deferred_r_hat(algo):
    """PPO's (or TRPO's) rollout buffer (rewards with timeout bootstraps, returns, advantages) is the
    same whether r̂ comes step by step or in one batch at the end of the rollout."""
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.ppo_factory import algo_class
    from stable_baselines3.common.vec_env import VecNormalize

    from agents.reward_wrapper import RolloutRewardNormalize, settle_rollout

    class Settle(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            settle_rollout(self.model, wrapper, self.locals["values"], self.locals["dones"])

    buffers = []
    for defer in (False, True):
        wrapper = LearnedRewardVecEnv(make_venv(), _linear_reward, defer=defer)
        env = RolloutRewardNormalize(wrapper, gamma=0.99) if defer else VecNormalize(wrapper, gamma=0.99)
        model = algo_class(algo)("MlpPolicy", env, n_steps=120, batch_size=60, seed=3, device="cpu")
        _, callback = model._setup_learn(240, Settle())
        callback.on_training_start(locals(), globals())
        for _ in range(2):  # the second rollout starts from the first one's reward statistics
            model.collect_rollouts(env, callback, model.rollout_buffer, 120)
        b = model.rollout_buffer
        buffers.append((b.rewards.copy(), b.returns.copy(), b.advantages.copy()))
    for now, later in zip(*buffers):
        np.testing.assert_allclose(later, now, rtol=1e-4, atol=1e-5)
    assert np.abs(buffers[0][0]).max() > 0.1


def test_normalization_saved_before_deferral_loads_as_rollout_normalization(tmp_path):
    """A checkpoint from before deferred rewards (a plain VecNormalize) resumes with the same statistics."""
    from stable_baselines3.common.vec_env import VecNormalize

    from agents.checkpoint import load_normalization
    from agents.reward_wrapper import RolloutRewardNormalize

    old = VecNormalize(make_venv(), gamma=0.99)
    old.ret_rms.update(np.array([1.0, 5.0, 9.0]))
    old.save(str(tmp_path / "vecnormalize.pkl"))
    norm = load_normalization(tmp_path, make_venv())
    assert isinstance(norm, RolloutRewardNormalize) and norm.training and not norm.defer_rewards  # plain env
    assert norm.ret_rms.var == old.ret_rms.var and norm.ret_rms.count == old.ret_rms.count
