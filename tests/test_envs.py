from dataclasses import replace

import numpy as np
import pytest

from envs.mujoco import make_mujoco_env
from envs.registry import TASKS, UnknownTaskError, get_task


@pytest.mark.parametrize("name", [n for n, s in TASKS.items() if s.kind == "mujoco"])
def test_episodes_have_fixed_length_and_hide_the_reward(name):
    spec = TASKS[name]
    env = make_mujoco_env(spec)
    env.action_space.seed(0)
    obs, info = env.reset(seed=0)
    assert "physics_state" in info
    for t in range(1, spec.episode_steps + 1):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert reward == 0.0 and not terminated
        assert np.isfinite(info["true_reward"])
        assert truncated == (t == spec.episode_steps)
    env.close()


def test_hopper_true_reward_drops_control_cost_and_penalizes_falling():
    spec = get_task("Hopper")
    env = make_mujoco_env(spec, unhealthy_penalty=2.5)
    env.action_space.seed(1)
    env.reset(seed=1)
    saw_unhealthy = False
    for _ in range(300):
        _, _, _, _, info = env.step(env.action_space.sample())
        expected = info["reward_forward"] + (0.0 if info["unhealthy"] else info["reward_survive"])
        if info["unhealthy"]:
            expected -= 2.5
            saw_unhealthy = True
        assert info["true_reward"] == pytest.approx(expected, abs=1e-9)
    assert saw_unhealthy, "a random Hopper should fall within 300 steps"


@pytest.mark.parametrize("name", ["InvertedPendulum", "InvertedDoublePendulum", "Hopper"])
def test_a_fallen_body_is_charged_then_reset_underneath(name):
    spec = replace(get_task(name), reset_on_fall=True)  # the pendulums' default; Hopper's with --reset-on-fall
    env = make_mujoco_env(spec, unhealthy_penalty=1.0)
    env.reset(seed=0)
    push = np.full(env.action_space.shape, 1.0)  # a constant push topples the body within a few steps
    steps = [env.step(push) for _ in range(env.spec.max_episode_steps)]
    falls = [t for t, s in enumerate(steps) if s[4]["unhealthy"]]
    assert len(falls) > 20, "the body stands again after every fall and falls again"
    assert not any(s[2] for s in steps) and steps[-1][3], "no done until the fixed length"
    start = env.unwrapped.init_qpos
    nq = env.unwrapped.model.nq
    for t in falls:
        into_fall, fallen = steps[t - 1][4], steps[t][4]
        assert not into_fall["unhealthy"]  # the step into the fall earns the task's own reward (no alive bonus)
        assert fallen["true_reward"] == -1.0  # from the fallen state: the penalty and nothing else
        # ...while the physics restarts near the start pose; the agent saw the fall itself
        assert np.abs(fallen["physics_state"][1:nq] - start[1:]).max() < 0.25
        assert np.abs(into_fall["physics_state"][1:nq] - start[1:]).max() > 0.2
    healthy = [s[4]["true_reward"] for t, s in enumerate(steps[:-1]) if t not in falls and t + 1 not in falls]
    assert min(healthy) > 0  # standing pays; only the fall and the fallen step don't


def test_physics_state_restores_the_simulation():
    env = make_mujoco_env(get_task("Hopper"))
    env.reset(seed=0)
    for _ in range(5):
        _, _, _, _, info = env.step(env.action_space.sample())
    state = info["physics_state"]
    u = env.unwrapped
    u.set_state(state[: u.model.nq], state[u.model.nq:])
    np.testing.assert_allclose(env.physics_state(), state)


def test_clip_lengths_are_one_and_a_half_seconds_at_most_sixty_steps():
    assert get_task("Hopper").clip_steps == 60  # 1.5 s would be 188 steps
    assert get_task("Swimmer").clip_steps == round(1.5 / 0.04)
    assert get_task("HalfCheetah").clip_steps == 30
    assert get_task("Reacher").clip_steps == 50  # capped by the 50-step episode


def test_lookup_by_name_or_gym_id_and_unknown_task():
    assert get_task("hopper").gym_id == "Hopper-v5"
    assert get_task("Walker2d-v5").name == "Walker2d"
    with pytest.raises(UnknownTaskError, match="unknown task 'Nope'"):
        get_task("Nope")


def test_evaluation_reports_how_the_policy_leaves_the_healthy_range():
    from agents.evaluation import evaluate
    from envs.mujoco import make_mujoco_env

    class StillPolicy:  # zero torque: the hopper topples over and stays down
        def predict(self, obs, deterministic=True):
            return np.zeros((len(obs), 3), np.float32), None

    spec = get_task("Hopper")
    out = evaluate(StillPolicy(), None, spec, episodes=1, seed=7)
    env = make_mujoco_env(spec)
    env.reset(seed=7)
    flags = [env.step(np.zeros(3, np.float32))[4]["unhealthy"] for _ in range(spec.episode_steps)]
    first = flags.index(True)
    assert 0 < first < 200 and all(flags[first:])  # known: it falls once, for good
    assert out["oracle_first_unhealthy_step"] == first
    assert out["oracle_unhealthy_fraction"] == pytest.approx(1 - first / spec.episode_steps)
