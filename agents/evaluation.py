"""Evaluate a trained policy on the true reward."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecNormalize

from envs.mujoco import make_mujoco_env, make_standard_env
from envs.registry import TaskSpec


Actor = Callable[[np.ndarray], np.ndarray]


def deterministic_actor(model: OnPolicyAlgorithm, norm: VecNormalize | None) -> Actor:
    """The policy's deterministic action for one observation [obs_dim] -> [act_dim] (SB3 clips it to
    the action space)."""
    def act(obs: np.ndarray) -> np.ndarray:
        x = norm.normalize_obs(obs[None]) if norm is not None else obs[None]
        return model.predict(x, deterministic=True)[0][0]
    return act


@dataclass
class Episode:
    """One episode: observations [T, obs_dim], actions [T, act_dim] (step t acts on obs t), the env's
    rewards [T] and the step infos."""

    obs: np.ndarray
    acts: np.ndarray
    rewards: np.ndarray
    infos: list[dict[str, Any]]

    def info(self, key: str, default: Any = None) -> np.ndarray:
        """``info[key]`` per step [T]."""
        return np.array([i.get(key, default) for i in self.infos])


def rollout(env, act: Actor, seed: int) -> Episode:
    """Run ``act`` for one episode of ``env`` from ``reset(seed=seed)``."""
    obs, _ = env.reset(seed=seed)
    obs_l, act_l, rewards, infos, done = [], [], [], [], False
    while not done:
        action = act(obs)
        obs_l.append(obs)
        act_l.append(action)
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(float(reward))
        infos.append(info)
        done = terminated or truncated
    return Episode(np.array(obs_l), np.array(act_l), np.array(rewards), infos)


def _episode(env, model: OnPolicyAlgorithm, norm: VecNormalize | None, seed: int,
             key: str | None) -> tuple[float, np.ndarray]:
    """One deterministic episode: its return and the per-step ``info["unhealthy"]`` flags [T] (all
    False where the env has none)."""
    ep = rollout(env, deterministic_actor(model, norm), seed)
    rewards = ep.info(key).astype(float) if key else ep.rewards
    return float(np.sum(rewards)), ep.info("unhealthy", False).astype(bool)


def evaluate(model: OnPolicyAlgorithm, norm: VecNormalize | None, spec: TaskSpec, episodes: int,
             seed: int) -> dict[str, Any]:
    """Deterministic-policy returns over ``episodes`` episodes.

    ``true_return_*``: the unmodified gymnasium task's episodic return (early termination and
    control cost included), comparable to published numbers such as rl-zoo's.
    ``oracle_return_*``: the return the oracle judges (fixed-length episodes, no control cost,
    penalty in unhealthy states); ``oracle_unhealthy_fraction`` and ``oracle_first_unhealthy_step``
    (mean over episodes; the episode length where a policy never leaves the healthy range) say how
    the policy earns it, e.g. whether a low gym-task return comes from a fall or from brief
    excursions out of the healthy range that gymnasium ends the episode for. With a restart after
    a fall (the pendulums) the unhealthy steps are the charged down steps, which begin one step after
    the fall itself.
    """
    if episodes == 0:
        return {"eval_episodes": 0}
    out: dict[str, Any] = {"eval_episodes": episodes}
    runs: dict[str, list[tuple[float, np.ndarray]]] = {}
    for name, env, key in (("true_return", make_standard_env(spec), None),
                           ("oracle_return", make_mujoco_env(spec), "true_reward")):
        runs[name] = [_episode(env, model, norm, seed + i, key) for i in range(episodes)]
        env.close()
        returns = [r for r, _ in runs[name]]
        out[f"{name}_mean"] = float(np.mean(returns))
        out[f"{name}_std"] = float(np.std(returns))
    flags = [u for _, u in runs["oracle_return"]]  # the oracle's fixed-length episodes
    out["oracle_unhealthy_fraction"] = float(np.mean([u.mean() for u in flags]))
    out["oracle_first_unhealthy_step"] = float(np.mean([np.argmax(u) if u.any() else len(u) for u in flags]))
    return out


def load_policy(run_dir: Path) -> tuple[OnPolicyAlgorithm, VecNormalize | None, Path]:
    """A run's saved policy (final model, else its last checkpoint), its observation normalizer (None
    where the run has none) and the policy file's path."""
    from agents.checkpoint import CheckpointError, checkpoint_dir
    from agents.config import load_run_config
    from agents.ppo_factory import algo_class

    algo = load_run_config(run_dir).algo
    folder = run_dir if (run_dir / "model.zip").is_file() else checkpoint_dir(run_dir)
    if folder is None:
        raise ValueError(f"{run_dir}: no trained policy yet (no model.zip and no checkpoint)")
    model_path = folder / ("model.zip" if folder == run_dir else "ppo.zip")
    try:
        model = algo_class(algo).load(model_path, device="cpu")
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{model_path}: unreadable policy ({type(exc).__name__}: {exc})") from None
    norm = None
    norm_path = folder / "vecnormalize.pkl"
    if norm_path.is_file():
        with open(norm_path, "rb") as f:
            norm = pickle.load(f)
        norm.training = False
    return model, norm, model_path


def evaluate_run(run_dir: Path, episodes: int, seed: int) -> dict[str, Any]:
    """Evaluate a run's saved policy (final model, else its last checkpoint); write eval.json."""
    from agents.config import load_run_config

    cfg = load_run_config(run_dir)
    spec = cfg.task()
    model, norm, model_path = load_policy(run_dir)
    if spec.kind == "atari":
        from agents.atari_run import evaluate_atari
        out = {"run": str(run_dir), "policy": str(model_path),
               **evaluate_atari(model, spec, episodes, seed, cfg.sticky_actions, cfg.game_over_penalty)}
    else:
        out = {"run": str(run_dir), "policy": str(model_path),
               **evaluate(model, norm, spec, episodes, seed)}
    (run_dir / "eval.json").write_text(json.dumps(out, indent=2) + "\n")
    return out
