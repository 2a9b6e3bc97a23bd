"""The Atari parts of a run: random-policy clips, evaluation, TensorBoard media (the paper's Atari settings
are filled in by ``TrainConfig.resolved``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize
from torch.utils.tensorboard import SummaryWriter

from agents.config import TrainConfig
from agents.labeling import atari_clip_frames
from agents.media import MediaLogger
from agents.tb import add_gif, annotate
from envs.atari import GAMES, AtariStream
from envs.registry import TaskSpec, get_task
from preference.clips import Clip, ClipRecorder
from preference.loop import PreferenceLoop

BUFFER = 3000
"""Paper: the predictor trains on the most recent 3,000 labels."""
EPISODE_STEP_CAP = 27_000  # ALE's 108,000-frame limit


CPU_HEAVY_PRETRAIN = 10_000
"""Pretraining comparisons (epochs x initial labels) past which a CPU run is warned: ~35 min on 2 cores."""
CPU_HEAVY_FIT_RATE = 0.05
"""Refit comparisons per env step past which reward fitting on a CPU costs more than PPO itself."""


def cpu_cost_note(cfg: TrainConfig, device_type: str, initial_labels: int) -> str | None:
    """One line for a learned-reward Atari run on a CPU whose paper-scale reward fitting would crawl
    (README, Atari: about 0.2 s per comparison on 2 cores); None where nothing is worth saying."""
    if get_task(cfg.env).kind != "atari" or cfg.reward != "preferences" or device_type != "cpu":
        return None
    pretrain = cfg.pretrain_epochs * initial_labels
    heavy = []
    if pretrain >= CPU_HEAVY_PRETRAIN:
        heavy.append(f"--pretrain-epochs {cfg.pretrain_epochs} trains {pretrain:,} comparisons before RL starts")
    if cfg.fit_rate >= CPU_HEAVY_FIT_RATE:
        heavy.append(f"--fit-rate {cfg.fit_rate:g} makes reward fitting slower than PPO")
    if not heavy:
        return None
    return (f"note: the CNN reward model on a CPU: {'; '.join(heavy)}. For a CPU run consider "
            "--pretrain-epochs 5 --fit-rate 0.01 (README, Atari)")


def atari_random_clips(spec: TaskSpec, n_clips: int, seed: int, sticky: float,
                       penalty: float | None) -> list[Clip]:
    """Roll a uniformly random policy (8 envs) until ``n_clips`` clips exist (before RL; not counted)."""
    stream = AtariStream(GAMES[spec.name], 8, seed, sticky, penalty)
    rng = np.random.default_rng(seed)
    recorder = ClipRecorder(stream.n_envs, spec.clip_steps, capacity=n_clips)
    obs = stream.reset()
    no_done = np.zeros(stream.n_envs, bool)
    while recorder.total_clips < n_clips:
        acts = rng.integers(stream.n_actions, size=stream.n_envs)
        s = stream.step(acts)
        recorder.add(obs, acts[:, None], s.true_reward, list(s.hud), no_done)
        obs = s.obs
    stream.close()
    return list(recorder.clips)


def play_games(model: PPO, spec: TaskSpec, n: int, seed: int, sticky: float, penalty: float | None,
               max_steps: int = EPISODE_STEP_CAP, frames_of: int | None = None) -> dict[str, Any]:
    """Play the first game of each of ``n`` envs with the (stochastic) policy, as rl-zoo evaluates
    Atari agents; games still running after ``max_steps`` are cut there.

    Returns game scores [n], oracle returns [n] (score minus the game-over penalty) and, with
    ``frames_of=i``, env i's masked newest frames [T, 84, 84] and HUD rows.
    """
    stream = AtariStream(GAMES[spec.name], n, seed, sticky, penalty)
    obs = stream.reset()
    scores, oracle = np.zeros(n), np.zeros(n)
    running = np.ones(n, bool)
    frames, huds = [], []
    steps = 0
    while running.any() and steps < max_steps:
        if frames_of is not None and running[frames_of]:
            frames.append(obs[frames_of, -1])
        actions, _ = model.predict(obs, deterministic=False)
        s = stream.step(actions)
        if frames_of is not None and running[frames_of]:
            huds.append(s.hud[frames_of])
        scores += s.score * running
        oracle += s.true_reward * running
        running &= ~s.game_over
        obs = s.obs
        steps += 1
    stream.close()
    return {"scores": scores, "oracle": oracle, "cut": running, "steps": steps,
            "frames": np.stack(frames) if frames else None, "huds": np.stack(huds) if huds else None}


def evaluate_atari(model: PPO, spec: TaskSpec, episodes: int, seed: int, sticky: float,
                   penalty: float | None) -> dict[str, Any]:
    """``true_return_*``: game scores; ``oracle_return_*``: scores with the game-over penalty."""
    if episodes == 0:
        return {"eval_episodes": 0}
    g = play_games(model, spec, episodes, seed, sticky, penalty)
    return {"eval_episodes": episodes, "true_return_mean": float(g["scores"].mean()),
            "true_return_std": float(g["scores"].std()), "oracle_return_mean": float(g["oracle"].mean()),
            "oracle_return_std": float(g["oracle"].std()), "eval_games_cut": int(g["cut"].sum())}


class AtariMediaLogger(MediaLogger):
    """``MediaLogger`` for Atari: GIFs of masked frames (what the agent and reward model see)."""

    SCALE = 2
    MAX_EPISODE_STEPS = 4000

    def __init__(self, writer: SummaryWriter, spec: TaskSpec, every: int, loop: PreferenceLoop | None,
                 sticky: float = 0.0, penalty: float | None = None):
        super().__init__(writer, spec, every, loop)
        self.sticky, self.game_penalty = sticky, penalty

    def clip_frames(self, clip: Clip) -> np.ndarray:
        """The masked frames, as the agent and the reward model see them."""
        return atari_clip_frames(clip, self.spec, scale=self.SCALE)

    def log_episode(self, step: int, model: PPO, norm: VecNormalize | None) -> None:
        """One game of the current policy (cut at 4,000 steps), its score and a GIF (every 4th frame, at most 500)."""
        g = play_games(model, self.spec, 1, step, self.sticky, self.game_penalty, self.MAX_EPISODE_STEPS, frames_of=0)
        score = float(g["scores"][0])
        self.writer.add_scalar("eval/episode_true_return", score, step)
        frames = g["frames"][::4][:500]
        frames = np.repeat(frames.repeat(self.SCALE, 1).repeat(self.SCALE, 2)[..., None], 3, axis=-1)
        cut = " (cut)" if g["cut"][0] else ""
        add_gif(self.writer, "agent/episode", annotate(frames, f"step {step:,} score {score:.0f}{cut}"),
                self.fps / 4, step)
