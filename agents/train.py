"""One training run: build everything from a ``TrainConfig``, train, evaluate, write the run folder."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.logger import HParam, configure
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize
from tqdm import tqdm

from agents.atari_run import BUFFER as ATARI_BUFFER
from agents.atari_run import (AtariMediaLogger, atari_random_clips, cpu_cost_note,
                              evaluate_atari)
from agents.atari_vec import make_atari_venv
from agents.callbacks import PreferenceCallback
from agents.checkpoint import (checkpoint_dir, load_model, load_normalization, load_reward_model, load_state,
                               save_checkpoint)
from agents.config import RESUMABLE_CHANGES, TrainConfig, load_run_config, true_run_name
from agents.evaluation import evaluate
from agents.media import MediaLogger
from agents.tb import LAYOUT, HackingAlarm, config_table, writer_of
from agents.ppo_factory import check_kwargs, make_ppo, split_settings
from agents.reward_wrapper import LearnedRewardVecEnv, RolloutRewardNormalize
from agents.run_dir import claim_run_dir, code_version, new_run_dir, write_progress
from envs.mujoco import make_gym_task_env, make_mujoco_env
from envs.registry import TaskSpec
from preference.clips import Clip, ClipRecorder
from preference.cnn_reward import CnnRewardEnsemble
from preference.fitting import EnsembleTrainer, FitConfig
from preference.loop import LoopConfig, PreferenceLoop
from preference.teachers import SimulatedTeacher
from preference.reward_model import RewardEnsemble, resolve_device
from preference.schedule import LabelSchedule
from preference.store import PreferenceStore


@dataclass
class Run:
    """What a finished run leaves behind."""

    path: Path
    result: dict[str, Any]


def make_vec_env(spec: TaskSpec, n_envs: int, seed: int, true_task: str = "harness") -> DummyVecEnv:
    """``n_envs`` copies of the harness (or, with ``true_task="gym"``, of the unmodified gym task)."""
    make = (lambda: make_gym_task_env(spec)) if true_task == "gym" else (lambda: make_mujoco_env(spec))
    venv = DummyVecEnv([make for _ in range(n_envs)])
    venv.seed(seed)
    return venv


def random_policy_clips(spec: TaskSpec, n_clips: int, seed: int, episode_steps: int = 0) -> list[Clip]:
    """Roll a uniformly random policy until ``n_clips`` clips exist (before RL; not counted in steps),
    restarting every ``episode_steps`` steps (0: at the task's episode end)."""
    env = make_mujoco_env(spec)
    env.action_space.seed(seed)
    recorder = ClipRecorder(1, spec.clip_steps, capacity=n_clips)
    obs, info = env.reset(seed=seed)
    steps = 0
    while recorder.total_clips < n_clips:
        act = env.action_space.sample()
        nxt, _, _, truncated, info_next = env.step(act)
        steps += 1
        end = truncated or steps == episode_steps
        recorder.add(obs[None], act[None], np.array([info_next["true_reward"]]),
                     [info_next["physics_state"]], np.array([end]))
        obs = nxt
        if end:
            obs, _ = env.reset()
            steps = 0
    env.close()
    return list(recorder.clips)


@dataclass
class _Parts:
    """Everything a run is made of, built the same way for a new run and a resumed one."""

    spec: TaskSpec
    device: torch.device
    venv: DummyVecEnv
    wrapper: LearnedRewardVecEnv
    ppo_env: VecEnv
    store: PreferenceStore
    recorder: ClipRecorder
    loop: PreferenceLoop | None
    ppo_kwargs: dict[str, Any]


def prepare(cfg: TrainConfig) -> tuple[TaskSpec, torch.device, int, dict[str, Any], LabelSchedule]:
    """Validate ``cfg`` completely (before anything is written); fill in the task's defaults."""
    cfg.validate()
    code_version()  # what this process runs, before any later commit (see its docstring)
    # every default saved explicitly: a later default must not change this run
    vars(cfg).update(vars(cfg.resolved()))
    spec = cfg.task()
    device = resolve_device(cfg.device)
    n_envs, ppo_kwargs = split_settings(cfg.ppo_settings())
    check_kwargs(ppo_kwargs, cfg.algo)
    schedule = LabelSchedule(cfg.labels, cfg.timesteps, cfg.initial_fraction, cfg.schedule_horizon)
    if cfg.reward == "preferences" and cfg.reward_from is None:
        fresh_clips = cfg.timesteps // spec.clip_steps
        if cfg.labels - schedule.initial > fresh_clips:
            raise ValueError(f"--labels {cfg.labels} is more than the schedule can ask: {cfg.timesteps:,} steps "
                             f"make only {fresh_clips} new clips of {spec.clip_steps} steps for "
                             f"{cfg.labels - schedule.initial} queries after the initial {schedule.initial}")
    return spec, device, n_envs, ppo_kwargs, schedule


def _build(cfg: TrainConfig, run_dir: Path, seed_offset: int) -> _Parts:
    spec, device, n_envs, ppo_kwargs, schedule = prepare(cfg)
    torch.set_num_threads(cfg.torch_threads)
    if spec.kind == "atari":
        venv = make_atari_venv(spec, n_envs, cfg.seed + seed_offset, cfg.sticky_actions, cfg.game_over_penalty)
    else:
        # PPO's episodes may be shorter than the task's, or of drawn lengths (--episode-steps, filled in by
        # prepare, and --min-episode-steps); everything else keeps the task's
        venv = make_vec_env(replace(spec, episode_steps=cfg.episode_steps, min_episode_steps=cfg.min_episode_steps),
                            n_envs, cfg.seed + seed_offset, cfg.true_task)
    obs_dim = int(np.prod(venv.observation_space.shape))
    recorder = ClipRecorder(n_envs, spec.clip_steps, capacity=cfg.clip_capacity)
    store = PreferenceStore(run_dir / "store")
    loop: PreferenceLoop | None = None
    reward_fn = None
    if cfg.reward_from is not None:
        reward_fn = frozen_reward(cfg, int(np.prod(venv.action_space.shape)), run_dir)
    elif cfg.reward == "preferences" and spec.kind == "atari":
        loop = _atari_loop(cfg, device, store, schedule, recorder)
    elif cfg.reward == "preferences":
        act_dim = cfg.reward_act_dim(int(np.prod(venv.action_space.shape)))
        ensemble = RewardEnsemble(obs_dim, act_dim, cfg.ensemble_size, target_std=1.0, device=device, seed=cfg.seed)
        trainer = EnsembleTrainer(ensemble, FitConfig(validation=cfg.validation), np.random.default_rng(cfg.seed + 1))
        loop = _preference_loop(cfg, device, ensemble, trainer, store, schedule, recorder)
    if loop is not None:
        reward_fn = loop.reward
    wrapper = LearnedRewardVecEnv(venv, reward_fn, recorder,
                                  clip_true=spec.kind == "atari", defer=True)
    ppo_env = RolloutRewardNormalize(wrapper, gamma=cfg.ppo_gamma()) if spec.normalize else wrapper
    return _Parts(spec, device, venv, wrapper, ppo_env, store, recorder, loop, ppo_kwargs)


def frozen_reward(cfg: TrainConfig, act_dim: int, run_dir: Path):
    """``cfg.reward_from``'s reward model as PPO's reward function, frozen (with ``cfg.pessimism``'s bound);
    ``act_dim``: the env's action dimensions. The model is copied into ``run_dir`` (``reward_ensemble.pt``) when
    the run starts, and a resumed run reads its copy: when the source goes on learning, this run's r̂ stays."""
    copy = run_dir / "reward_ensemble.pt"
    if copy.is_file():  # a resumed run: its own copy, whatever the source holds now
        ens, _ = load_reward_model(run_dir, cfg)
        which = f"{copy}, copied from {cfg.reward_from} at the start"
    else:  # the source's final model, else its checkpoint's (rebuilt with the source's ensemble size)
        source = load_run_config(Path(cfg.reward_from))
        ens, which = load_reward_model(Path(cfg.reward_from), source, act_dim=source.reward_act_dim(act_dim))
        ens.save(copy)
        which = f"{cfg.reward_from}: {which}"
    print(f"PPO optimizes a frozen reward model ({which})", file=sys.stderr)
    return lambda obs, acts: ens.predict(obs, acts, cfg.pessimism)


def _atari_loop(cfg: TrainConfig, device: torch.device, store: PreferenceStore, schedule: LabelSchedule,
                recorder: ClipRecorder) -> PreferenceLoop:
    """The paper's Atari reward model: CNN ensemble, r̂ std 0.05, fitted on the most recent 3,000 labels."""
    ensemble = CnnRewardEnsemble(cfg.ensemble_size, target_std=0.05, device=device, seed=cfg.seed)
    fit_cfg = FitConfig(normalize_inputs=False, buffer=ATARI_BUFFER, eval_max=300 if device.type == "cpu" else None,
                        validation=cfg.validation)
    trainer = EnsembleTrainer(ensemble, fit_cfg, np.random.default_rng(cfg.seed + 1))
    return _preference_loop(cfg, device, ensemble, trainer, store, schedule, recorder,
                            clip_cache=600, heldout_clips=40, norm_clips=80)


def _preference_loop(cfg: TrainConfig, device: torch.device, ensemble, trainer: EnsembleTrainer,
                     store: PreferenceStore, schedule: LabelSchedule, recorder: ClipRecorder,
                     **loop_settings: Any) -> PreferenceLoop:
    """The loop around a reward ensemble, with the run's labeling and fitting settings (plus the
    task kind's ``loop_settings``)."""
    loop_cfg = LoopConfig(selection=cfg.selection, fit_every=cfg.fit_every, fit_epochs=cfg.fit_epochs,
                          pretrain_epochs=cfg.pretrain_epochs, candidate_clips=cfg.candidate_clips,
                          label_per_steps=cfg.fit_rate, async_fit=cfg.async_fit and device.type == "cpu",
                          labeler=cfg.labeler, oracle_after=cfg.oracle_after, normalize_on=cfg.normalize_on,
                          pessimism=cfg.pessimism, optimism=cfg.optimism,
                          optimism_steps=cfg.optimism_steps or cfg.timesteps, **loop_settings)
    return PreferenceLoop(ensemble, trainer, store, schedule, recorder, loop_cfg, np.random.default_rng(cfg.seed),
                          SimulatedTeacher(cfg.teacher, np.random.default_rng(cfg.seed + 3)))


def _log_loop(logger, loop: PreferenceLoop | None, step: int) -> None:
    if loop is None:
        return
    for key, value in loop.metrics.items():
        if np.isfinite(value):
            logger.record(key, value)
    logger.dump(step=step)


def train(cfg: TrainConfig, run_dir: Path | None = None, force: bool = False) -> Run:
    """Start a new run of ``cfg`` and train it to the end (see ``resume`` to continue one).

    ``run_dir`` names the folder (default: a fresh ``{env}__{exp}__{seed}__{time}``); an existing
    folder is refused unless ``force``, which replaces it.
    """
    spec, device, _, _, schedule = prepare(cfg)
    if note := cpu_cost_note(cfg, device.type, schedule.initial):
        print(note, file=sys.stderr)
    if cfg.reward == "true":
        kind = true_run_name(cfg.true_task)
    else:
        kind = "frozen" if cfg.reward_from is not None else f"pref{cfg.labels}-{cfg.selection}"
    exp = cfg.exp_name or (kind + ("" if cfg.algo == "ppo" else f"-{cfg.algo}"))
    if run_dir is None:
        run_dir = new_run_dir(Path(cfg.runs_dir), spec.name, exp, cfg.seed)
    else:
        claim_run_dir(run_dir, force)
    cfg.save(run_dir / "config.json")
    parts = _build(cfg, run_dir, seed_offset=0)
    parts.store.set_meta("env", spec.name)
    parts.store.set_meta("label_budget", str(cfg.labels))
    logger = configure(str(run_dir / "tb"), ["tensorboard"])
    t_start = time.perf_counter()
    window_proc = _open_window_process(run_dir) if cfg.window else None
    if parts.loop is not None:
        n_clips = max(20, parts.loop.schedule.initial)
        if spec.kind == "atari":
            clips = atari_random_clips(spec, n_clips, cfg.seed + 2, cfg.sticky_actions, cfg.game_over_penalty)
        else:
            clips = random_policy_clips(spec, n_clips, cfg.seed + 2, cfg.random_episode_steps)
        if cfg.labeler != "oracle":
            print(f"label clip pairs with: prefrl label {run_dir}", file=sys.stderr)
        parts.loop.pretrain(clips)
        _log_loop(logger, parts.loop, 0)
    model = make_ppo(parts.ppo_env, parts.ppo_kwargs, cfg.seed, str(parts.device), cfg.algo)
    return _learn(cfg, run_dir, parts, model, logger, t_start, window_proc, exp)


def resume(run_dir: Path, overrides: dict[str, Any] | None = None) -> Run:
    """Continue ``run_dir`` from its last checkpoint to the same steps and labels.

    ``overrides`` may change only settings that do not change the experiment (device, progress
    bar, checkpoint interval, threads, window); anything else is refused.
    """
    cfg = load_run_config(run_dir)
    for key, value in (overrides or {}).items():
        if getattr(cfg, key) != value:
            if key not in RESUMABLE_CHANGES:
                raise ValueError(f"--{key.replace('_', '-')} differs from the run's config "
                                 f"({getattr(cfg, key)!r} there, {value!r} asked); a resumed run keeps its settings")
            setattr(cfg, key, value)
    if (run_dir / "result.json").exists():
        raise ValueError(f"{run_dir}: this run has finished (result.json); evaluate it with `prefrl eval`")
    ckpt = checkpoint_dir(run_dir)
    if ckpt is None:
        raise ValueError(f"{run_dir}: no checkpoint to resume from (it was stopped before the first one)")
    state = load_state(ckpt)
    steps = int(state["num_timesteps"])
    parts = _build(cfg, run_dir, seed_offset=steps)
    if parts.loop is not None:
        parts.loop.restore(state["loop"])
    parts.recorder.restore(state["recorder"])
    if isinstance(parts.ppo_env, VecNormalize):
        parts.ppo_env = load_normalization(ckpt, parts.wrapper)
    model = load_model(ckpt, parts.ppo_env, str(parts.device), cfg.algo)
    model.num_timesteps = steps
    torch.set_rng_state(state["torch_rng"])  # after PPO.load, which reseeds torch
    logger = configure(str(run_dir / "tb"), ["tensorboard"])
    exp = run_dir.name.split("__")[1] if run_dir.name.count("__") >= 3 else run_dir.name
    print(f"resuming {run_dir} at step {steps:,}", file=sys.stderr)
    window_proc = _open_window_process(run_dir) if cfg.window else None
    return _learn(cfg, run_dir, parts, model, logger, time.perf_counter(), window_proc, exp,
                  previous_seconds=float(state.get("learn_seconds", 0.0)))


def _learn(cfg: TrainConfig, run_dir: Path, parts: _Parts, model, logger, t_start: float,
           window_proc: subprocess.Popen | None, exp: str, previous_seconds: float = 0.0) -> Run:
    """Train to ``cfg.timesteps`` with checkpoints (and one on Ctrl-C), then evaluate and write results."""
    loop, store, spec = parts.loop, parts.store, parts.spec
    model.set_logger(logger)
    start_steps = model.num_timesteps
    bar = tqdm(total=cfg.timesteps, initial=start_steps, unit="step", disable=not cfg.progress,
               dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=f"{spec.name} {exp}")
    norm = parts.ppo_env if isinstance(parts.ppo_env, VecNormalize) else None

    def checkpoint(steps: int, learn_seconds: float) -> None:
        state = {"num_timesteps": steps, "learn_seconds": learn_seconds,
                 "loop": loop.state() if loop is not None else None,
                 "recorder": parts.recorder.state(cfg.candidate_clips)}
        saved_steps = model.num_timesteps
        model.num_timesteps = steps
        save_checkpoint(run_dir, model, norm, state)
        model.num_timesteps = saved_steps

    writer = writer_of(logger)
    if start_steps == 0 and writer is not None:
        writer.add_custom_scalars(LAYOUT)
        writer.add_text("config", config_table(asdict(cfg)), 0)
        logger.record("hparams", HParam(_hparams(cfg), {"eval/true_return_mean": 0.0, "charts/ep_true_return": 0.0}))
        logger.dump(0)
    if writer is None:
        media = None
    elif spec.kind == "atari":
        media = AtariMediaLogger(writer, spec, cfg.media_every, loop, cfg.sticky_actions, cfg.game_over_penalty)
    else:
        media = MediaLogger(writer, spec, cfg.media_every, loop)
    if media is not None:
        media.next_step = start_steps + cfg.media_every
    callback = PreferenceCallback(parts.wrapper, loop, bar, max_behind=cfg.max_behind,
                                  checkpoint_every=cfg.checkpoint_every, checkpoint=checkpoint,
                                  previous_seconds=previous_seconds, media=media,
                                  alarm=HackingAlarm(cfg.alarm_window), writer=writer,
                                  heartbeat=lambda steps, at, rate: write_progress(run_dir, steps, cfg.timesteps,
                                                                                   rate, at))
    t_learn = time.perf_counter()
    with stop_on_signals() as stop:
        callback.stop_flag = stop
        model.learn(total_timesteps=cfg.timesteps - start_steps, callback=callback, reset_num_timesteps=False)
    learn_seconds = previous_seconds + time.perf_counter() - t_learn
    # Ctrl-C / SIGTERM: keep what was trained, never a partial rollout
    if stop.is_set() and model.num_timesteps < cfg.timesteps:
        checkpoint(callback.rollout_start_steps, learn_seconds)
        write_progress(run_dir, callback.rollout_start_steps, cfg.timesteps, 0.0, callback.rollout_start_steps)
        bar.close()
        logger.close()
        store.close()
        if window_proc is not None:
            window_proc.terminate()
        raise Interrupted(f"stopped at step {callback.rollout_start_steps:,}; checkpoint saved. "
                          f"Continue with: prefrl train --resume {run_dir}")
    callback.finish()
    bar.close()
    if spec.kind == "atari":
        ev = evaluate_atari(model, spec, cfg.eval_episodes, cfg.seed + 1000, cfg.sticky_actions, cfg.game_over_penalty)
    else:
        ev = evaluate(model, norm, spec, cfg.eval_episodes, seed=cfg.seed + 1000)
    if "true_return_mean" in ev:
        logger.record("eval/true_return_mean", ev["true_return_mean"])
        logger.record("eval/oracle_return_mean", ev["oracle_return_mean"])
    _log_loop(logger, loop, model.num_timesteps)
    logger.dump(model.num_timesteps)
    logger.close()
    model.save(run_dir / "model.zip")
    if norm is not None:
        norm.save(str(run_dir / "vecnormalize.pkl"))
    if loop is not None:
        loop.ens.save(run_dir / "reward_ensemble.pt")

    counts = store.counts()
    wrapper = parts.wrapper
    result: dict[str, Any] = {
        "env": spec.name, "reward": cfg.reward, "true_task": cfg.true_task, "algo": cfg.algo, "seed": cfg.seed,
        "selection": cfg.selection,
        "timesteps": int(model.num_timesteps), "label_budget": cfg.labels if loop else 0,
        "labels_answered": counts["answered"], "labels_dropped": counts["dropped"],
        "labels_by_source": dict(loop.source_counts) if loop else {},
        "human_oracle_agreement": (loop.human_oracle_agreement() if loop and loop.source_counts.get("human")
                                   else None),
        **ev,
        "reward_from": cfg.reward_from,
        "learned_return_mean": (float(np.mean(wrapper.learned_returns)) if wrapper.reward_fn is not None
                                and wrapper.learned_returns else None),
        "reward_val_acc": loop.metrics.get("reward/val_acc") if loop else None,
        "reward_heldout_corr": loop.metrics.get("reward/heldout_corr") if loop else None,
        "learn_seconds": learn_seconds, "steps_per_sec": model.num_timesteps / learn_seconds,
        "fit_seconds": loop.fit_seconds if loop else 0.0,
        "wall_seconds": time.perf_counter() - t_start, "resumed": start_steps > 0,
        "reward_hacking_alarm": callback.alarm_raised,
        "device": str(parts.device), "machine": f"{platform.node()} ({platform.machine()}, {_cpu_count()} cpus)",
        "date": time.strftime("%Y-%m-%d"), "finished": time.time(), "code": code_version(),
    }
    (run_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    store.close()
    parts.venv.close()
    if window_proc is not None:
        window_proc.terminate()  # its claims expire; every answer it gave is in the store
    return Run(run_dir, result)


class Interrupted(Exception):
    """Training was stopped by a signal after saving a checkpoint."""


@contextlib.contextmanager
def stop_on_signals():
    """Turn SIGINT/SIGTERM into a flag the training callback checks (a clean stop, not a traceback)."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: flag.set())
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _hparams(cfg: TrainConfig) -> dict[str, Any]:
    """The settings shown in TensorBoard's HParams tab (scalars only)."""
    keys = ("env", "reward", "algo", "labels", "timesteps", "seed", "selection", "labeler", "teacher", "ensemble_size",
            "clip_seconds", "fit_every")
    return {k: getattr(cfg, k) for k in keys}


def _open_window_process(run_dir: Path) -> subprocess.Popen:
    """Start `prefrl label <run>` as a separate process (the window never slows training)."""
    return subprocess.Popen([sys.executable, "-m", "agents.cli", "label", str(run_dir)])


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
