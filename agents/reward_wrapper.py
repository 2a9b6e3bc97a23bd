"""A VecEnv wrapper that gives PPO the learned reward r̂ (or, as a baseline, the true reward)."""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

from preference.clips import ClipRecorder

RewardFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class LearnedRewardVecEnv(VecEnvWrapper):
    """Replace the (hidden, zero) env reward with ``reward_fn(obs, actions)``, batched over envs.

    With ``reward_fn=None`` PPO gets ``info["true_reward"]`` instead: the true-reward baseline
    in the same harness. Either way the true reward stays in ``info``, every step goes to the
    optional clip ``recorder``, and episode ends carry ``info["episode"]`` with the *true*
    return (so SB3 logs ``rollout/ep_rew_mean`` as the true return) and
    ``info["learned_return"]`` with the sum of r̂. An env that never signals done (Atari: one
    continuous stream) marks a finished game with ``info["game_score"]`` instead: the episode is
    logged there, with the game score as its return, while PPO still sees no done.
    ``clip_true`` gives PPO sign(true reward) in the baseline (the standard Atari setup).

    With ``defer`` (and a ``reward_fn``) r̂ is not computed step by step: PPO gets a placeholder 0
    for every step, and ``settle_rewards`` computes the whole rollout's r̂ in one batch at its end
    (``settle_rollout`` writes it into PPO's buffer). One batched call costs a fraction of a
    call per step, and a rollout is scored by one r̂ even when an asynchronous fit ends during it.

    Example:
        >>> venv = LearnedRewardVecEnv(DummyVecEnv([make]), ensemble.predict, recorder)
    """

    def __init__(self, venv: VecEnv, reward_fn: RewardFn | None, recorder: ClipRecorder | None = None,
                 clip_true: bool = False, defer: bool = False):
        super().__init__(venv)
        self.reward_fn = reward_fn
        self.defer = defer and reward_fn is not None
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (obs, acts, ends) per step
        self.clip_true = clip_true
        self.recorder = recorder
        self._obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self._true_ret = np.zeros(self.num_envs)
        self._learned_ret = np.zeros(self.num_envs)
        self._len = np.zeros(self.num_envs, dtype=np.int64)
        self._t0 = time.time()
        self.learned_returns: deque[float] = deque(maxlen=100)
        self.true_returns: deque[float] = deque(maxlen=100)
        self.recent_rewards: deque[np.ndarray] = deque(maxlen=2000)
        self.episodes = 0

    def reset(self) -> np.ndarray:
        self._obs = self.venv.reset()
        self._true_ret[:] = 0.0
        self._learned_ret[:] = 0.0
        self._len[:] = 0
        return self._obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, _hidden, dones, infos = self.venv.step_wait()
        true_r = np.array([info["true_reward"] for info in infos], dtype=np.float64)
        acts = self._actions.reshape(self.num_envs, -1)
        ends = np.array([d or "game_score" in info for d, info in zip(dones, infos)], dtype=bool)
        if self.reward_fn is None:
            rewards = (np.sign(true_r) if self.clip_true else true_r).astype(np.float32)
        elif self.defer:
            rewards = np.zeros(self.num_envs, dtype=np.float32)
            self._pending.append((np.array(self._obs, copy=True), acts.copy(), ends))
        else:
            rewards = np.asarray(self.reward_fn(self._obs, acts), dtype=np.float32)
        if not self.defer:
            self.recent_rewards.append(rewards)
        if self.recorder is not None:
            states = [info.get("physics_state", info.get("hud")) for info in infos]  # Atari: HUD rows
            self.recorder.add(self._obs, acts, true_r, None if states[0] is None else states, dones)
        self._true_ret += true_r
        self._learned_ret += rewards
        self._len += 1
        for i in np.flatnonzero(ends):
            ret = infos[i].get("game_score", self._true_ret[i])
            infos[i]["episode"] = {"r": float(ret), "l": int(self._len[i]),
                                   "t": round(time.time() - self._t0, 6)}
            self.episodes += 1
            self.true_returns.append(float(ret))
            if not self.defer:
                infos[i]["learned_return"] = float(self._learned_ret[i])
                self.learned_returns.append(float(self._learned_ret[i]))
                self._learned_ret[i] = 0.0
            self._true_ret[i] = 0.0
            self._len[i] = 0
        self._obs = obs
        return obs, rewards, dones, infos

    def begin_rollout(self) -> None:
        """Forget deferred steps of a rollout that was cut short (its buffer is discarded)."""
        self._pending.clear()

    def settle_rewards(self, chunk: int = 512) -> tuple[np.ndarray, np.ndarray] | None:
        """r̂ of every step deferred since the last call, in batches of ``chunk`` steps.

        Returns (r̂ [T, n_envs] float32, episode ends [T, n_envs] bool), or None when nothing
        was deferred. Episodes that ended meanwhile get their learned return in ``learned_returns``
        (in the order they ended, like ``true_returns``).
        """
        if not self._pending:
            return None
        obs = np.stack([p[0] for p in self._pending])  # [T, n, *obs]
        acts = np.stack([p[1] for p in self._pending])  # [T, n, act]
        ends = np.stack([p[2] for p in self._pending])  # [T, n]
        self._pending.clear()
        steps, n = ends.shape
        flat_obs, flat_acts = obs.reshape(steps * n, *obs.shape[2:]), acts.reshape(steps * n, -1)
        r = np.concatenate([np.asarray(self.reward_fn(flat_obs[i:i + chunk], flat_acts[i:i + chunk]), np.float32)
                            for i in range(0, steps * n, chunk)]).reshape(steps, n)
        self.recent_rewards.extend(r)
        csum = np.cumsum(r, axis=0, dtype=np.float64)
        base = np.zeros(n)  # the running sum at each env's last episode end in this rollout
        for t, i in np.argwhere(ends):
            self.learned_returns.append(float(self._learned_ret[i] + csum[t, i] - base[i]))
            self._learned_ret[i], base[i] = 0.0, csum[t, i]
        self._learned_ret += csum[-1] - base
        return r, ends


