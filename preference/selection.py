"""Choosing which pairs of clips to ask about: random, or ensemble disagreement."""

from __future__ import annotations

from typing import Callable

import numpy as np

SELECTIONS = ("random", "disagreement")

# member_returns(clip_indices) -> [M, len(clip_indices)] summed raw member rewards per clip.
MemberReturns = Callable[[np.ndarray], np.ndarray]


def random_pairs(n_clips: int, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """``n_pairs`` pairs of distinct clip indices in [0, n_clips), shape [n_pairs, 2]."""
    if n_clips < 2:
        raise ValueError("need at least two clips to form a pair")
    a = rng.integers(0, n_clips, size=n_pairs)
    b = (a + rng.integers(1, n_clips, size=n_pairs)) % n_clips  # never equal to a
    return np.stack([a, b], axis=1)


def preference_variance(returns: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Variance across members of P(a better than b): returns [M, n_clips], pairs [P, 2] -> [P]."""
    diff = returns[:, pairs[:, 0]] - returns[:, pairs[:, 1]]
    prob = 1.0 / (1.0 + np.exp(-np.clip(diff, -50, 50)))
    return prob.var(axis=0)


def select_pairs(n_clips: int, n_pairs: int, method: str, rng: np.random.Generator,
                 member_returns: MemberReturns | None = None, oversample: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Choose ``n_pairs`` pairs; return (pairs [n_pairs, 2], their disagreement [n_pairs]).

    ``disagreement`` samples ``oversample`` times more random candidates and keeps those with
    the highest variance of predicted preference across ensemble members.
    """
    if method not in SELECTIONS:
        raise ValueError(f"unknown selection {method!r}; choose from {', '.join(SELECTIONS)}")
    n_cand = n_pairs * (oversample if method == "disagreement" else 1)
    cand = random_pairs(n_clips, n_cand, rng)
    if member_returns is None:
        return cand[:n_pairs], np.full(min(n_pairs, len(cand)), np.nan)
    used = np.unique(cand)
    lookup = np.full(n_clips, -1)
    lookup[used] = np.arange(len(used))
    returns = member_returns(used)
    var = preference_variance(returns, lookup[cand])
    if method == "disagreement":
        order = np.argsort(-var, kind="stable")[:n_pairs]
        return cand[order], var[order]
    return cand, var
