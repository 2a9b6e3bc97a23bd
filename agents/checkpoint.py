"""Checkpoints: everything a run needs to continue, written atomically.

A checkpoint is the folder ``<run>/checkpoint/`` holding ``ppo.zip`` (SB3, PPO or TRPO: policy, optimizer,
step counters), ``vecnormalize.pkl`` and ``state.pt`` (reward ensemble, its optimizers and
data-set bookkeeping, the label loop, the recent clips, random states). It is written into
``checkpoint.tmp/`` and swapped in by renames, so a crash at any moment leaves either the
previous checkpoint or the new one, never a mix. Labels are not in it: the store has them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from agents.ppo_factory import algo_class
from agents.reward_wrapper import RolloutRewardNormalize

CKPT, TMP, OLD = "checkpoint", "checkpoint.tmp", "checkpoint.old"


class CheckpointError(ValueError):
    """A checkpoint that is missing or unreadable (the message names the file)."""


def save_checkpoint(run_dir: Path, model: OnPolicyAlgorithm, norm: VecNormalize | None, state: dict[str, Any]) -> Path:
    """Write a checkpoint of ``model`` (and ``norm``) plus ``state``; return its folder."""
    tmp, final, old = run_dir / TMP, run_dir / CKPT, run_dir / OLD
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save(tmp / "ppo.zip")
    if norm is not None:
        norm.save(str(tmp / "vecnormalize.pkl"))
    state = {**state, "torch_rng": torch.get_rng_state()}
    torch.save(state, tmp / "state.pt")
    for f in tmp.iterdir():  # make the bytes durable before the renames publish them
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():  # keep the previous checkpoint as `old` until the new one is published
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    tmp.rename(final)
    _fsync_dir(run_dir)
    shutil.rmtree(old, ignore_errors=True)
    return final


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoint_dir(run_dir: Path) -> Path | None:
    """The newest complete checkpoint folder, or None if the run has none."""
    for name in (CKPT, OLD):
        if (run_dir / name / "state.pt").is_file():
            return run_dir / name
    return None


def load_state(ckpt: Path) -> dict[str, Any]:
    path = ckpt / "state.pt"
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a corrupt file
        raise CheckpointError(f"{path}: corrupt checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or "num_timesteps" not in state:
        raise CheckpointError(f"{path}: not a prefrl checkpoint")
    return state


def load_model(ckpt: Path, env: VecEnv, device: str, algo: str = "ppo") -> OnPolicyAlgorithm:
    """The checkpoint's policy and optimizer (``ppo.zip``, whichever ``algo`` wrote it) on ``env``."""
    path = ckpt / "ppo.zip"
    try:
        return algo_class(algo).load(path, env=env, device=device)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{path}: corrupt {algo.upper()} checkpoint ({type(exc).__name__}: {exc})") from None


def load_normalization(ckpt: Path, venv: VecEnv) -> RolloutRewardNormalize:
    path = ckpt / "vecnormalize.pkl"
    try:
        norm = VecNormalize.load(str(path), venv)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{path}: corrupt normalization statistics ({type(exc).__name__}: {exc})") from None
    if not isinstance(norm, RolloutRewardNormalize):  # saved before rewards were deferred: same state
        norm.__class__ = RolloutRewardNormalize
    norm.training = True
    return norm


def load_reward_model(run_dir: Path, cfg, act_dim: int = 0):
    """Run ``run_dir``'s reward model (its final one, else its last checkpoint's) and which one it is; ``cfg``
    is the run's ``TrainConfig``, ``act_dim`` the action dimensions r̂ takes in (read from a checkpoint only)."""
    from preference.cnn_reward import CnnRewardEnsemble
    from preference.reward_model import RewardEnsemble

    atari = cfg.task().kind == "atari"
    if (run_dir / "reward_ensemble.pt").is_file():
        cls = CnnRewardEnsemble if atari else RewardEnsemble
        return cls.load(run_dir / "reward_ensemble.pt"), "final"
    ckpt = checkpoint_dir(run_dir)
    if ckpt is None:
        raise ValueError(f"{run_dir}: no reward model yet (no reward_ensemble.pt and no checkpoint)")
    state = load_state(ckpt)
    if state.get("loop") is None:
        raise ValueError(f"{run_dir}: a true-reward run has no reward model")
    weights = state["loop"]["ensemble"]
    if atari:
        ens = CnnRewardEnsemble(cfg.ensemble_size)  # r̂'s scale is in the weights
    else:
        in_dim = weights["in_mean"].shape[0]
        ens = RewardEnsemble(in_dim - act_dim, act_dim, cfg.ensemble_size)
    ens.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
    ens.refresh()
    return ens, f"checkpoint at step {state['num_timesteps']:,}"
