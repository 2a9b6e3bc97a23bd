"""Atari without the score: the HUD mask of each of the paper's seven games, on real frames."""

import numpy as np
import pytest

from envs.atari import GAMES, make_atari_vector_env, mask_hud


@pytest.mark.parametrize("name", sorted(GAMES))
def test_the_mask_hides_the_changing_score_and_keeps_the_play_area(name):
    game = GAMES[name]
    env = make_atari_vector_env(game, n_envs=1, seed=0, threads=1)
    rng = np.random.default_rng(0)
    frames, rewarded = [], None
    for t in range(3000):
        # Random play scores in every game but Enduro, where holding the accelerator (FIRE) passes cars.
        action = np.array([1]) if name == "Enduro" else rng.integers(env.single_action_space.n, size=1)
        obs, reward, *_ = env.step(action)
        frames.append(obs[0, -1].copy())  # newest frame of the stack, [84, 84]
        if rewarded is None and reward[0] != 0:
            rewarded = t
        if rewarded is not None and t >= rewarded + 20:
            break
    env.close()
    assert rewarded is not None, f"no score change in {name} within 3000 random steps"
    raw = np.stack(frames).astype(int)
    hud = np.zeros(84, bool)
    for a, b in game.masked_rows():
        hud[a:b] = True
    # The score changed on screen, inside the masked rows (the score digits changed there).
    assert np.abs(raw[rewarded + 20][hud] - raw[max(0, rewarded - 5)][hud]).sum() > 0
    masked = mask_hud(np.stack(frames), game).astype(int)
    assert (masked[:, hud] == 0).all()  # constant: nothing of the HUD reaches the agent
    assert masked[:, ~hud].std(axis=0).max() > 0  # the play area still moves
