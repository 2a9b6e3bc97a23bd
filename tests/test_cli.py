import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.benchmark import summarize

ROOT = Path(__file__).resolve().parents[1]
CORE_TAGS = [
    "rollout/ep_rew_mean", "charts/ep_true_return", "charts/ep_learned_return",
    "reward/train_loss", "reward/val_loss", "reward/train_acc", "reward/val_acc", "reward/l2",
    "labels/answered", "labels/target", "reward/disagreement", "reward/heldout_corr", "perf/steps_per_sec",
]
INSPECTION_TAGS = [
    "reward/fresh_acc", "reward/heldout_spearman", "labels/from_oracle", "perf/env_seconds",
    "perf/ppo_update_seconds", "perf/fit_seconds", "charts/reward_hacking", "eval/true_return_mean",
    "eval/episode_true_return",
]


def prefrl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUJOCO_GL": "egl", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "agents.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_smoke_run_writes_every_file_and_tag(tmp_path):
    out = prefrl("train", "--env", "Hopper", "--labels", "20", "--timesteps", "3072", "--fit-every", "1024",
                 "--pretrain-epochs", "5", "--eval-episodes", "1", "--runs-dir", "runs", "--quiet",
                 "--seed", "3", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("Hopper__pref20-random__3__")
    for name in ("config.json", "model.zip", "vecnormalize.pkl", "reward_ensemble.pt", "result.json",
                 "store/store.sqlite"):
        assert (run / name).is_file(), name
    assert list((run / "store" / "clips").glob("*.npz"))
    result = json.loads((run / "result.json").read_text())
    assert result["labels_answered"] == 20 and result["timesteps"] >= 3072
    for key in ("true_return_mean", "true_return_std", "oracle_return_mean", "steps_per_sec"):
        assert isinstance(result[key], float)
    assert json.loads((run / "config.json").read_text())["labels"] == 20
    ea = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    ea.Reload()
    tags = set(ea.Tags()["scalars"])
    missing = [t for t in CORE_TAGS + INSPECTION_TAGS if t not in tags]
    assert not missing, missing
    for tag in ("reward/val_acc", "reward/train_acc", "reward/fresh_acc"):
        assert all(0.0 <= e.value <= 1.0 for e in ea.Scalars(tag))
    assert all(e.value >= 0 for e in ea.Scalars("perf/fit_seconds"))
    assert all(e.value in (0.0, 1.0) for e in ea.Scalars("charts/reward_hacking"))
    assert set(ea.Tags()["images"]) >= {"agent/episode", "clips/latest_query", "reward/pred_vs_true_returns"}
    assert ea.Images("agent/episode")[-1].encoded_image_string[:6] == b"GIF89a"
    assert "reward/r_hat_hist" in ea.Tags()["histograms"]
    assert {"config/text_summary", "custom_scalars__config__"} <= set(ea.Tags()["tensors"])
    assert ea.Scalars("labels/answered")[-1].value == 20
    assert "final true return" in out.stdout and "tensorboard --logdir" in out.stdout


@pytest.mark.parametrize("args,message", [
    (["--env", "Pacman"], "unknown task 'Pacman'"),
    (["--labels", "0"], "--labels"),
    (["--timesteps", "-5"], "--timesteps"),
    (["--timesteps", "many"], "--timesteps"),
    (["--selection", "best"], "--selection"),
    (["--teacher", "lazy"], "--teacher: unknown teacher 'lazy'"),
    (["--teacher", "stoch:0"], "BETA in stoch:BETA must be a positive number"),
    (["--ppo", "bogus_key=1"], "unknown PPO setting(s): bogus_key"),
    (["--ppo", "novalue"], "KEY=VALUE"),
    (["--ppo", "gamma=abc"], "--ppo gamma='abc': expected a number"),
    (["--ppo", "n_steps=1.5"], "--ppo n_steps=1.5: expected a whole number"),
    (["--device", "tpu"], "unknown device"),
    (["--restart-after", "-1"], "--restart-after must be >= 0"),
    (["--height-bonus", "-1", "--env", "Hopper"], "--height-bonus must be >= 0"),
    (["--height-bonus", "1", "--env", "Swimmer"], "--height-bonus is offered for Hopper, Walker2d and Ant only"),
    (["--tilt-penalty", "-2", "--env", "Hopper"], "--tilt-penalty must be >= 0"),
    (["--tilt-penalty", "1", "--env", "Ant"], "--tilt-penalty is offered for Hopper and Walker2d only"),
    (["--clip-steps", "1"], "--clip-steps must be at least 2"),
    (["--pessimism", "-1"], "--pessimism must be >= 0"),
    (["--optimism", "-1"], "--optimism must be >= 0"),
    (["--optimism", "1", "--pessimism", "1"], "--optimism and --pessimism pull r̂ opposite ways"),
    (["--optimism", "1", "--optimism-steps", "0"], "--optimism-steps must be > 0"),
    (["--bogus-flag"], "unrecognized arguments"),
    (["--true-task", "gym"], "--true-task gym is for true-reward runs"),
    (["--reward", "true", "--env", "Pong", "--true-task", "gym"], "--true-task gym is for MuJoCo tasks"),
])
def test_bad_input_gets_one_line_and_exit_2(tmp_path, args, message):
    out = prefrl("train", "--timesteps", "1000", *args, "--runs-dir", "runs", cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "runs").exists()  # nothing was created


def test_bench_reuse_of_a_folder_that_is_not_a_bench_gets_one_line_and_exit_2(tmp_path):
    out = prefrl("bench", "--env", "Reacher", "--timesteps", "1000", "--reuse", "nowhere", "--runs-dir", "runs",
                 cwd=tmp_path)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and "--reuse nowhere: not a bench folder" in lines[0], out.stderr
    assert not (tmp_path / "runs").exists()  # nothing was started


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_a_gpu_is_refused(tmp_path):
    out = prefrl("train", "--device", "cuda", "--runs-dir", "runs", cwd=tmp_path)
    assert out.returncode == 2 and "no CUDA GPU" in out.stderr and "Traceback" not in out.stderr


def test_help_documents_every_flag(tmp_path):
    out = prefrl("train", "--help", cwd=tmp_path)
    assert out.returncode == 0
    for flag in ("--env", "--reward", "--labels", "--timesteps", "--seed", "--selection", "--device", "--ppo"):
        assert flag in out.stdout
    version = prefrl("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("prefrl ")
    tasks = prefrl("tasks", cwd=tmp_path).stdout
    assert tasks.count("-v5") == 15  # 8 MuJoCo tasks, 7 Atari games
    fall = {line.split()[0]: line.split("fall: ")[1] for line in tasks.splitlines() if "fall: " in line}
    assert fall == {"Hopper": "height 1, tilt 1", "Walker2d": "penalty 5", "Ant": "penalty 5",
                    "InvertedPendulum": "penalty 5", "InvertedDoublePendulum": "penalty 5"}
    restarts = [line.split()[0] for line in tasks.splitlines() if "random rollouts restart every 60" in line]
    assert restarts == ["Walker2d"]  # before RL, its random-policy rollouts restart every 60 steps
    trpo = prefrl("tasks", "--algo", "trpo", cwd=tmp_path).stdout
    assert trpo.count("trpo: n_envs=2") == 8 and trpo.count("trpo: not offered") == 7
    assert "Swimmer" in trpo.split("gamma=0.9999")[0].splitlines()[-2]  # rl-zoo's one task-specific gamma


def test_bench_summary_ratios():
    rows = [
        dict(env="Hopper", reward="preferences", seed=0, timesteps=100, label_budget=700, true_return_mean=1800.0,
             true_return_std=1.0, oracle_return_mean=900.0, steps_per_sec=540.0, learn_seconds=10.0,
             reward_val_acc=0.9, reward_heldout_corr=0.8, fit_seconds=3.0),
        dict(env="Hopper", reward="true", seed=0, timesteps=100, label_budget=0, true_return_mean=2000.0,
             true_return_std=1.0, oracle_return_mean=1000.0, steps_per_sec=600.0, learn_seconds=9.0),
    ]
    s, md = summarize(rows)
    assert s["return_ratio"] == pytest.approx(0.9) and s["throughput_ratio"] == pytest.approx(0.9)
    assert "**0.900**" in md


def test_learned_and_true_reward_runs_get_the_same_ppo_entropy_setting():
    from agents.config import TrainConfig
    from agents.train import prepare

    def ent(**kw) -> float:
        return prepare(TrainConfig(**kw))[3].get("ent_coef", 0.0)

    for env in ("Hopper", "Swimmer", "InvertedPendulum"):
        assert ent(env=env) == ent(env=env, reward="true")  # no extra bonus on r̂ (RESULTS.md, fourth session)
    assert ent(env="Hopper", ppo={"ent_coef": 0.01}) == 0.01  # the paper's bonus, on request


def test_restart_after_flag_overrides_the_tasks_default():
    from agents.cli import _config_from, build_parser

    def task(*args: str):
        return _config_from(build_parser().parse_args(["train", *args])).task()

    assert task("--env", "InvertedPendulum").restart_after == 10 and task("--env", "Hopper").restart_after == 0
    assert task("--env", "Hopper", "--restart-after", "1").restart_after == 1
    assert task("--env", "InvertedPendulum", "--restart-after", "0").restart_after == 0
    assert task("--env", "Hopper", "--clip-seconds", "0.2").clip_steps == 25  # the run's clip length too
    assert task("--env", "Hopper", "--clip-steps", "188").clip_steps == 188  # the paper's 1.5 s, past the cap
    assert task("--env", "Reacher", "--clip-steps", "188").clip_steps == 50  # never longer than the episode



def test_height_bonus_and_tilt_penalty_flags_reach_the_task_and_are_saved(tmp_path):
    from agents.cli import _config_from, build_parser
    from agents.config import load_run_config

    def cfg(*args: str):
        return _config_from(build_parser().parse_args(["train", *args]))

    hopper, walker = cfg("--env", "Hopper").resolved(), cfg("--env", "Walker2d").resolved()
    # Hopper's fall is priced by height and tilt by default, the others' by the flat penalty
    assert (hopper.unhealthy_penalty, hopper.height_bonus, hopper.tilt_penalty) == (0.0, 1.0, 1.0)
    assert (walker.unhealthy_penalty, walker.height_bonus, walker.tilt_penalty) == (5.0, 0.0, 0.0)
    assert cfg("--env", "Hopper", "--unhealthy-penalty", "2").task().unhealthy_penalty == 2.0
    walker = cfg("--env", "Walker2d", "--height-bonus", "1.5")
    assert walker.task().height_bonus == 1.5
    assert walker.resolved().height_bonus == 1.5  # written out in config.json
    (tmp_path / "config.json").write_text(json.dumps({"env": "Hopper"}))  # a run from before the flags
    old = load_run_config(tmp_path).resolved()
    assert (old.unhealthy_penalty, old.height_bonus, old.tilt_penalty) == (5.0, 0.0, 0.0)  # what it ran with
    tilted = cfg("--env", "Hopper", "--tilt-penalty", "2")
    assert tilted.task().tilt_penalty == 2.0 and tilted.resolved().tilt_penalty == 2.0
    steep = cfg("--env", "Hopper", "--tilt-slope", "20")
    assert steep.task().tilt_slope == 20.0 and steep.resolved().tilt_slope == 20.0
    assert hopper.tilt_slope == old.tilt_slope == 2.0  # the default, and what a run from before the flag ran with
    for bad, says in ((["--env", "Hopper", "--tilt-slope", "-1"], "--tilt-slope must be >= 0"),
                      (["--env", "Hopper", "--tilt-penalty", "0", "--tilt-slope", "5"], "Hopper does not have"),
                      (["--env", "Swimmer", "--tilt-slope", "5"], "Swimmer does not have")):
        with pytest.raises(ValueError, match=says):
            cfg(*bad).validate()
    cfg("--env", "Swimmer").resolved().validate()  # holds the default slope, with no tilt charge

def test_random_policy_rollouts_restart_every_random_episode_steps():
    from agents.cli import _config_from, build_parser
    from agents.train import random_policy_clips
    from envs.registry import get_task

    spec = get_task("Hopper")  # starts upright at height 1.25 (+- 0.005 reset noise), falls within a clip
    starts = [c.obs[0][0] for c in random_policy_clips(spec, 6, seed=0, episode_steps=spec.clip_steps)]
    assert np.allclose(starts, 1.25, atol=0.01)  # every clip is the first of a fresh rollout
    later = [c.obs[0][0] for c in random_policy_clips(spec, 6, seed=0)[1:]]
    assert min(later) < 1.0  # by default the rollout runs on, fallen, into the next clips
    cfg = _config_from(build_parser().parse_args(["train", "--random-episode-steps", "60"]))
    assert cfg.random_episode_steps == 60


def test_random_episode_steps_default_is_the_tasks_and_a_saved_run_keeps_its_own(tmp_path):
    from agents.config import TrainConfig, load_run_config
    from agents.train import prepare

    assert TrainConfig(env="Walker2d").resolved().random_episode_steps == 60  # the task's default
    assert TrainConfig(env="Hopper").resolved().random_episode_steps == 0  # whole episodes
    whole = TrainConfig(env="Walker2d", random_episode_steps=0)
    prepare(whole)  # 0 (whole episodes) is kept, saved and not replaced by the default on resolving again
    assert whole.random_episode_steps == 0 and whole.resolved().random_episode_steps == 0
    fresh = TrainConfig(env="Walker2d")
    prepare(fresh)
    fresh.save(tmp_path / "config.json")
    assert load_run_config(tmp_path).resolved().random_episode_steps == 60
    # a Walker2d run from before the default saved None: it ran whole episodes and still says so
    before = json.loads((tmp_path / "config.json").read_text()) | {"random_episode_steps": None}
    (tmp_path / "config.json").write_text(json.dumps(before))
    assert load_run_config(tmp_path).resolved().random_episode_steps == 0
    with pytest.raises(ValueError, match="--random-episode-steps must be >= 0, got -1"):
        TrainConfig(random_episode_steps=-1).validate()


def test_episode_steps_shortens_ppo_training_episodes_only(tmp_path):
    from agents.cli import _config_from, build_parser
    from agents.config import TrainConfig
    from agents.train import _build

    cfg = TrainConfig(env="Hopper", reward="true", timesteps=4096, episode_steps=40)
    venv = _build(cfg, tmp_path, seed_offset=0).venv
    venv.reset()
    dones = [bool(venv.step(np.zeros((venv.num_envs, 3)))[2][0]) for _ in range(80)]
    assert [t + 1 for t, done in enumerate(dones) if done] == [40, 80]  # restarted underneath every 40 steps
    assert cfg.task().episode_steps == 1000  # evaluation and diagnostics keep the task's episodes
    assert TrainConfig(env="Hopper").resolved().episode_steps == 1000
    assert _config_from(build_parser().parse_args(["train", "--episode-steps", "240"])).episode_steps == 240
    with pytest.raises(ValueError, match="for MuJoCo tasks"):
        TrainConfig(env="Pong", episode_steps=100).validate()
    # never longer than the task's own episodes (a suite's --episode-steps 240 would stretch Reacher's 50)
    with pytest.raises(ValueError, match="at most Reacher's own 50 steps, got 240"):
        TrainConfig(env="Reacher", episode_steps=240).validate()
    TrainConfig(env="Reacher", episode_steps=50).validate()
    with pytest.raises(ValueError, match="gym task's own episodes"):
        TrainConfig(env="Hopper", reward="true", true_task="gym", episode_steps=100).validate()
    # a resolved config holds the task's own length, which is valid everywhere
    TrainConfig(env="Pong").resolved().validate()
    TrainConfig(env="Hopper", reward="true", true_task="gym").resolved().validate()


def test_min_episode_steps_draws_each_training_episodes_length(tmp_path):
    from agents.cli import _config_from, build_parser
    from agents.config import TrainConfig
    from agents.train import _build

    cfg = TrainConfig(env="Hopper", reward="true", timesteps=4096, episode_steps=30, min_episode_steps=10)

    def episode_ends(run_dir) -> list[int]:  # the steps (of 600) at which the training venv's episodes end
        venv = _build(cfg, run_dir, seed_offset=0).venv
        venv.reset()
        return [t + 1 for t in range(600) if venv.step(np.zeros((venv.num_envs, 3)))[2][0]]

    ends = episode_ends(tmp_path)
    lengths = np.diff([0, *ends])
    assert lengths.min() >= 10 and lengths.max() <= 30 and len(set(lengths)) > 5  # drawn, not fixed
    assert episode_ends(tmp_path / "again") == ends  # seeded
    assert cfg.task().episode_steps == 1000 and cfg.task().min_episode_steps == 0  # evaluation: the task's
    assert cfg.true_baseline("gym").min_episode_steps == 0 and cfg.true_baseline("harness").min_episode_steps == 10
    args = build_parser().parse_args(["train", "--min-episode-steps", "240"])
    assert _config_from(args).min_episode_steps == 240
    assert _config_from(build_parser().parse_args(["train"])).min_episode_steps == 0
    with pytest.raises(ValueError, match=r"0 or between 1 and Hopper's training episode length \(30\), got 31"):
        TrainConfig(env="Hopper", episode_steps=30, min_episode_steps=31).validate()
    with pytest.raises(ValueError, match=r"0 or between 1 and Hopper's training episode length \(1000\), got -5"):
        TrainConfig(env="Hopper", min_episode_steps=-5).validate()
    with pytest.raises(ValueError, match="for MuJoCo tasks"):
        TrainConfig(env="Pong", min_episode_steps=100).validate()
    with pytest.raises(ValueError, match="gym task's own episodes"):
        TrainConfig(env="Hopper", reward="true", true_task="gym", min_episode_steps=100).validate()


def test_a_run_config_keeps_the_fall_handling_it_ran_with(tmp_path):
    from agents.config import TrainConfig, load_run_config
    from agents.train import prepare

    cfg = TrainConfig(env="InvertedPendulum")
    prepare(cfg)
    assert cfg.restart_after == 10  # written out, not left to a default that may change
    (tmp_path / "config.json").write_text(json.dumps({"env": "InvertedPendulum", "reset_on_fall": False}))
    assert load_run_config(tmp_path).task().restart_after == 0  # the flag of cd1a09f, still understood


def test_a_run_keeps_the_ppo_settings_it_started_with_when_the_registry_changes(tmp_path, monkeypatch):
    from agents.config import TrainConfig, load_run_config
    from agents.train import prepare
    from envs.registry import TASKS

    cfg = TrainConfig(env="Reacher", ppo={"n_epochs": 3}, n_envs=2)
    prepare(cfg)
    assert cfg.ppo_resolved == {**TASKS["Reacher"].ppo, "n_epochs": 3, "n_envs": 2}
    cfg.save(tmp_path / "config.json")
    changed = {**TASKS["Reacher"].ppo, "gamma": 0.5, "target_kl": 0.01}
    monkeypatch.setitem(TASKS, "Reacher", replace(TASKS["Reacher"], ppo=changed))
    settings = load_run_config(tmp_path).ppo_settings()  # what a resumed run builds PPO from
    assert settings["gamma"] == 0.9 and "target_kl" not in settings and settings["n_epochs"] == 3
    assert TrainConfig(env="Reacher").ppo_settings()["gamma"] == 0.5  # a new run takes the new registry


def test_a_run_from_before_ppo_settings_were_saved_gets_the_registry_of_its_time(tmp_path):
    from agents.config import load_run_config
    from envs.registry import get_task

    assert get_task("InvertedDoublePendulum").ppo["target_kl"] == 0.02  # today's default (RESULTS.md)
    (tmp_path / "config.json").write_text(json.dumps({"env": "InvertedDoublePendulum", "ppo": {"gamma": 0.9}}))
    settings = load_run_config(tmp_path).ppo_settings()
    assert "target_kl" not in settings and settings["gamma"] == 0.9 and settings["n_steps"] == 2048
    (tmp_path / "config.json").write_text(json.dumps({"env": "InvertedDoublePendulum", "ppo": {"target_kl": 0.02}}))
    assert load_run_config(tmp_path).ppo_settings() == get_task("InvertedDoublePendulum").ppo
    (tmp_path / "config.json").write_text(json.dumps({"env": "InvertedPendulum"}))
    assert "target_kl" not in load_run_config(tmp_path).ppo_settings() and get_task("InvertedPendulum").ppo["target_kl"]
    # Walker2d ran rl-zoo's values before they gave way to the standard settings
    (tmp_path / "config.json").write_text(json.dumps({"env": "Walker2d"}))
    settings = load_run_config(tmp_path).ppo_settings()
    assert settings["n_steps"] == 512 and settings["clip_range"] == 0.1 and get_task("Walker2d").ppo["n_steps"] == 2048
    (tmp_path / "config.json").write_text(json.dumps({"env": "Nope"}))
    assert load_run_config(tmp_path).ppo_resolved is None  # an unknown task is reported where it is used


def test_reward_inputs_default_to_the_tasks_and_are_written_out():
    from agents.cli import _config_from, build_parser
    from agents.train import prepare

    def resolved(*args: str) -> str:
        cfg = _config_from(build_parser().parse_args(["train", *args]))
        prepare(cfg)
        return cfg.reward_inputs

    assert resolved("--env", "Swimmer") == "obs"  # RESULTS.md, fifth session: 0.99-1.00 against 0.73
    assert resolved("--env", "Hopper") == "obs+act"  # the paper's r̂(o, a) elsewhere
    assert resolved("--env", "Swimmer", "--reward-inputs", "obs+act") == "obs+act"


def test_a_run_from_before_reward_inputs_existed_keeps_the_action_in_its_reward_model(tmp_path):
    from agents.config import load_run_config

    (tmp_path / "config.json").write_text(json.dumps({"env": "Swimmer"}))
    assert load_run_config(tmp_path).resolved_reward_inputs() == "obs+act"  # not Swimmer's new default


def test_a_run_from_before_the_validation_option_resumes_with_its_split(tmp_path):
    from agents.config import TrainConfig, load_run_config
    from preference.fitting import EnsembleTrainer, FitConfig
    from preference.reward_model import RewardEnsemble

    (tmp_path / "config.json").write_text(json.dumps({"env": "Pong"}))
    assert load_run_config(tmp_path).validation == "split"
    assert TrainConfig().validation == "split"
    with pytest.raises(ValueError, match="--validation"):
        TrainConfig(validation="holdout").validate()
    with pytest.raises(ValueError, match="validation"):
        EnsembleTrainer(RewardEnsemble(2, 1), FitConfig(validation="holdout"))


def test_bench_summary_is_written_only_for_one_learned_setting_against_the_baseline():
    from agents.benchmark import is_one_comparison

    true = dict(env="Swimmer", reward="true", labels=None, selection="random", teacher="oracle")
    learned = dict(true, reward="preferences", labels=700)
    assert is_one_comparison([true, learned, dict(learned, seed=1)])
    assert not is_one_comparison([true, learned, dict(learned, selection="disagreement")])  # a suite's variants
    assert not is_one_comparison([true, learned, dict(learned, teacher="mistake")])
    assert not is_one_comparison([true, learned, dict(true, env="Hopper")])
    assert not is_one_comparison([learned])


def test_bench_plan_lists_the_cells_and_writes_nothing_and_a_misplaced_part_flag_gets_one_line(tmp_path):
    out = prefrl("bench", "--suite", "paper-mujoco", "--tasks", "Swimmer,Reacher", "--budgets", "700", "--seeds", "1",
                 "--plan", "--name", "p", "--runs-dir", "runs", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["runs      Swimmer__true__s0", "runs      Swimmer__pref700-random-oracle__s0",
                                       "runs      Reacher__true__s0", "runs      Reacher__pref700-random-oracle__s0",
                                       "4 cells in runs/bench/p: 0 finished, 0 reused, 0 resume from a checkpoint, "
                                       "4 run from the start"]
    assert not (tmp_path / "runs").exists()
    # seeds added to a grid: a range (or a list) names the seeds themselves
    out = prefrl("bench", "--suite", "paper-mujoco", "--tasks", "Swimmer", "--budgets", "700", "--seeds", "3-4",
                 "--plan", "--name", "p", "--runs-dir", "runs", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert [line.split()[-1] for line in out.stdout.splitlines()[:-1]] == [
        "Swimmer__true__s3", "Swimmer__pref700-random-oracle__s3", "Swimmer__true__s4",
        "Swimmer__pref700-random-oracle__s4"]
    # one half of the grid: its true-reward baselines, or its learned-reward cells
    for only, kept in (("baselines", ["Swimmer__true-gym__s3", "Swimmer__true-gym__s4"]),
                       ("learned", ["Swimmer__pref350-random-oracle__s3", "Swimmer__pref700-random-oracle__s3",
                                    "Swimmer__pref350-random-oracle__s4", "Swimmer__pref700-random-oracle__s4"])):
        out = prefrl("bench", "--suite", "paper-mujoco", "--tasks", "Swimmer", "--budgets", "350,700", "--seeds", "3-4",
                     "--true-task", "gym", "--only", only, "--plan", "--name", "p", "--runs-dir", "runs", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert [line.split()[-1] for line in out.stdout.splitlines()[:-1]] == kept
    seeds = ["--suite", "paper-mujoco", "--seeds"]
    for bad, why in ((["--budgets", "700"], "narrow a --suite"), (["--suite", "paper-mujoco", "--tasks", "Swimer"],
                     "unknown task 'Swimer'"), (["--suite", "paper-mujoco", "--budgets", "700,1"], "at least 2"),
                     ([*seeds, "4-3"], "a range A-B"), ([*seeds, "3,3"], "none twice"), ([*seeds, "0"], "count N"),
                     (["--only", "baseline"], "invalid choice: 'baseline'")):
        out = prefrl("bench", *bad, "--plan", "--runs-dir", "runs", cwd=tmp_path)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and why in lines[0], out.stderr
