"""Checkpoints and --resume: kill -9 at random points, exact targets, no label lost; bad input."""

import functools
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from preference.store import PreferenceStore
from test_loop import make_loop

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MUJOCO_GL": "egl"}
# Reacher: 50-step episodes and clips, rl-zoo's n_steps 512: 8,000 steps is 16 rollouts (8,192 steps).
RUN = ["--env", "Reacher", "--labels", "40", "--timesteps", "8000", "--checkpoint-every", "1024",
       "--fit-every", "1024", "--pretrain-epochs", "5", "--eval-episodes", "1", "--quiet"]


def prefrl(*args, cwd, wait=True):
    cmd = [sys.executable, "-m", "agents.cli", *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)


def checkpoint_step(run: Path) -> int:
    try:
        return int(torch.load(run / "checkpoint" / "state.pt", weights_only=False)["num_timesteps"])
    except (OSError, RuntimeError, EOFError, KeyError, Exception):
        return -1


def answers(run: Path) -> dict[int, float]:
    store = PreferenceStore(run / "store", create=False)
    return {l.query_id: l.value for l in store.labels()}


def test_kill_9_at_random_points_then_resume_to_the_exact_targets(tmp_path):
    run = tmp_path / "run"
    rng = np.random.default_rng(int(time.time()))
    before: dict[int, float] = {}
    args = [*RUN, "--run-dir", str(run)]
    for attempt in range(2):
        proc = prefrl("train", *args, cwd=tmp_path, wait=False)
        kill_after = int(rng.integers(1024, 3072)) if attempt == 0 else checkpoint_step(run) + 1024
        deadline = time.time() + 240
        while checkpoint_step(run) < kill_after and proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(float(rng.uniform(0, 1.5)))  # somewhere in the middle of what comes next
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (run / "result.json").exists(), "the run finished before it could be killed"
        now = answers(run)
        assert all(now.get(q) == v for q, v in before.items())  # nothing answered earlier was lost
        before = now
        args = ["--resume", str(run), "--quiet"]
    out = prefrl("train", *args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads((run / "result.json").read_text())
    assert result["timesteps"] == 8192 and result["resumed"]
    assert result["labels_answered"] == 40
    final = answers(run)
    assert len(final) == 40 and all(final[q] == v for q, v in before.items())


def test_loop_state_round_trip_continues_identically(tmp_path):
    """What a checkpoint restores is exact: the restored loop fits to the same weights as the original."""
    loop, store, rec = make_loop(tmp_path / "a")
    loop.pretrain(list(rec.clips))
    loop.step(200)
    torch.save(loop.state(), tmp_path / "state.pt")  # through a file, as a checkpoint does
    state = torch.load(tmp_path / "state.pt", weights_only=False)
    twin, _, _ = make_loop(tmp_path / "b")
    twin.store = store
    twin.restore(state)
    x = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    np.testing.assert_array_equal(loop.reward(x[:, :3], x[:, 3:]), twin.reward(x[:, :3], x[:, 3:]))
    for target in (loop, twin):
        target.fit(200, list(rec.clips))
    np.testing.assert_allclose(loop.reward(x[:, :3], x[:, 3:]), twin.reward(x[:, :3], x[:, 3:]), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fin")
    out = prefrl("train", *RUN, "--timesteps", "2048", "--labels", "20", "--run-dir", "run", cwd=tmp)
    assert out.returncode == 0, out.stderr
    return tmp / "run"


def expect_usage_error(out, message):
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and message in lines[0], out.stderr


def test_existing_run_folder_is_never_overwritten(finished_run, tmp_path):
    expect_usage_error(prefrl("train", *RUN, "--run-dir", str(finished_run), cwd=tmp_path), "already exists")
    assert (finished_run / "result.json").exists()
    expect_usage_error(prefrl("train", "--resume", str(finished_run), cwd=tmp_path), "this run has finished")
    ev = prefrl("eval", str(finished_run), "--episodes", "2", cwd=tmp_path)
    assert ev.returncode == 0 and json.loads((finished_run / "eval.json").read_text())["eval_episodes"] == 2


def test_bad_resume_inputs(finished_run, tmp_path):
    expect_usage_error(prefrl("train", "--resume", str(tmp_path), cwd=tmp_path), "not a run folder")
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(finished_run), str(broken)], check=True)
    (broken / "result.json").unlink()
    expect_usage_error(prefrl("train", "--resume", str(broken), "--labels", "99", cwd=tmp_path),
                       "--labels differs from the run's config")
    (broken / "checkpoint" / "state.pt").write_bytes(b"not a checkpoint")
    expect_usage_error(prefrl("train", "--resume", str(broken), cwd=tmp_path),
                       f"{broken / 'checkpoint' / 'state.pt'}: corrupt checkpoint")
    subprocess.run(["cp", str(finished_run / "checkpoint" / "state.pt"), str(broken / "checkpoint")], check=True)
    for f in (broken / "store").glob("store.sqlite*"):
        f.write_bytes(b"garbage" * 1000)
    expect_usage_error(prefrl("train", "--resume", str(broken), cwd=tmp_path), "not a valid preference store")


