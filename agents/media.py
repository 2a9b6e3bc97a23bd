"""Periodic pictures for TensorBoard: queried clip pairs, the predicted-vs-true scatter, agent episodes."""

from __future__ import annotations

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize
from torch.utils.tensorboard import SummaryWriter

from agents.tb import add_gif, annotate, scatter_figure
from envs.mujoco import make_mujoco_env
from envs.registry import TaskSpec
from preference.clips import Clip
from preference.loop import PreferenceLoop

SIZE = 96
MAX_FPS = 20.0


class MediaLogger:
    """Renders (offscreen, small, subsampled) only when it logs, every ``every`` env steps."""

    def __init__(self, writer: SummaryWriter, spec: TaskSpec, every: int, loop: PreferenceLoop | None):
        self.writer, self.spec, self.every, self.loop = writer, spec, every, loop
        self.stride = max(1, int(np.ceil((1.0 / spec.dt) / MAX_FPS)))
        self.fps = 1.0 / (spec.dt * self.stride)
        self.next_step = 0
        self._renderer = None

    def _render(self, states: np.ndarray) -> np.ndarray:
        if self._renderer is None:
            from envs.render import MujocoClipRenderer
            self._renderer = MujocoClipRenderer(self.spec, width=SIZE, height=SIZE)
        return self._renderer.render(states[:: self.stride])

    def maybe_log(self, step: int, model: PPO, norm: VecNormalize | None, force: bool = False) -> bool:
        if self.every <= 0 or (step < self.next_step and not force):
            return False
        self.next_step = step + self.every
        self.log_episode(step, model, norm)
        if self.loop is not None:
            self.log_query(step)
            self.log_scatter(step)
        self.writer.flush()
        return True

    def log_query(self, step: int) -> None:
        """The latest answered query: both clips side by side, the answer and the model's prediction."""
        labels = self.loop.store.labels()
        if not labels:
            return
        last = labels[-1]
        a, b = self.loop.clip(last.clip_a), self.loop.clip(last.clip_b)
        fa, fb = self.clip_frames(a), self.clip_frames(b)
        if fa is None or fb is None:
            return
        p = self.loop.predicted_preference(a, b)
        answer = {1.0: "left better", 0.0: "right better", 0.5: "equal"}.get(last.value, f"{last.value:.2f}")
        n = min(len(fa), len(fb))
        frames = np.concatenate([fa[:n], np.zeros((n, fa.shape[1], 4, 3), np.uint8), fb[:n]], axis=2)
        frames = annotate(frames, f"q{last.query_id} {last.source}: {answer}  model P(left)={p:.2f}")
        add_gif(self.writer, "clips/latest_query", frames, self.fps, step)

    def clip_frames(self, clip: Clip) -> np.ndarray | None:
        """What the query GIF shows of a clip, [T, H, W, 3] uint8 (None: nothing to render)."""
        return None if clip.states is None else self._render(clip.states)

    def log_scatter(self, step: int) -> None:
        if self.loop.heldout is None:
            return
        pred, true = self.loop.heldout
        fig = scatter_figure(pred, true, f"held-out clips at step {step:,}")
        self.writer.add_figure("reward/pred_vs_true_returns", fig, step)

    def log_episode(self, step: int, model: PPO, norm: VecNormalize | None) -> None:
        """One deterministic episode of the current policy, its true return and a GIF of it."""
        env = make_mujoco_env(self.spec)
        obs, info = env.reset(seed=step)
        states, total, done = [info["physics_state"]], 0.0, False
        while not done:
            x = norm.normalize_obs(obs[None]) if norm is not None else obs[None]
            action, _ = model.predict(x, deterministic=True)
            obs, _, _, done, info = env.step(action[0])
            total += info["true_reward"]
            states.append(info["physics_state"])
        env.close()
        self.writer.add_scalar("eval/episode_true_return", total, step)
        frames = annotate(self._render(np.stack(states)), f"step {step:,}  true return {total:.0f}")
        add_gif(self.writer, "agent/episode", frames, self.fps, step)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
