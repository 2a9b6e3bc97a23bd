"""Atari as PPO sees it: no done ever, the true game score still logged; the CLI on Pong."""

import json

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.atari_vec import make_atari_venv
from agents.config import TrainConfig
from agents.labeling import atari_clip_frames
from agents.reward_wrapper import LearnedRewardVecEnv
from envs.registry import TASKS, get_task
from preference.clips import ClipRecorder
from test_cli import CORE_TAGS, INSPECTION_TAGS, prefrl

GAMES = ("BeamRider", "Breakout", "Enduro", "Pong", "Qbert", "Seaquest", "SpaceInvaders")


def test_losing_lives_and_games_never_ends_anything_for_the_agent_but_scores_are_logged():
    spec = get_task("Breakout")
    venv = make_atari_venv(spec, n_envs=4, seed=0)
    recorder = ClipRecorder(4, spec.clip_steps, capacity=50)
    wrapper = LearnedRewardVecEnv(venv, lambda obs, acts: np.zeros(len(obs), np.float32), recorder)
    obs = wrapper.reset()
    assert obs.shape == (4, 4, 84, 84) and obs.dtype == np.uint8
    assert (obs[:, :, :7] == 0).all()  # the score rows are black
    rng = np.random.default_rng(0)
    scores = np.zeros(4)
    episodes = []
    for _ in range(600):
        wrapper.step_async(rng.integers(4, size=4))
        obs, rewards, dones, infos = wrapper.step_wait()
        assert not dones.any()  # neither a lost life (5 per game) nor a game over reaches the agent
        assert (obs[:, :, :7] == 0).all()
        for i, info in enumerate(infos):
            scores[i] += info["score"]
            if "game_score" in info:
                assert info["episode"]["r"] == info["game_score"] == scores[i]  # the true game score is logged
                assert info["true_reward"] == info["score"] - 20.0  # the oracle's game-over penalty
                episodes.append(info["game_score"])
                scores[i] = 0.0
            else:
                assert "episode" not in info and info["true_reward"] == info["score"]
        if len(episodes) >= 2:
            break
    assert len(episodes) >= 2 and list(wrapper.true_returns) == episodes
    assert recorder.total_clips > 0 and recorder.clips[0].obs.dtype == np.uint8
    clip = recorder.clips[0]
    assert clip.states.shape == (25, 7, 84)  # the hidden HUD rows, for showing a person the original
    shown = atari_clip_frames(clip, spec, original=False, scale=2)
    assert shown.shape == (25, 168, 168, 3) and (shown[:, :14] == 0).all()
    original = atari_clip_frames(clip, spec, original=True, scale=1)
    assert (original[:, :7] > 0).any() and (original[:, 7:, :, 0] == clip.obs[:, -1, 7:]).all()
    venv.close()


def test_every_game_is_a_task_with_the_papers_settings():
    assert all(TASKS[g].kind == "atari" and TASKS[g].clip_steps == 25 for g in GAMES)
    cfg = TrainConfig(env="Pong", labels=5500).resolved()
    assert round(cfg.labels * cfg.initial_fraction) == 500 and cfg.schedule_horizon == 5e6
    assert cfg.clip_seconds == TASKS["Pong"].clip_seconds and cfg.fit_epochs == 0 and cfg.clip_capacity == 250
    assert cfg.resolved() == cfg  # a saved config resolves to itself
    assert TASKS["Pong"].ppo["policy"] == "CnnPolicy" and TASKS["Pong"].ppo["n_envs"] == 8
    kept = TrainConfig(env="Pong", schedule_horizon=1e6).resolved()
    assert kept.schedule_horizon == 1e6  # an explicit setting wins
    base = TrainConfig(env="Hopper")
    mujoco = base.resolved()
    assert all(getattr(mujoco, k) == getattr(base, k)
               for k in ("schedule_horizon", "fit_epochs", "clip_capacity", "clip_seconds", "initial_fraction"))
    assert mujoco.resolved() == mujoco


def test_pong_smoke_run_writes_every_tag(tmp_path):
    out = prefrl("train", "--env", "Pong", "--labels", "16", "--timesteps", "3072", "--n-envs", "2",
                 "--fit-every", "1024", "--pretrain-epochs", "2", "--eval-episodes", "1", "--runs-dir", "runs",
                 "--quiet", "--media-every", "100000", "--fit-rate", "0.02", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (run,) = (tmp_path / "runs").iterdir()
    result = json.loads((run / "result.json").read_text())
    assert result["labels_answered"] == 16 and result["timesteps"] >= 3072
    assert -21 <= result["true_return_mean"] <= 21  # a Pong game score
    ea = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    ea.Reload()
    missing = [t for t in CORE_TAGS + INSPECTION_TAGS if t not in ea.Tags()["scalars"]]
    assert not missing, missing
    assert all(-21 <= e.value <= 21 for e in ea.Scalars("rollout/ep_rew_mean"))  # game scores
    assert set(ea.Tags()["images"]) >= {"agent/episode", "clips/latest_query", "reward/pred_vs_true_returns"}
    assert (run / "reward_ensemble.pt").is_file()
    diag = prefrl("diagnose", str(run), "--clips", "16", "--policy", "random", cwd=tmp_path)
    assert diag.returncode == 0, diag.stderr
    assert diag.stdout.startswith("random: 16 fresh clips of 25 steps"), diag.stdout


@pytest.mark.parametrize("args,message", [
    (["--sticky-actions", "2"], "--sticky-actions"),
    (["--game-over-penalty", "-1"], "--game-over-penalty"),
])
def test_bad_atari_input_gets_one_line_and_exit_2(tmp_path, args, message):
    out = prefrl("train", "--env", "Pong", "--timesteps", "1000", *args, "--runs-dir", "runs", cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert not (tmp_path / "runs").exists()


def test_a_cpu_run_at_paper_scale_reward_fitting_is_told_what_it_costs():
    from agents.atari_run import cpu_cost_note
    from agents.train import prepare

    cfg = TrainConfig(env="Pong", timesteps=1_000_000)
    _, _, _, _, schedule = prepare(cfg)  # the paper's 200 epochs on 500 labels, 0.1 comparisons per step
    note = cpu_cost_note(cfg, "cpu", schedule.initial)
    assert "100,000 comparisons before RL" in note and "--fit-rate 0.1 " in note
    assert cpu_cost_note(cfg, "cuda", schedule.initial) is None
    light = TrainConfig(env="Pong", timesteps=1_000_000, pretrain_epochs=5, fit_rate=0.01)
    assert cpu_cost_note(light, "cpu", prepare(light)[4].initial) is None
    assert cpu_cost_note(TrainConfig(env="Pong", reward="true"), "cpu", 0) is None
    hopper = TrainConfig(env="Hopper")
    assert cpu_cost_note(hopper, "cpu", prepare(hopper)[4].initial) is None
