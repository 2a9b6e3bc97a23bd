from dataclasses import replace

import numpy as np
import pytest

from envs.mujoco import MujocoWarning, make_gym_task_env, make_mujoco_env, make_standard_env
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
    # the flat penalty alone
    spec = replace(get_task("Hopper"), unhealthy_penalty=2.5, height_bonus=0.0, tilt_penalty=0.0)
    env = make_mujoco_env(spec)
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



@pytest.mark.parametrize("name, height_index", [("Hopper", 1), ("Walker2d", 1), ("Ant", 2)])
def test_height_bonus_pays_the_torso_height_above_its_start(name, height_index):
    # the same seeded episode with and without the bonus: the true rewards differ by exactly
    # w x (torso height - start height), known from the physics state each step carries
    w, penalty = 2.0, 3.0
    envs = [make_mujoco_env(replace(get_task(name), height_bonus=b, unhealthy_penalty=penalty)) for b in (0.0, w)]
    for env in envs:
        env.action_space.seed(3)
        env.reset(seed=3)
    start = envs[1].unwrapped.init_qpos[height_index]
    heights = []
    for _ in range(200):
        action = envs[0].action_space.sample()
        (*_, plain), (*_, shaped) = (env.step(action) for env in envs)
        height = shaped["physics_state"][height_index]
        heights.append(height)
        assert shaped["true_reward"] - plain["true_reward"] == pytest.approx(w * (height - start), abs=1e-9)
        assert shaped["unhealthy"] == plain["unhealthy"]  # the penalty still applies as before
    assert min(heights) < start - 0.2, "a random body sinks, so the bonus turns negative"



@pytest.mark.parametrize("name, limit", [("Hopper", 0.2), ("Walker2d", 1.0)])
def test_tilt_penalty_charges_the_torso_pitch_against_gymnasiums_limit(name, limit):
    # known answer: v x t^2, t = |pitch| / limit, up to the limit; v x (2t - 1) past it (a random body topples),
    # or v x (1 + s(t - 1)) with a tilt slope s
    v, s = 3.0, 10.0
    envs = [make_mujoco_env(replace(get_task(name), tilt_penalty=b, tilt_slope=slope))
            for b, slope in ((0.0, 2.0), (v, 2.0), (v, s))]
    for env in envs:
        env.action_space.seed(4)
        env.reset(seed=4)
    ts = []
    for _ in range(300):
        action = envs[0].action_space.sample()
        (*_, plain), (*_, tilted), (*_, steep) = (env.step(action) for env in envs)
        t = abs(tilted["physics_state"][2]) / limit
        ts.append(t)
        expected = v * (t * t if t <= 1 else 2 * t - 1)
        assert plain["true_reward"] - tilted["true_reward"] == pytest.approx(expected, abs=1e-9)
        expected = v * (t * t if t <= 1 else 1 + s * (t - 1))
        assert plain["true_reward"] - steep["true_reward"] == pytest.approx(expected, abs=1e-9)
    assert min(ts) < 0.5 and max(ts) > 1.0, "both sides of the limit were seen"

def test_height_bonus_and_tilt_penalty_need_a_body_that_falls():
    with pytest.raises(ValueError, match="qpos index"):
        make_mujoco_env(replace(get_task("HalfCheetah"), height_bonus=1.0))
    with pytest.raises(ValueError, match="pitch"):
        make_mujoco_env(replace(get_task("Ant"), tilt_penalty=1.0))


