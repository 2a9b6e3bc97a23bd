"""A VecEnv wrapper that gives PPO the learned reward r̂ (or, as a baseline, the true reward)."""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

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

    Example:
        >>> venv = LearnedRewardVecEnv(DummyVecEnv([make]), ensemble.predict, recorder)
    """

    def __init__(self, venv: VecEnv, reward_fn: RewardFn | None, recorder: ClipRecorder | None = None,
                 clip_true: bool = False):
        super().__init__(venv)
        self.reward_fn = reward_fn
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
        if self.reward_fn is None:
            rewards = (np.sign(true_r) if self.clip_true else true_r).astype(np.float32)
        else:
            rewards = np.asarray(self.reward_fn(self._obs, acts), dtype=np.float32)
        self.recent_rewards.append(rewards)
        if self.recorder is not None:
            states = [info.get("physics_state", info.get("hud")) for info in infos]  # Atari: HUD rows
            self.recorder.add(self._obs, acts, true_r, None if states[0] is None else states, dones)
        self._true_ret += true_r
        self._learned_ret += rewards
        self._len += 1
        ends = np.array([d or "game_score" in info for d, info in zip(dones, infos)], dtype=bool)
        for i in np.flatnonzero(ends):
            ret = infos[i].get("game_score", self._true_ret[i])
            infos[i]["episode"] = {"r": float(ret), "l": int(self._len[i]),
                                   "t": round(time.time() - self._t0, 6)}
            infos[i]["learned_return"] = float(self._learned_ret[i])
            self.episodes += 1
            self.true_returns.append(float(ret))
            self.learned_returns.append(float(self._learned_ret[i]))
            self._true_ret[i] = self._learned_ret[i] = 0.0
            self._len[i] = 0
        self._obs = obs
        return obs, rewards, dones, infos