class RolloutRewardNormalize(VecNormalize):
    """VecNormalize that scales rewards once a rollout is over when the env under it defers r̂.

    PPO's per-step rewards are then placeholders that pass through untouched, and
    ``normalize_rollout`` replays the rollout's real rewards through exactly VecNormalize's
    per-step arithmetic (discounted return, running variance, division, clipping).
    """

    @property
    def defer_rewards(self) -> bool:
        """Whether the env underneath is a ``LearnedRewardVecEnv`` that defers r̂ (read, not stored, so
        a loaded checkpoint or an evaluation env can never disagree with the env it wraps)."""
        return bool(getattr(self.venv, "defer", False))

    def _update_reward(self, reward: np.ndarray) -> None:
        if not self.defer_rewards:
            super()._update_reward(reward)

    def normalize_reward(self, reward: np.ndarray) -> np.ndarray:
        return reward if self.defer_rewards else super().normalize_reward(reward)

    def normalize_rollout(self, rewards: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Scaled rewards [T, n_envs] of raw rewards [T, n_envs], with episode ends [T, n_envs]."""
        returns = getattr(self, "deferred_returns", None)
        if returns is None or returns.shape != (self.num_envs,):
            returns = np.zeros(self.num_envs)
        out = np.empty(rewards.shape, dtype=np.float32)
        for t in range(len(rewards)):
            returns = returns * self.gamma + rewards[t]
            if self.training:
                self.ret_rms.update(returns)
            out[t] = super().normalize_reward(rewards[t])
            returns[ends[t]] = 0.0
        self.deferred_returns = returns
        return out


def settle_rollout(model, wrapper: LearnedRewardVecEnv, last_values, last_dones: np.ndarray) -> None:
    """Write the deferred r̂ of the rollout just collected into ``model``'s rollout buffer (scaled
    as VecNormalize would have, if the model's env has one) and recompute returns and advantages.

    The buffer already holds the placeholders (0) plus SB3's bootstrap of truncated episodes.
    """
    settled = wrapper.settle_rewards()
    if settled is None:
        return
    r, ends = settled
    norm = model.get_vec_normalize_env()
    if isinstance(norm, RolloutRewardNormalize) and norm.defer_rewards:
        r = norm.normalize_rollout(r, ends)
    buffer = model.rollout_buffer
    if buffer.rewards.shape != r.shape:
        raise RuntimeError(f"deferred rewards {r.shape} do not match the rollout buffer {buffer.rewards.shape}")
    buffer.rewards += r
    buffer.compute_returns_and_advantage(last_values=last_values, dones=last_dones)