def test_trpo_run_resumes_after_kill_9_and_stays_trpo(tmp_path):
    """``--algo trpo`` (the paper's algorithm): its checkpoint resumes as TRPO with TRPO's settings, its
    policy loads for evaluation, and a setting TRPO does not take, or an Atari task, is refused."""
    from sb3_contrib import TRPO

    from agents.evaluation import load_policy

    run = tmp_path / "run"
    # Reacher under TRPO: 2 envs x 1,024 steps per rollout, so the first checkpoint comes at 2,048 of 4,096
    args = [*RUN, "--algo", "trpo", "--timesteps", "4096", "--labels", "20", "--run-dir", str(run)]
    proc = prefrl("train", *args, cwd=tmp_path, wait=False)
    deadline = time.time() + 240
    while checkpoint_step(run) < 2048 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "result.json").exists() and checkpoint_step(run) == 2048
    out = prefrl("train", "--resume", str(run), "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads((run / "result.json").read_text())
    assert result["timesteps"] == 4096 and result["resumed"] and result["labels_answered"] == 20
    config = json.loads((run / "config.json").read_text())
    assert config["algo"] == "trpo" and config["ppo_resolved"]["n_critic_updates"] == 20
    model, _, _ = load_policy(run)
    assert isinstance(model, TRPO) and model.n_steps == 1024 and model.n_envs == 2
    # what the resumed half trained and saved was a TRPO: a PPO (say, loaded from the TRPO checkpoint) writes
    # its clip range and epochs into the file
    saved = json.loads(zipfile.ZipFile(run / "model.zip").read("data"))
    assert "n_critic_updates" in saved and "clip_range" not in saved and "n_epochs" not in saved
    expect_usage_error(prefrl("train", *args[:-2], "--ppo", "clip_range=0.2", cwd=tmp_path),
                       "unknown TRPO setting(s): clip_range")
    expect_usage_error(prefrl("train", "--env", "Pong", "--algo", "trpo", cwd=tmp_path),
                       "--algo trpo is offered for MuJoCo tasks only")


def test_budget_the_schedule_cannot_ask_is_refused(tmp_path):
    expect_usage_error(prefrl("train", "--env", "Reacher", "--labels", "500", "--timesteps", "2000", cwd=tmp_path),
                       "more than the schedule can ask")


def test_diagnose_reports_per_step_agreement(finished_run, tmp_path):
    out = prefrl("diagnose", str(finished_run), "--clips", "20", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["model"] == "final" and report["clips"] == 20 and report["steps"] == 20 * 50
    assert -1.0 <= report["corr_all"] <= 1.0 and report["r_hat_std"] > 0
    assert "fall_price_ratio" in report
    from preference.store import PreferenceStore
    store = PreferenceStore(finished_run / "store", create=False)
    assert sum(row["labels"] for row in report["labeled_by_phase"]) == len(store.labels())
    assert report["labeled_by_phase"][0]["phase"] == "before RL"
    store.close()
    expect_usage_error(prefrl("diagnose", str(tmp_path), cwd=tmp_path), "not a run folder")


def test_diagnose_scores_whole_episodes_of_policies_with_the_runs_r_hat(finished_run, tmp_path):
    from agents.config import load_run_config
    from agents.diagnose import score_policies
    from envs.mujoco import make_mujoco_env

    mine, rand = score_policies(finished_run, [str(finished_run), "random"], episodes=2, seed=5)
    cfg = load_run_config(finished_run)
    spec = cfg.task()
    env = make_mujoco_env(spec)  # known answer: the same seeded random episodes
    env.action_space.seed(5)
    total = discounted = 0.0
    gamma = {**spec.ppo, **cfg.ppo}.get("gamma", 0.99)
    for ep in range(2):
        env.reset(seed=5 + ep)
        rewards = [env.step(env.action_space.sample())[4]["true_reward"] for _ in range(spec.episode_steps)]
        total += sum(rewards)
        discounted += sum(gamma ** t * x for t, x in enumerate(rewards))
    assert rand["oracle_return"] == pytest.approx(total / 2)
    assert rand["gamma"] == gamma and rand["oracle_discounted"] == pytest.approx(discounted / 2)
    for row in (mine, rand):  # Reacher never leaves a healthy range: every step is a healthy step
        assert row["unhealthy_steps"] == 0 and row["r_hat_mean_unhealthy"] is None
        assert row["pessimism"] == 0 and row["r_hat_lcb_return"] is None  # the run pays r̂ itself
        assert row["distance"] is None and row["x_velocity_unhealthy"] is None  # Reacher goes nowhere
        assert row["r_hat_return"] == pytest.approx(row["r_hat_mean_healthy"] * spec.episode_steps, rel=1e-4)
    # the lower bound's charge is K member standard deviations: at least 0, and twice as much at twice K
    lcb1, lcb2 = (score_policies(finished_run, ["random"], episodes=2, seed=5, pessimism=k)[0] for k in (1.0, 2.0))
    gap = rand["r_hat_return"] - lcb1["r_hat_lcb_return"]
    assert lcb1["r_hat_return"] == pytest.approx(rand["r_hat_return"])
    assert gap > 0 and rand["r_hat_return"] - lcb2["r_hat_lcb_return"] == pytest.approx(2 * gap, rel=1e-3)
    out = prefrl("diagnose", str(finished_run), "--policy", "random", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("random: oracle return"), out.stderr
    out = prefrl("diagnose", str(finished_run), "--policy", "random", "--pessimism", "1", cwd=tmp_path)
    assert out.returncode == 0 and "lower bound at pessimism 1:" in out.stdout, out.stderr
    expect_usage_error(prefrl("diagnose", str(finished_run), "--policy", "random", "--pessimism", "-1",
                              cwd=tmp_path), "expected a number >= 0")
    expect_usage_error(prefrl("diagnose", str(finished_run), "--policy", str(tmp_path), cwd=tmp_path),
                       "not a run folder")


def test_reward_from_trains_on_the_source_runs_r_hat_frozen(finished_run, tmp_path):
    import hashlib

    from agents.config import TrainConfig, load_run_config
    from agents.train import frozen_reward
    from preference.reward_model import RewardEnsemble

    def digest(run: Path) -> dict[str, str]:
        files = [run / "reward_ensemble.pt", *sorted(f for f in (run / "store").rglob("*") if f.is_file())]
        return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}

    before = digest(finished_run)
    # known answer: the reward function is the source's ensemble, its lower bound included
    ens = RewardEnsemble.load(finished_run / "reward_ensemble.pt")
    obs_dim, act_dim = ens.obs_dim, ens.act_dim
    x = np.random.default_rng(0).normal(size=(64, obs_dim + act_dim)).astype(np.float32)
    for k in (0.0, 1.0):
        (tmp_path / f"k{k}").mkdir()
        fn = frozen_reward(TrainConfig(env="Reacher", reward_from=str(finished_run), pessimism=k), act_dim,
                           tmp_path / f"k{k}")
        np.testing.assert_allclose(fn(x[:, :obs_dim], x[:, obs_dim:]), ens.predict(x[:, :obs_dim], x[:, obs_dim:], k),
                                   rtol=1e-6)
    out = prefrl("train", "--env", "Reacher", "--reward-from", str(finished_run), "--timesteps", "1024",
                 "--eval-episodes", "1", "--media-every", "0", "--quiet", "--run-dir", "frozen", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "frozen" / "result.json").read_text())
    assert result["reward_from"] == str(finished_run) and result["timesteps"] == 1024
    assert result["labels_answered"] == 0 and result["learned_return_mean"] is not None
    assert PreferenceStore(tmp_path / "frozen" / "store", create=False).counts()["answered"] == 0
    assert load_run_config(tmp_path / "frozen").reward_inputs == load_run_config(finished_run).reward_inputs
    assert digest(finished_run) == before  # the source's model and labels are read, never written
    # the run keeps its own copy of r̂ (a resumed run reads it, whatever the source does next)
    (finished_run / "reward_ensemble.pt").rename(tmp_path / "moved.pt")  # the source changes...
    RewardEnsemble(obs_dim, act_dim, seed=99).save(finished_run / "reward_ensemble.pt")
    try:
        fn = frozen_reward(load_run_config(tmp_path / "frozen"), act_dim, tmp_path / "frozen")
    finally:
        (tmp_path / "moved.pt").rename(finished_run / "reward_ensemble.pt")
    np.testing.assert_allclose(fn(x[:, :obs_dim], x[:, obs_dim:]), ens.predict(x[:, :obs_dim], x[:, obs_dim:]),
                               rtol=1e-6)  # ...the run's copy does not
    # refusals: one line, exit 2
    true_run = tmp_path / "true_run"
    true_run.mkdir()
    cfg = json.loads((finished_run / "config.json").read_text())
    (true_run / "config.json").write_text(json.dumps({**cfg, "reward": "true"}))
    for args, message in ((["--env", "Reacher", "--reward-from", str(true_run)], "a true-reward run has no reward"),
                          (["--env", "Hopper", "--reward-from", str(finished_run)], "is for Reacher, not Hopper"),
                          (["--env", "Reacher", "--reward-from", str(tmp_path)], "not a run folder"),
                          (["--env", "Reacher", "--reward", "true", "--reward-from", str(finished_run)],
                           "needs --reward preferences")):
        expect_usage_error(prefrl("train", *args, "--timesteps", "64", cwd=tmp_path), message)


def test_fall_price_ratio_is_one_for_an_affine_r_hat_and_shrinks_with_the_gap():
    """Known answers: any r̂ = a * true + b (a > 0) prices a fall as the truth does (1); an r̂ whose fallen
    steps sit half as far below the upright ones, with the same spread within each side (the poses: sd 6),
    charges less than the truth, by the exactly computed amount."""
    from agents.diagnose import fall_price_ratio

    rng = np.random.default_rng(0)
    healthy = np.arange(400) < 300
    within = rng.normal(0, 6, 400)
    true = np.where(healthy, 3.0, -15.0) + within
    assert fall_price_ratio(3.0 * true - 7.0, true, healthy) == pytest.approx(1.0)
    r_hat = np.where(healthy, 9.0, 0.0) + within  # a gap of 9 where the truth's is 18
    expected = ((r_hat[healthy].mean() - r_hat[~healthy].mean()) / r_hat.std()) / (
        (true[healthy].mean() - true[~healthy].mean()) / true.std())
    assert fall_price_ratio(r_hat, true, healthy) == pytest.approx(expected) and 0.6 < expected < 0.8
    assert fall_price_ratio(r_hat, true, np.ones(400, bool)) is None  # no fallen step to price


def test_travel_measures_distance_and_speed_when_fallen_on_a_real_hopper_episode():
    """Known answer: a random Hopper falls within a few dozen steps; the distance is the last x
    position minus the first, the speed the mean x velocity over the unhealthy steps."""
    from agents.diagnose import travel
    from agents.evaluation import rollout
    from envs.mujoco import make_mujoco_env
    from envs.registry import get_task

    env = make_mujoco_env(get_task("Hopper"))
    env.action_space.seed(3)
    eps = [rollout(env, lambda _obs: env.action_space.sample(), seed) for seed in (3, 4)]
    env.close()
    x = [np.array([i["x_position"] for i in e.infos]) for e in eps]
    flags = np.concatenate([[i["unhealthy"] for i in e.infos] for e in eps])
    speed = np.concatenate([[i["x_velocity"] for i in e.infos] for e in eps])
    assert flags.any() and not flags.all()
    distance, fallen_speed = travel(eps)
    assert distance == pytest.approx(np.mean([v[-1] - v[0] for v in x]))
    assert fallen_speed == pytest.approx(speed[flags].mean())
    assert travel([]) == (None, None)


def test_labeled_by_phase_counts_what_the_labeler_saw(tmp_path):
    """Known answers: pairs asked before RL, in the first half and in the second half of 1,000 steps, of
    clips whose fallen steps (true reward -5) are placed by hand."""
    from agents.diagnose import labeled_by_phase
    from preference.clips import Clip
    from preference.store import PreferenceStore

    store = PreferenceStore(tmp_path / "store")

    def clip(down: int) -> int:  # 4 steps, the last ``down`` of them fallen
        rewards = np.array([1.0] * (4 - down) + [-5.0] * down, dtype=np.float32)
        return store.add_clip(Clip(np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32), rewards, None, 0))

    for step, down_a, down_b in [(0, 4, 4), (0, 4, 2), (100, 0, 2), (1000, 0, 0), (1500, 0, 4)]:
        store.answer(store.add_query(clip(down_a), clip(down_b), step, "random"), 1.0, "oracle", "perfect")
    store.answer(store.add_query(clip(0), clip(0), 600, "random"), None, "human", "me")  # dropped: not shown
    rows = labeled_by_phase(store.labels(), store.load_clip, 1000, unhealthy_below=-2.5, phases=2)
    assert [(r["phase"], r["labels"]) for r in rows] == [("before RL", 2), ("0-500 steps", 1),
                                                        ("500-1,000 steps", 2)]  # a step past the end: last
    assert [r["healthy_share"] for r in rows] == pytest.approx([2 / 16, 6 / 8, 12 / 16])
    assert [r["clips_healthy_throughout"] for r in rows] == pytest.approx([0.0, 0.5, 0.75])
    assert rows[0]["mean_true_return"] == pytest.approx((-20 - 20 - 20 - 8) / 4)
    assert "mean_forward_speed" not in rows[0]  # no speed asked for