def test_hoppers_default_truth_prices_a_fall_by_height_and_tilt_not_by_a_flat_penalty():
    env = make_mujoco_env(get_task("Hopper"))
    env.action_space.seed(1)
    env.reset(seed=1)
    fallen = []
    for _ in range(300):
        _, _, _, _, info = env.step(env.action_space.sample())
        z, pitch = info["physics_state"][1:3]
        t = abs(pitch) / 0.2
        expected = (info["reward_forward"] + (0.0 if info["unhealthy"] else info["reward_survive"])
                    + (z - 1.25) - (t * t if t <= 1 else 2 * t - 1))
        assert info["true_reward"] == pytest.approx(expected, abs=1e-9)
        if info["unhealthy"]:
            fallen.append(info["true_reward"])
    assert fallen and max(fallen) < -1.0, "a fallen Hopper costs more than the alive bonus it loses"
    assert get_task("Walker2d").unhealthy_penalty == 5.0 and get_task("Walker2d").height_bonus == 0.0


def test_the_gym_task_baseline_env_is_the_unmodified_task_with_the_harness_info():
    spec = get_task("Hopper")
    env, standard = make_gym_task_env(spec), make_standard_env(spec)
    env.action_space.seed(2)
    _, info = env.reset(seed=2)
    standard.reset(seed=2)
    assert "physics_state" in info
    for steps in range(1, 1001):  # noqa: B007 - read after the loop
        action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        s_obs, s_reward, s_terminated, s_truncated, _ = standard.step(action)
        # the task's own reward (control cost and alive bonus in it), observation and termination
        assert (reward, terminated, truncated) == (s_reward, s_terminated, s_truncated)
        np.testing.assert_array_equal(obs, s_obs)
        assert info["true_reward"] == reward and info["unhealthy"] == terminated
        if terminated or truncated:
            break
    assert terminated and steps < 200, "a random Hopper falls, and the gym task ends there"
    env.close(), standard.close()


@pytest.mark.parametrize("name,down", [("InvertedPendulum", 10), ("InvertedDoublePendulum", 10), ("Hopper", 1),
                                       ("InvertedPendulum", 3)])
def test_a_fallen_body_stays_down_charged_then_restarts_underneath(name, down):
    # the pendulums' default is 10; any task can have it (Hopper here with the flat penalty alone)
    spec = replace(get_task(name), restart_after=down, unhealthy_penalty=1.0, height_bonus=0.0, tilt_penalty=0.0)
    env = make_mujoco_env(spec)
    env.reset(seed=0)
    push = np.full(env.action_space.shape, 1.0)  # a constant push topples the body within a few steps
    steps = [env.step(push) for _ in range(env.spec.max_episode_steps)]
    charged = np.array([s[4]["unhealthy"] for s in steps])
    assert charged.sum() > 20, "the body stands again after every fall and falls again"
    assert not any(s[2] for s in steps) and steps[-1][3], "no done until the fixed length"
    start, nq = env.unwrapped.init_qpos, env.unwrapped.model.nq
    pose = [np.abs(s[4]["physics_state"][1:nq] - start[1:]).max() for s in steps]
    first = [t for t in range(1, len(steps) - down) if charged[t] and not charged[t - 1]]
    assert len(first) > 2
    for t in first:
        assert pose[t - 1] > 0.2  # the step into the fall: the agent sees the fall itself, not yet charged
        assert charged[t:t + down].all() and not charged[t + down]  # down for exactly `down` steps
        assert all(steps[u][4]["true_reward"] == -1.0 for u in range(t, t + down))  # the penalty, nothing else
        assert pose[t + down - 1] < 0.25  # the last down step restarts near the start pose
    healthy = [s[4]["true_reward"] for t, s in enumerate(steps[:-1]) if not charged[t] and not charged[t + 1]]
    assert min(healthy) > 0  # standing pays; only the fall and the down steps don't


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


def test_mujocos_own_warnings_become_a_python_warning_not_a_line_per_env(capfd):
    """gymnasium's HalfCheetah file uses a compiler attribute MuJoCo deprecates: its warning is a
    MujocoWarning (shown once per message by Python's default filter), not a stderr line per env built."""
    capfd.readouterr()
    with pytest.warns(MujocoWarning, match="settotalmass"):
        for _ in range(2):
            make_mujoco_env(get_task("HalfCheetah")).close()
    assert "settotalmass" not in capfd.readouterr().err
