"""SB3 callbacks: the preference loop between rollouts, TensorBoard scalars, the progress bar."""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from agents.media import MediaLogger
from agents.reward_wrapper import LearnedRewardVecEnv, settle_rollout
from agents.tb import HackingAlarm
from preference.loop import PreferenceLoop


class PreferenceCallback(BaseCallback):
    """After each rollout (before PPO's update): run the preference loop and log its metrics.

    With ``loop=None`` (true-reward baseline) it only logs returns and throughput.
    """

    def __init__(self, wrapper: LearnedRewardVecEnv, loop: PreferenceLoop | None,
                 progress: tqdm | None = None, max_behind: int | None = None,
                 checkpoint_every: int | None = None, checkpoint: Callable[[int, float], None] | None = None,
                 previous_seconds: float = 0.0, media: MediaLogger | None = None,
                 alarm: HackingAlarm | None = None, writer: SummaryWriter | None = None,
                 heartbeat: Callable[[int, int, float], None] | None = None):
        super().__init__()
        self.heartbeat = heartbeat  # after each rollout: (steps, step of the last checkpoint, steps/s)
        self.media, self.alarm, self.writer = media, alarm, writer
        self.env_seconds = self.update_seconds = self.label_seconds = 0.0
        self._t_rollout = self._t_update = None
        self._episodes_seen = 0
        self.alarm_raised = False
        self.max_behind = max_behind
        self.checkpoint_every = checkpoint_every
        self.checkpoint = checkpoint
        self.previous_seconds = previous_seconds
        self.stop_flag: threading.Event | None = None
        self.rollout_start_steps = 0
        self._last_checkpoint = 0
        self.wrapper = wrapper
        self.loop = loop
        self.progress = progress
        self._t0 = time.perf_counter()
        self._steps0 = 0

    def _on_training_start(self) -> None:
        self._t0 = time.perf_counter()
        self._steps0 = self._last_checkpoint = self.rollout_start_steps = self.num_timesteps

    def _on_rollout_start(self) -> None:
        """After PPO's update: the model is consistent, so this is where checkpoints are taken."""
        now = time.perf_counter()
        if self._t_update is not None:
            self.update_seconds += now - self._t_update
        self._t_rollout = now
        self.rollout_start_steps = self.num_timesteps
        self.wrapper.begin_rollout()
        due = self.checkpoint_every and self.num_timesteps - self._last_checkpoint >= self.checkpoint_every
        if due and self.checkpoint is not None:
            self.checkpoint(self.num_timesteps, self.previous_seconds + time.perf_counter() - self._t0)
            self._last_checkpoint = self.num_timesteps

    def _on_step(self) -> bool:
        if self.progress is not None:
            self.progress.update(self.training_env.num_envs)
        return not (self.stop_flag is not None and self.stop_flag.is_set())

    def _on_rollout_end(self) -> None:
        record = self.logger.record
        t0 = time.perf_counter()
        if self._t_rollout is not None:
            self.env_seconds += t0 - self._t_rollout
        settle_rollout(self.model, self.wrapper, self.locals["values"], self.locals["dones"])
        if self.loop is not None:
            self.loop.step(self.num_timesteps)
            if self.max_behind is not None:
                stop = self.stop_flag.is_set if self.stop_flag is not None else None
                self.loop.wait_for_labels(self.num_timesteps, self.max_behind, on_wait=self._show_wait, stop=stop)
            for key, value in self.loop.metrics.items():
                if value is not None and np.isfinite(value):
                    record(key, value)
            if self.progress is not None:
                self.progress.set_postfix(labels=self.loop.metrics.get("labels/answered", 0), refresh=False)
        w = self.wrapper
        if w.true_returns:
            record("charts/ep_true_return", float(np.mean(w.true_returns)))
            record("charts/ep_learned_return", float(np.mean(w.learned_returns)))
        if w.recent_rewards:
            record("reward/r_hat_mean", float(np.mean(w.recent_rewards)))
            record("reward/r_hat_std", float(np.std(w.recent_rewards)))
        self._check_alarm(record)
        if self.writer is not None and self.loop is not None and w.recent_rewards:
            self.writer.add_histogram("reward/r_hat_hist", np.concatenate(list(w.recent_rewards)), self.num_timesteps)
        if self.media is not None:
            norm = self.model.get_vec_normalize_env()
            self.media.maybe_log(self.num_timesteps, self.model, norm)
        self.label_seconds += time.perf_counter() - t0
        elapsed = time.perf_counter() - self._t0
        rate = (self.num_timesteps - self._steps0) / elapsed if elapsed > 0 else 0.0
        if elapsed > 0:
            record("perf/steps_per_sec", rate)
        if self.heartbeat is not None:
            self.heartbeat(self.num_timesteps, self._last_checkpoint, rate)
        record("perf/env_seconds", self.env_seconds)
        record("perf/ppo_update_seconds", self.update_seconds)
        record("perf/label_and_log_seconds", self.label_seconds)
        self._t_update = time.perf_counter()

    def _check_alarm(self, record) -> None:
        w = self.wrapper
        if self.alarm is None or self.loop is None:
            return
        new = w.episodes - self._episodes_seen
        self._episodes_seen = w.episodes
        learned, true = list(w.learned_returns), list(w.true_returns)
        for i in range(min(new, len(true)), 0, -1):
            self.alarm.add(learned[-i], true[-i])
        on, lt, tt = self.alarm.check()
        record("charts/reward_hacking", float(on))
        record("charts/learned_return_trend", lt)
        record("charts/true_return_trend", tt)
        if on and not self.alarm_raised:
            self.alarm_raised = True
            msg = (f"reward hacking suspected at step {self.num_timesteps:,}: the learned return is rising "
                   f"({lt:+.2f} sd) while the true return is falling ({tt:+.2f} sd)")
            tqdm.write(f"WARNING: {msg}")
            if self.writer is not None:
                self.writer.add_text("alarms/reward_hacking", msg, self.num_timesteps)

    def _show_wait(self, behind: int) -> None:
        if self.progress is not None:
            self.progress.set_description_str(f"paused: waiting for {behind} labels", refresh=True)

    def finish(self) -> None:
        """Spend the rest of the label budget and refit once more with every label."""
        if self.loop is not None:
            self.loop.finish(self.loop.schedule.total_steps)
        if self.media is not None:
            self.media.maybe_log(self.num_timesteps, self.model, self.model.get_vec_normalize_env(), force=True)
            self.media.close()