def test_labeled_by_phase_reports_how_fast_the_labeled_clips_moved(tmp_path):
    """Known answers: clips whose recorded body moves 0, 1.5 or 3 m along qpos[0] over 3 steps of 0.5 s
    (speeds 0, 1 and 2 m/s); a clip without states has no speed and is left out."""
    from agents.diagnose import clip_speed, labeled_by_phase
    from preference.clips import Clip
    from preference.store import PreferenceStore

    store = PreferenceStore(tmp_path / "store")

    def clip(metres: float | None) -> int:
        states = None if metres is None else np.stack([np.linspace(0, metres, 4), np.ones(4)], axis=1)
        return store.add_clip(Clip(np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32),
                                   np.ones(4, np.float32), states, 0))

    for step, a, b in [(0, 0.0, 1.5), (10, 3.0, 3.0), (20, 1.5, None)]:
        store.answer(store.add_query(clip(a), clip(b), step, "random"), 1.0, "oracle", "perfect")
    speed = functools.partial(clip_speed, x_qpos=0, dt=0.5)
    assert speed(store.load_clip(2)) == pytest.approx(1.0)
    assert speed(store.load_clip(6)) is None
    rows = labeled_by_phase(store.labels(), store.load_clip, 100, unhealthy_below=-2.5, phases=1, speed_of=speed)
    assert [r["phase"] for r in rows] == ["before RL", "0-100 steps"]
    assert rows[0]["mean_forward_speed"] == pytest.approx(0.5)
    assert rows[1]["mean_forward_speed"] == pytest.approx((2 + 2 + 1) / 3)
    assert rows[1]["p90_forward_speed"] == pytest.approx(2.0)
