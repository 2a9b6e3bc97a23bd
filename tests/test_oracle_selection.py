import numpy as np
import pytest

from preference.clips import Clip, ClipRecorder
from preference.oracle import PerfectOracle
from preference.selection import (clip_features, coverage_pairs, preference_entropy, preference_variance, random_pairs,
                                  select_pairs)


def clip(rewards):
    r = np.asarray(rewards, dtype=np.float32)
    return Clip(obs=np.zeros((len(r), 2)), acts=np.zeros((len(r), 1)), true_rewards=r, states=None, env_step=0)


def test_oracle_prefers_larger_true_return_and_ties_give_half():
    o = PerfectOracle()
    assert o.label(clip([1, 2]), clip([0, 2])) == 1.0
    assert o.label(clip([0, 0]), clip([0, 1])) == 0.0
    assert o.label(clip([1, 1]), clip([2, 0])) == 0.5


def test_random_pairs_never_pair_a_clip_with_itself():
    pairs = random_pairs(3, 500, np.random.default_rng(0))
    assert pairs.shape == (500, 2)
    assert np.all(pairs[:, 0] != pairs[:, 1]) and pairs.min() >= 0 and pairs.max() < 3


def test_disagreement_picks_the_pairs_members_disagree_on():
    # Members agree on clips 0-3; on clips 4 and 5 they disagree strongly.
    returns = np.array([[0, 1, 2, 3, 10, -10], [0, 1, 2, 3, -10, 10], [0, 1, 2, 3, 0, 0]], dtype=float)
    pairs, var = select_pairs(6, 3, "disagreement", np.random.default_rng(0),
                              member_returns=lambda idx: returns[:, idx], oversample=10)
    assert all(4 in p or 5 in p for p in pairs.tolist())
    all_pairs = np.array([(a, b) for a in range(6) for b in range(6) if a != b])
    assert var.min() >= np.sort(preference_variance(returns, all_pairs))[len(all_pairs) // 2]


def test_entropy_picks_the_pairs_the_ensemble_calls_near_ties():
    # All members agree: clip returns 0, 0.1, 5, 10, 20, 40. Only (0, 1) is a near tie (P = 0.48).
    returns = np.tile(np.array([0.0, 0.1, 5.0, 10.0, 20.0, 40.0]), (3, 1))
    pairs, _ = select_pairs(6, 1, "entropy", np.random.default_rng(0),
                            member_returns=lambda idx: returns[:, idx], oversample=60)
    assert sorted(pairs[0].tolist()) == [0, 1]
    assert preference_entropy(returns, np.array([[0, 1], [0, 5]])) == pytest.approx(
        [np.log(2) - 0.00125, 0.0], abs=1e-4)  # a tie is log 2; a sure order is 0
    # Disagreeing members average to a tie: entropy takes the pair that disagreement also takes.
    split = np.array([[0.0, 10.0], [10.0, 0.0]])
    assert preference_entropy(split, np.array([[0, 1]]))[0] == pytest.approx(np.log(2))


def test_coverage_asks_first_about_the_clip_unlike_every_asked_one():
    rng = np.random.default_rng(0)
    # 30 candidate clips of an agent lying still (height ~0.2) and one that stands (height 1.2) at index 17.
    obs = rng.normal(0.2, 0.01, size=(31, 20, 2))
    obs[17, :, 0] = 1.2
    feats = np.stack([clip_features(o) for o in obs])
    assert feats.shape == (31, 4)
    pairs = coverage_pairs(feats, feats[:5], 3, rng)  # five lying clips asked about already
    assert pairs[0, 0] == 17 and np.all(pairs[:, 0] != pairs[:, 1])
    assert 17 not in pairs[1:, 0]  # once asked about, it is covered
    # Covered already (a standing clip was asked about before), it is no longer the first choice.
    assert 17 not in coverage_pairs(feats, feats[[17]], 1, rng)[:, 0]
    # Nothing asked about yet: any start, then the clip farthest from the first pair.
    assert 17 in coverage_pairs(feats, np.empty((0, 0)), 2, np.random.default_rng(3))[:, 0]


def test_clip_features_keep_at_most_512_dimensions_of_an_image():
    frames = np.zeros((25, 4, 84, 84), dtype=np.uint8)
    frames[:, :, :10] = 255  # the top rows are bright
    f = clip_features(frames)
    assert f.shape[0] <= 2 * 512 and f.max() == 255.0 and f.min() == 0.0


def test_unknown_selection_is_refused():
    with pytest.raises(ValueError, match="unknown selection"):
        select_pairs(5, 1, "greedy", np.random.default_rng(0))


def test_recorder_cuts_fixed_clips_that_never_cross_episodes():
    rec = ClipRecorder(n_envs=2, clip_steps=3, capacity=10)
    for t in range(8):
        dones = np.array([t == 4, False])
        rec.add(np.full((2, 1), t), np.zeros((2, 1)), np.array([t, 10 * t]), None, dones)
    # env 0: steps 0-2 make a clip, 3-4 are cut by the episode end, 5-7 make a clip; env 1: 0-2, 3-5.
    assert [c.obs[:, 0].tolist() for c in rec.clips] == [[0, 1, 2], [0, 1, 2], [3, 4, 5], [5, 6, 7]]
    assert rec.clips[2].true_return == 120.0
