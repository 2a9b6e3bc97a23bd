"""Atari games without the score: the paper's seven games, their HUD masks, the native vector env.

The first building block of the Atari tasks (issue 3): ``make_atari_vector_env`` builds ale-py's
C++ ``AtariVectorEnv`` with the paper's preprocessing (0-30 no-op starts, max-pool of the last two
frames, frame skip 4, gray 84x84, stack of 4), and ``mask_hud`` blacks out the score area (plus
BeamRider's enemies-left counter and Enduro's speedometer/odometer) in those frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RAW_HEIGHT = 210


@dataclass(frozen=True)
class AtariGame:
    """A game: its ale-py name, the HUD rows of the raw 210x160 frame, and whether the synthetic
    oracle pays a penalty at game over (every game but Pong)."""

    name: str
    ale_name: str
    hud_rows: tuple[tuple[int, int], ...]
    game_over_penalty: bool = True

    def masked_rows(self, height: int = 84) -> list[tuple[int, int]]:
        """HUD row ranges [start, stop) scaled to a frame of ``height`` rows (rounded outwards)."""
        k = height / RAW_HEIGHT
        return [(math.floor(a * k), min(height, math.ceil((b + 1) * k))) for a, b in self.hud_rows]


# Rows seen on real frames (stack notes), inclusive: checked by tests/test_atari.py on every game.
GAMES: dict[str, AtariGame] = {g.name: g for g in (
    AtariGame("Pong", "pong", ((0, 23),), game_over_penalty=False),
    AtariGame("BeamRider", "beam_rider", ((0, 41),)),
    AtariGame("Breakout", "breakout", ((0, 15),)),
    AtariGame("Enduro", "enduro", ((155, 209),)),
    AtariGame("Qbert", "qbert", ((0, 13),)),
    AtariGame("Seaquest", "seaquest", ((0, 29),)),
    AtariGame("SpaceInvaders", "space_invaders", ((0, 20),)),
)}


def mask_hud(frames: np.ndarray, game: AtariGame) -> np.ndarray:
    """Black out the HUD rows in place: frames [..., H, W] (any leading axes, e.g. [N, 4, 84, 84])."""
    height = frames.shape[-2]
    for a, b in game.masked_rows(height):
        frames[..., a:b, :] = 0
    return frames


def make_atari_vector_env(game: AtariGame, n_envs: int, seed: int, sticky: float = 0.25, threads: int = 0):
    """ale-py's native vector env with the paper's preprocessing; rewards unclipped (the oracle
    reads the score), no life-loss episodes, auto-reset in the same step (``final_obs`` in info)."""
    from ale_py.vector_env import AtariVectorEnv

    env = AtariVectorEnv(game.ale_name, n_envs, num_threads=threads, repeat_action_probability=sticky,
                         noop_max=30, frameskip=4, maxpool=True, grayscale=True, stack_num=4,
                         img_height=84, img_width=84, reward_clipping=False, episodic_life=False,
                         autoreset_mode="SameStep")
    env.reset(seed=seed)
    return env
