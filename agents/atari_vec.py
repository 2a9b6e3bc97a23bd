"""SB3's VecEnv API over ale-py's native vector env: the Atari games as PPO sees them.

Observations are the masked frame stacks [n, 4, 84, 84] uint8, channel-first, which SB3's
CnnPolicy takes as they are (``is_image_space_channels_first``: no VecTransposeImage). The env
reward is 0 (hidden) and ``dones`` are always False: a lost life or a game over never reaches
PPO. PPO's rollout buffer therefore bootstraps GAE straight through a game boundary, as the
paper's agent sees one continuous stream; the emulator resets underneath in the same step.

``info`` per env and step: ``true_reward`` (score + game-over penalty: the oracle's reward),
``score`` (the step's game score), ``hud`` (unmasked HUD rows of the frame the agent acted on,
for showing a person the original); at a game over also ``game_score`` (that game's total score),
which ``LearnedRewardVecEnv`` turns into ``info["episode"]`` so ``rollout/ep_rew_mean`` and
``charts/ep_true_return`` are game scores.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from envs.atari import GAMES, AtariStream
from envs.registry import TaskSpec


class AtariVecEnv(VecEnv):
    """``AtariStream`` as an SB3 ``VecEnv`` with no done signal.

    Example:
        >>> venv = AtariVecEnv(AtariStream(GAMES["Pong"], n_envs=8, seed=0))
        >>> PPO("CnnPolicy", venv)
    """

    def __init__(self, stream: AtariStream):
        self.stream = stream
        super().__init__(stream.n_envs, spaces.Box(0, 255, (4, 84, 84), np.uint8), spaces.Discrete(stream.n_actions))
        self._actions: np.ndarray | None = None
        self._seed: int | None = None

    def reset(self) -> np.ndarray:
        obs = self.stream.reset(self._seed)
        self._seed = None
        return obs

    def seed(self, seed: int | None = None) -> Sequence[None | int]:
        self._seed = seed
        return [seed] * self.num_envs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        s = self.stream.step(self._actions)
        infos: list[dict[str, Any]] = []
        for i in range(self.num_envs):
            info: dict[str, Any] = {"true_reward": float(s.true_reward[i]), "score": float(s.score[i]),
                                    "hud": s.hud[i]}
            if s.game_over[i]:
                info["game_score"] = float(s.game_score[i])
            infos.append(info)
        return s.obs, np.zeros(self.num_envs, np.float32), np.zeros(self.num_envs, bool), infos

    def close(self) -> None:
        self.stream.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        value = None if attr_name == "render_mode" else getattr(self.stream, attr_name)
        return [value] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.stream, attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list[Any]:
        raise AttributeError(f"AtariVecEnv has no per-env method {method_name!r}")

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)


def make_atari_venv(spec: TaskSpec, n_envs: int, seed: int, sticky: float = 0.0,
                    penalty: float | None = None) -> AtariVecEnv:
    """The task's game as PPO's env (``penalty`` None: the game's default game-over penalty)."""
    return AtariVecEnv(AtariStream(GAMES[spec.name], n_envs, seed, sticky, penalty))
