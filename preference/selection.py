"""Choosing which pairs of clips to ask about: random, ensemble disagreement, near ties (entropy), or
coverage (clips unlike any asked about yet)."""

from __future__ import annotations

from typing import Callable

import numpy as np

SELECTIONS = ("random", "disagreement", "entropy", "coverage")
_SCORED = ("disagreement", "entropy")  # chosen from oversampled candidates by a score of the ensemble

_MAX_FEATURE_DIMS = 512  # per-step dimensions a clip's features keep (Atari frames are subsampled)

# member_returns(clip_indices) -> [M, len(clip_indices)] summed raw member rewards per clip.
MemberReturns = Callable[[np.ndarray], np.ndarray]


def random_pairs(n_clips: int, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """``n_pairs`` pairs of distinct clip indices in [0, n_clips), shape [n_pairs, 2]."""
    if n_clips < 2:
        raise ValueError("need at least two clips to form a pair")
    a = rng.integers(0, n_clips, size=n_pairs)
    b = (a + rng.integers(1, n_clips, size=n_pairs)) % n_clips  # never equal to a
    return np.stack([a, b], axis=1)


def clip_features(obs: np.ndarray) -> np.ndarray:
    """What a clip looks like, for comparing clips by distance: the mean and the spread over time of
    each observation dimension; obs [T, *obs_shape] -> [2 * D] (D <= 512: image observations keep
    every k-th pixel)."""
    x = obs.reshape(len(obs), -1)
    step = -(-x.shape[1] // _MAX_FEATURE_DIMS)
    x = x[:, ::step].astype(np.float64)
    return np.concatenate([x.mean(axis=0), x.std(axis=0)])


def coverage_pairs(features: np.ndarray, covered: np.ndarray, n_pairs: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Pairs whose first clip is the candidate farthest from every clip asked about so far (greedy
    k-center), and whose second is a random other candidate: features [N, F] of the candidates,
    covered [K, F] (K may be 0) -> pairs [n_pairs, 2] of candidate indices.

    Distances are taken on features scaled by their spread over candidates and covered clips alike.
    Behaviour that no label covers yet is asked about, against what the agent does now. (On Hopper it
    seldom picked an episode's upright start, which the random-policy clips already cover: RESULTS.md,
    twenty-third session.)
    """
    n = len(features)
    if n < 2:
        raise ValueError("need at least two clips to form a pair")
    both = np.concatenate([features, covered]) if len(covered) else features
    scale = both.std(axis=0)
    scale[scale == 0] = 1.0
    f = features / scale  # [N, F]
    nearest = _distances(f, covered / scale).min(axis=1) if len(covered) else np.full(n, np.inf)  # [N]
    pairs = np.empty((n_pairs, 2), dtype=np.int64)
    for i in range(n_pairs):
        a = int(rng.integers(n)) if np.isinf(nearest).all() else int(np.argmax(nearest))
        b = int((a + rng.integers(1, n)) % n)
        pairs[i] = a, b
        # both clips are now asked about
        nearest = np.minimum(nearest, _distances(f, f[[a, b]]).min(axis=1))
    return pairs


def _distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows: x [N, F], y [K, F] -> [N, K]."""
    sq = (x ** 2).sum(1)[:, None] + (y ** 2).sum(1)[None, :] - 2.0 * x @ y.T
    return np.sqrt(np.maximum(sq, 0.0))


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
                 member_returns: MemberReturns | None = None, oversample: int = 10,
                 coverage: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Choose ``n_pairs`` pairs; return (pairs [n_pairs, 2], their disagreement [n_pairs]).

    ``disagreement`` samples ``oversample`` times more random candidates and keeps those with
    the highest variance of predicted preference across ensemble members; ``entropy`` keeps those
    whose mean predicted preference is nearest a tie (PEBBLE's entropy sampling): pairs r̂ thinks
    close, where a label says most about the size of r̂'s differences. ``coverage`` needs
    ``coverage=(candidate features [n_clips, F], features of the clips already asked about [K, F])``
    (see ``coverage_pairs``).
    """
    if method not in SELECTIONS:
        raise ValueError(f"unknown selection {method!r}; choose from {', '.join(SELECTIONS)}")
    if method == "coverage":
        if coverage is None:
            raise ValueError("coverage selection needs the clips' features")
        cand = coverage_pairs(coverage[0], coverage[1], n_pairs, rng)
    else:
        cand = random_pairs(n_clips, n_pairs * (oversample if method in _SCORED else 1), rng)
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
