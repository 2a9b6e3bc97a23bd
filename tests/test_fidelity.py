"""Known answers for the figures a reward model is judged by (held-out agreement, correlations)."""

import math

import numpy as np
import pytest

from preference.fidelity import clip_agreement, ranks, spearman


def test_ties_share_their_average_rank():
    assert ranks(np.array([3.0, 1.0, 1.0, 2.0])).tolist() == [3.0, 0.5, 0.5, 2.0]


def test_spearman_counts_a_tie_group_as_one_rank():
    # Sparse rewards (Pong): most clips tie at 0. Breaking the tie by order would give 0.2 here.
    pred, true = np.array([0.3, 0.2, 0.1, 0.9]), np.array([0.0, 0.0, 0.0, 1.0])
    assert spearman(pred, true) == pytest.approx(math.sqrt(0.6))
    assert spearman(np.exp(true), true) == pytest.approx(1.0)  # any increasing map
    assert math.isnan(spearman(pred, np.zeros(4)))


def test_pair_agreement_counts_only_pairs_the_oracle_would_not_tie():
    true = np.array([0.0, 0.0, 1.0])
    right = clip_agreement(np.array([1.0, 2.0, 3.0]), true)  # orders (0,2) and (1,2) as the oracle
    assert right["pair_acc"] == 1.0 and right["decided_pairs"] == 2
    wrong = clip_agreement(np.array([3.0, 2.0, 1.0]), true)
    assert wrong["pair_acc"] == 0.0 and wrong["corr"] < 0
    half = clip_agreement(np.array([1.0, 3.0, 2.0]), true)  # (0,2) right, (1,2) wrong
    assert half["pair_acc"] == 0.5


def test_nothing_to_judge_gives_nan_not_a_number_that_looks_real():
    out = clip_agreement(np.array([1.0, 2.0, 3.0]), np.zeros(3))
    assert out["decided_pairs"] == 0 and math.isnan(out["pair_acc"]) and math.isnan(out["corr"])
