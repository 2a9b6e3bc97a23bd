"""Choosing which pairs of clips to ask about: random, ensemble disagreement, or near ties (entropy)."""

from __future__ import annotations

from typing import Callable

import numpy as np

SELECTIONS = ("random", "disagreement", "entropy")
_SCORED = ("disagreement", "entropy")  # chosen from oversampled candidates by a score of the ensemble

# member_returns(clip_indices) -> [M, len(clip_indices)] summed raw member rewards per clip.
MemberReturns = Callable[[np.ndarray], np.ndarray]


def random_pairs(n_clips: int, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """``n_pairs`` pairs of distinct clip indices in [0, n_clips), shape [n_pairs, 2]."""
    if n_clips < 2:
        raise ValueError("need at least two clips to form a pair")
    a = rng.integers(0, n_clips, size=n_pairs)
    b = (a + rng.integers(1, n_clips, size=n_pairs)) % n_clips  # never equal to a
    return np.stack([a, b], axis=1)


def member_preferences(returns: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Each member's P(a better than b) (Bradley-Terry on its summed rewards): returns [M, n_clips],
    pairs [P, 2] -> [M, P]."""
    diff = returns[:, pairs[:, 0]] - returns[:, pairs[:, 1]]
    return 1.0 / (1.0 + np.exp(-np.clip(diff, -50, 50)))


def preference_variance(returns: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Variance across members of P(a better than b): returns [M, n_clips], pairs [P, 2] -> [P]."""
    return member_preferences(returns, pairs).var(axis=0)


def preference_entropy(returns: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Entropy (nats) of the ensemble's mean P(a better than b): returns [M, n_clips], pairs [P, 2] -> [P].
    Largest (log 2) for a pair the ensemble calls a tie."""
    return _mean_entropy(member_preferences(returns, pairs))


def _mean_entropy(prefs: np.ndarray) -> np.ndarray:
    """Entropy of the mean over members of preferences [M, P] -> [P]."""
    p = np.clip(prefs.mean(axis=0), 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log1p(-p))


def select_pairs(n_clips: int, n_pairs: int, method: str, rng: np.random.Generator,
                 member_returns: MemberReturns | None = None, oversample: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Choose ``n_pairs`` pairs; return (pairs [n_pairs, 2], their disagreement [n_pairs]).

    ``disagreement`` samples ``oversample`` times more random candidates and keeps those with
    the highest variance of predicted preference across ensemble members; ``entropy`` keeps those
    whose mean predicted preference is nearest a tie (PEBBLE's entropy sampling): pairs r̂ thinks
    close, where a label says most about the size of r̂'s differences.
    """
    if method not in SELECTIONS:
        raise ValueError(f"unknown selection {method!r}; choose from {', '.join(SELECTIONS)}")
    n_cand = n_pairs * (oversample if method in _SCORED else 1)
    cand = random_pairs(n_clips, n_cand, rng)
    if member_returns is None:
        return cand[:n_pairs], np.full(min(n_pairs, len(cand)), np.nan)
    used = np.unique(cand)
    lookup = np.full(n_clips, -1)
    lookup[used] = np.arange(len(used))
    returns = member_returns(used)
    prefs = member_preferences(returns, lookup[cand])  # [M, n_cand]
    var = prefs.var(axis=0)
    if method in _SCORED:
        score = var if method == "disagreement" else _mean_entropy(prefs)
        order = np.argsort(-score, kind="stable")[:n_pairs]
        return cand[order], var[order]
    return cand, var
