"""Clips of agent behaviour and the bounded buffer that cuts them from the step stream."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass
class Clip:
    """A short segment of one env's behaviour.

    Attributes:
        obs: observations the agent saw, [T, *obs_shape] (float32; Atari frames stay uint8).
        acts: actions taken, [T, act_dim].
        true_rewards: hidden true reward per step, [T] (only the oracle may read it).
        states: physics state per step for later rendering, [T, state_dim] (Atari: the unmasked HUD
            rows, [T, R, 84] uint8, shown only when a person asks for the original), or None.
        env_step: global env step at which the clip ended.
        store_id: id in the preference store once the clip has been stored, else None.
    """

    obs: np.ndarray
    acts: np.ndarray
    true_rewards: np.ndarray
    states: np.ndarray | None
    env_step: int
    store_id: int | None = None

    def __len__(self) -> int:
        return len(self.true_rewards)

    @property
    def true_return(self) -> float:
        return float(np.sum(self.true_rewards))


class ClipRecorder:
    """Cut fixed-length clips from a vectorized step stream; keep the most recent ``capacity``.

    Clips never cross an episode boundary. ``add`` costs a few array copies per step.
    """

    def __init__(self, n_envs: int, clip_steps: int, capacity: int = 2000):
        if clip_steps < 1 or capacity < 1:
            raise ValueError("clip_steps and capacity must be positive")
        self.n_envs = n_envs
        self.clip_steps = clip_steps
        self.clips: deque[Clip] = deque(maxlen=capacity)
        self._pending: list[list[tuple[np.ndarray, np.ndarray, float, np.ndarray | None]]] = [
            [] for _ in range(n_envs)
        ]
        self.total_clips = 0
        self.env_steps = 0

    def add(self, obs: np.ndarray, acts: np.ndarray, true_rewards: np.ndarray,
            states: list[np.ndarray | None] | None, dones: np.ndarray) -> None:
        """Record one vectorized step: obs [n_envs, ...] seen before acts [n_envs, ...]."""
        self.env_steps += self.n_envs
        for i in range(self.n_envs):
            seg = self._pending[i]
            seg.append((obs[i].copy(), np.asarray(acts[i]).copy(), float(true_rewards[i]),
                        None if states is None else states[i]))
            if len(seg) == self.clip_steps:
                self._emit(seg)
                self._pending[i] = []
            elif dones[i]:
                self._pending[i] = []

    def _emit(self, seg: list) -> None:
        states = None if seg[0][3] is None else np.stack([s[3] for s in seg])
        self.clips.append(Clip(
            obs=_obs_array(np.stack([s[0] for s in seg])),
            acts=np.stack([s[1] for s in seg]).astype(np.float32),
            true_rewards=np.array([s[2] for s in seg], dtype=np.float32),
            states=states,
            env_step=self.env_steps,
        ))
        self.total_clips += 1

    def recent(self, n: int) -> list[Clip]:
        """The ``n`` most recent clips (fewer if fewer exist)."""
        return list(self.clips)[-n:] if n > 0 else []

    def state(self, n: int) -> dict:
        """The ``n`` most recent clips and the counters (partial segments are not kept)."""
        return {"clips": self.recent(n), "total_clips": self.total_clips, "env_steps": self.env_steps}

    def restore(self, state: dict) -> None:
        self.clips.extend(state["clips"])
        self.total_clips, self.env_steps = state["total_clips"], state["env_steps"]


def _obs_array(obs: np.ndarray) -> np.ndarray:
    """Clip observations as stored: frames stay uint8 (4x smaller), anything else float32."""
    return obs if obs.dtype == np.uint8 else obs.astype(np.float32)
