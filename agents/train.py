"""One training run: build everything from a ``TrainConfig``, train, evaluate, write the run folder."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize
from tqdm import tqdm

from agents.callbacks import PreferenceCallback
from agents.config import TrainConfig
from agents.evaluation import evaluate
from agents.ppo_factory import check_kwargs, make_ppo, split_settings
from agents.reward_wrapper import LearnedRewardVecEnv
from agents.run_dir import new_run_dir
from envs.mujoco import make_mujoco_env
from envs.registry import TaskSpec, get_task
from preference.clips import Clip, ClipRecorder
from preference.fitting import EnsembleTrainer, FitConfig
from preference.loop import LoopConfig, PreferenceLoop
from preference.oracle import PerfectOracle
from preference.reward_model import RewardEnsemble, resolve_device
from preference.schedule import LabelSchedule
from preference.store import PreferenceStore


@dataclass
class Run:
    """What a finished run leaves behind."""

    path: Path
    result: dict[str, Any]


def _task_with_clip(cfg: TrainConfig) -> TaskSpec:
    return replace(get_task(cfg.env), clip_seconds=cfg.clip_seconds)


def make_vec_env(spec: TaskSpec, n_envs: int, seed: int, penalty: float) -> DummyVecEnv:
    venv = DummyVecEnv([lambda: make_mujoco_env(spec, penalty) for _ in range(n_envs)])
    venv.seed(seed)
    return venv


def random_policy_clips(spec: TaskSpec, n_clips: int, seed: int, penalty: float) -> list[Clip]:
    """Roll a uniformly random policy until ``n_clips`` clips exist (before RL; not counted in steps)."""
    env = make_mujoco_env(spec, penalty)
    env.action_space.seed(seed)
    recorder = ClipRecorder(1, spec.clip_steps, capacity=n_clips)
    obs, info = env.reset(seed=seed)
    while recorder.total_clips < n_clips:
        act = env.action_space.sample()
        nxt, _, _, truncated, info_next = env.step(act)
        recorder.add(obs[None], act[None], np.array([info_next["true_reward"]]),
                     [info_next["physics_state"]], np.array([truncated]))
        obs = nxt
        if truncated:
            obs, _ = env.reset()
    env.close()
    return list(recorder.clips)


def train(cfg: TrainConfig) -> Run:
    """Run ``cfg`` to the end; return the run folder and its result (also in result.json)."""
    cfg.validate()
    spec = _task_with_clip(cfg)
    cfg.labels = spec.default_labels if cfg.labels is None else cfg.labels
    cfg.timesteps = spec.default_timesteps if cfg.timesteps is None else cfg.timesteps
    device = resolve_device(cfg.device)
    ppo_settings = {**spec.ppo, **cfg.ppo}
    if cfg.n_envs is not None:
        ppo_settings["n_envs"] = cfg.n_envs
    n_envs, ppo_kwargs = split_settings(ppo_settings)
    check_kwargs(ppo_kwargs)
    schedule = LabelSchedule(cfg.labels, cfg.timesteps, cfg.initial_fraction, cfg.schedule_horizon)
    torch.set_num_threads(cfg.torch_threads)

    exp = cfg.exp_name or ("true" if cfg.reward == "true" else f"pref{cfg.labels}-{cfg.selection}")
    run_dir = new_run_dir(Path(cfg.runs_dir), spec.name, exp, cfg.seed)
    cfg.save(run_dir / "config.json")
    logger = configure(str(run_dir / "tb"), ["tensorboard"])
    rng = np.random.default_rng(cfg.seed)

    venv = make_vec_env(spec, n_envs, cfg.seed, cfg.unhealthy_penalty)
    obs_dim = int(np.prod(venv.observation_space.shape))
    act_dim = int(np.prod(venv.action_space.shape))
    recorder = ClipRecorder(n_envs, spec.clip_steps, capacity=cfg.clip_capacity)
    store = PreferenceStore(run_dir / "store")
    store.set_meta("env", spec.name)
    store.set_meta("label_budget", str(cfg.labels))

    loop: PreferenceLoop | None = None
    window_proc: subprocess.Popen | None = None
    ensemble: RewardEnsemble | None = None
    t_start = time.perf_counter()
    if cfg.reward == "preferences":
        ensemble = RewardEnsemble(obs_dim, act_dim, cfg.ensemble_size, target_std=1.0, device=device,
                                  seed=cfg.seed)
        trainer = EnsembleTrainer(ensemble, FitConfig(), np.random.default_rng(cfg.seed + 1))
        loop = PreferenceLoop(
            ensemble, trainer, store, schedule, recorder,
            LoopConfig(selection=cfg.selection, fit_every=cfg.fit_every, fit_epochs=cfg.fit_epochs,
                       pretrain_epochs=cfg.pretrain_epochs, candidate_clips=cfg.candidate_clips,
                       async_fit=cfg.async_fit and device.type == "cpu", labeler=cfg.labeler,
                       oracle_after=cfg.oracle_after),
            rng, PerfectOracle())
        if cfg.window:
            window_proc = _open_window_process(run_dir)
        clips = random_policy_clips(spec, max(20, schedule.initial), cfg.seed + 2, cfg.unhealthy_penalty)
        if cfg.labeler != "oracle":
            print(f"label clip pairs with: prefrl label {run_dir}", file=sys.stderr)
        loop.pretrain(clips)
        for key, value in loop.metrics.items():
            if np.isfinite(value):
                logger.record(key, value)
        logger.dump(step=0)

    wrapper = LearnedRewardVecEnv(venv, loop.reward if loop is not None else None, recorder)
    ppo_env = VecNormalize(wrapper, gamma=ppo_kwargs.get("gamma", 0.99)) if spec.normalize else wrapper
    model = make_ppo(ppo_env, ppo_kwargs, cfg.seed, str(device))
    model.set_logger(logger)

    bar = tqdm(total=cfg.timesteps, unit="step", disable=not cfg.progress, dynamic_ncols=True,
               mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=f"{spec.name} {exp}")
    callback = PreferenceCallback(wrapper, loop, bar, max_behind=cfg.max_behind)
    t_learn = time.perf_counter()
    model.learn(total_timesteps=cfg.timesteps, callback=callback)
    learn_seconds = time.perf_counter() - t_learn
    callback.finish()
    bar.close()
    if loop is not None:
        for key, value in loop.metrics.items():
            if np.isfinite(value):
                logger.record(key, value)
        logger.dump(step=model.num_timesteps)

    logger.close()
    model.save(run_dir / "model.zip")
    if isinstance(ppo_env, VecNormalize):
        ppo_env.save(str(run_dir / "vecnormalize.pkl"))
    if ensemble is not None:
        ensemble.save(run_dir / "reward_ensemble.pt")

    ev = evaluate(model, ppo_env if isinstance(ppo_env, VecNormalize) else None, spec, cfg.eval_episodes,
                  seed=cfg.seed + 1000, penalty=cfg.unhealthy_penalty)
    counts = store.counts()
    result: dict[str, Any] = {
        "env": spec.name, "reward": cfg.reward, "seed": cfg.seed, "selection": cfg.selection,
        "timesteps": int(model.num_timesteps), "label_budget": cfg.labels if loop else 0,
        "labels_answered": counts["answered"], "labels_dropped": counts["dropped"],
        "labels_by_source": dict(loop.source_counts) if loop else {},
        "human_oracle_agreement": (loop.human_oracle_agreement() if loop and loop.source_counts.get("human")
                                   else None),
        **ev,
        "learned_return_mean": float(np.mean(wrapper.learned_returns)) if loop and wrapper.learned_returns else None,
        "reward_val_acc": loop.metrics.get("reward/val_acc") if loop else None,
        "reward_heldout_corr": loop.metrics.get("reward/heldout_corr") if loop else None,
        "learn_seconds": learn_seconds, "steps_per_sec": model.num_timesteps / learn_seconds,
        "fit_seconds": loop.fit_seconds if loop else 0.0,
        "wall_seconds": time.perf_counter() - t_start,
        "device": str(device), "machine": f"{platform.node()} ({platform.machine()}, {_cpu_count()} cpus)",
        "date": time.strftime("%Y-%m-%d"),
    }
    (run_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    store.close()
    venv.close()
    if window_proc is not None:
        window_proc.terminate()  # its claims expire; every answer it gave is in the store
    return Run(run_dir, result)


def _open_window_process(run_dir: Path) -> subprocess.Popen:
    """Start `prefrl label <run>` as a separate process (the window never slows training)."""
    return subprocess.Popen([sys.executable, "-m", "agents.cli", "label", str(run_dir)])


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
