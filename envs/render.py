"""Render MuJoCo clips from recorded physics states (offscreen EGL), only when a person will watch."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np

from envs.registry import TaskSpec


class MujocoClipRenderer:
    """Re-render a clip's frames from its physics states [T, nq + nv] -> frames [T, H, W, 3] uint8.

    Shadows and reflections are off (about 5x faster on the software EGL renderer). Create and use
    a renderer in one thread: an EGL context belongs to the thread that made it.

    Example:
        >>> frames = MujocoClipRenderer(get_task("Hopper")).render(clip.states)
    """

    def __init__(self, spec: TaskSpec, width: int = 200, height: int = 200):
        self.env = gym.make(spec.gym_id, render_mode="rgb_array", width=width, height=height,
                            disable_env_checker=True, **spec.env_kwargs)
        self.env.reset(seed=0)
        self.env.render()  # creates the viewer
        viewer = self.env.unwrapped.mujoco_renderer._get_viewer("rgb_array")
        viewer.scn.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        viewer.scn.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        self.nq = self.env.unwrapped.model.nq

    def render(self, states: np.ndarray) -> np.ndarray:
        u = self.env.unwrapped
        frames = []
        for s in np.asarray(states, dtype=np.float64):
            u.set_state(s[: self.nq], s[self.nq:])
            frames.append(self.env.render())
        return np.stack(frames).astype(np.uint8)

    def close(self) -> None:
        self.env.close()
