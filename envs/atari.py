"""Atari games without the score: the paper's seven games, their HUD masks, the native vector env.

The first building block of the Atari tasks (issue 3): ``make_atari_vector_env`` builds ale-py's
C++ ``AtariVectorEnv`` with the paper's preprocessing (0-30 no-op starts, max-pool of the last two
frames, frame skip 4, gray 84x84, stack of 4), and ``mask_hud`` blacks out the score area (plus
BeamRider's enemies-left counter and Enduro's speedometer/odometer) in those frames.
``AtariStream`` turns it into what the agent may see: masked frames, one continuous stream per
env with no life-loss or game-over signal, the true reward and game scores beside it.

Sticky actions: off by default (probability 0), as in the paper, which used Mnih et al.'s setup
(sticky actions came later, Machado et al. 2018); ``sticky`` sets ALE's repeat-action probability
(0.25 is the ``ALE/*-v5`` default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RAW_HEIGHT = 210


@dataclass(frozen=True)
class AtariGame:
    """A game: its ale-py name, the HUD rows of the raw 210x160 frame, and the penalty the
    synthetic oracle sees at a game over (every game but Pong)."""

    name: str
    ale_name: str
    hud_rows: tuple[tuple[int, int], ...]
    game_over_penalty: float = 0.0
    """True-reward penalty the synthetic oracle sees at a game over (0 for Pong): about four typical
    scoring events of the game. The paper names no value."""

    def masked_rows(self, height: int = 84) -> list[tuple[int, int]]:
        """HUD row ranges [start, stop) scaled to a frame of ``height`` rows (rounded outwards)."""
        k = height / RAW_HEIGHT
        return [(math.floor(a * k), min(height, math.ceil((b + 1) * k))) for a, b in self.hud_rows]


# Rows seen on real frames (stack notes), inclusive: checked by tests/test_atari.py on every game.
GAMES: dict[str, AtariGame] = {g.name: g for g in (
    AtariGame("Pong", "pong", ((0, 23),), game_over_penalty=0.0),
    AtariGame("BeamRider", "beam_rider", ((0, 41),), game_over_penalty=200.0),  # 44 per enemy ship
    AtariGame("Breakout", "breakout", ((0, 15),), game_over_penalty=20.0),  # 1-7 per brick
    AtariGame("Enduro", "enduro", ((155, 209),), game_over_penalty=20.0),  # 1 per car passed
    AtariGame("Qbert", "qbert", ((0, 13),), game_over_penalty=100.0),  # 25 per cube
    AtariGame("Seaquest", "seaquest", ((0, 29),), game_over_penalty=100.0),  # 20 per enemy
    AtariGame("SpaceInvaders", "space_invaders", ((0, 20),), game_over_penalty=100.0),  # 5-30 per invader
)}


def mask_hud(frames: np.ndarray, game: AtariGame) -> np.ndarray:
    """Black out the HUD rows in place: frames [..., H, W] (any leading axes, e.g. [N, 4, 84, 84])."""
    height = frames.shape[-2]
    for a, b in game.masked_rows(height):
        frames[..., a:b, :] = 0
    return frames


def make_atari_vector_env(game: AtariGame, n_envs: int, seed: int, sticky: float = 0.0, threads: int = 0):
    """ale-py's native vector env with the paper's preprocessing; rewards unclipped (the oracle
    reads the score), no life-loss episodes, auto-reset in the same step (``final_obs`` in info)."""
    from ale_py.vector_env import AtariVectorEnv

    env = AtariVectorEnv(game.ale_name, n_envs, num_threads=threads, repeat_action_probability=sticky,
                         noop_max=30, frameskip=4, maxpool=True, grayscale=True, stack_num=4,
                         img_height=84, img_width=84, reward_clipping=False, episodic_life=False,
                         autoreset_mode="SameStep")
    env.reset(seed=seed)
    return env


def hud_pixels(frames: np.ndarray, game: AtariGame) -> np.ndarray:
    """The HUD rows of frames [..., H, W], concatenated: [..., R, W] (to show a person the original)."""
    height = frames.shape[-2]
    return np.concatenate([frames[..., a:b, :] for a, b in game.masked_rows(height)], axis=-2)


def restore_hud(frames: np.ndarray, hud: np.ndarray, game: AtariGame) -> np.ndarray:
    """Undo ``mask_hud`` on a copy of frames [..., H, W] given ``hud_pixels`` [..., R, W]."""
    out = frames.copy()
    row = 0
    for a, b in game.masked_rows(frames.shape[-2]):
        out[..., a:b, :] = hud[..., row:row + b - a, :]
        row += b - a
    return out


@dataclass
class StreamStep:
    """One step of an ``AtariStream`` over n envs.

    Attributes:
        obs: masked frame stacks after the step, [n, 4, 84, 84] uint8 (the first frames of a new game
            after a game ended: the emulator resets underneath, the stream goes on).
        true_reward: the score of the step plus ``-penalty`` at a game over, [n] (oracle only).
        score: the score of the step alone, [n].
        game_over: a game ended at this step (lost, or cut at ALE's 108,000-frame limit), [n] bool.
        game_score: the total score of the game that ended at this step, NaN elsewhere, [n].
        hud: the unmasked HUD rows of the newest frame *before* the step, [n, R, 84] uint8.
    """

    obs: np.ndarray
    true_reward: np.ndarray
    score: np.ndarray
    game_over: np.ndarray
    game_score: np.ndarray
    hud: np.ndarray


class AtariStream:
    """A game as one continuous stream per env: masked frames in, no done signal out.

    Preprocessing is the paper's (``make_atari_vector_env``; frame skip 4 happens once, inside
    ale-py). Lives lost and games over never end anything for the agent: the emulator resets
    underneath (same step) and the stream goes on. The true reward (score, plus ``-penalty`` at a
    game over, as the synthetic oracle judges it) and each finished game's score are returned
    beside the frames for the oracle and the logs.

    Example:
        >>> stream = AtariStream(GAMES["Pong"], n_envs=8, seed=0)
        >>> obs = stream.reset()                       # [8, 4, 84, 84] uint8, HUD black
        >>> step = stream.step(np.zeros(8, np.int64))   # StreamStep
    """

    def __init__(self, game: AtariGame, n_envs: int, seed: int, sticky: float = 0.0,
                 penalty: float | None = None, threads: int = 0):
        if n_envs < 1:
            raise ValueError(f"n_envs must be positive, got {n_envs}")
        if not 0.0 <= sticky <= 1.0:
            raise ValueError(f"sticky-action probability must be in [0, 1], got {sticky}")
        self.game, self.n_envs, self.seed, self.sticky = game, n_envs, seed, sticky
        self.penalty = game.game_over_penalty if penalty is None else float(penalty)
        if self.penalty < 0:
            raise ValueError(f"game-over penalty must be >= 0, got {self.penalty}")
        self.env = make_atari_vector_env(game, n_envs, seed, sticky, threads)
        self.n_actions = int(self.env.single_action_space.n)
        self._raw: np.ndarray | None = None
        self._scores = np.zeros(n_envs)
        self.games = 0

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start fresh games; masked obs [n, 4, 84, 84] uint8."""
        raw, _ = self.env.reset(seed=self.seed if seed is None else seed)
        self._raw = raw
        self._scores[:] = 0.0
        return mask_hud(raw.copy(), self.game)

    def step(self, actions: np.ndarray) -> StreamStep:
        if self._raw is None:
            self.reset()
        hud = hud_pixels(self._raw[:, -1], self.game)
        raw, reward, terminated, truncated, _ = self.env.step(np.asarray(actions, dtype=np.int64).reshape(-1))
        self._raw = raw
        score = np.asarray(reward, dtype=np.float64)
        self._scores += score
        over = np.asarray(terminated, bool) | np.asarray(truncated, bool)
        game_score = np.full(self.n_envs, np.nan)
        game_score[over] = self._scores[over]
        self._scores[over] = 0.0
        self.games += int(over.sum())
        true_reward = score - self.penalty * np.asarray(terminated, bool)
        return StreamStep(mask_hud(raw.copy(), self.game), true_reward, score, over, game_score, hud)

    def close(self) -> None:
        self.env.close()
