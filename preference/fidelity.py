"""How well predicted clip returns agree with the true ones: the figures a reward model is judged by."""

from __future__ import annotations

import numpy as np


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks of x [N] from 0, ties sharing their average rank (as Spearman's rho needs)."""
    x = np.asarray(x, float)
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    avg = (starts + ends - 1) / 2.0
    out = np.empty(len(x))
    out[order] = np.repeat(avg, ends - starts)
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of a [N] and b [N], ties given their average rank; nan if either
    is constant."""
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def clip_agreement(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Predicted clip returns pred [N] against true ones true [N].

    ``corr`` (Pearson) and ``spearman`` (nan where either side is constant); ``pair_acc``: over every
    pair of clips the oracle would not tie (true returns differ), the share that the prediction orders
    as the oracle does (nan if there is none), and ``decided_pairs``, their number.
    """
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    out = {"corr": float("nan"), "spearman": float("nan"), "pair_acc": float("nan"), "decided_pairs": 0.0}
    if len(pred) < 2:
        return out
    if pred.std() > 0 and true.std() > 0:
        out["corr"] = float(np.corrcoef(pred, true)[0, 1])
        out["spearman"] = spearman(pred, true)
    i, j = np.triu_indices(len(pred), 1)
    decided = true[i] != true[j]
    if decided.any():
        agree = (pred[i] > pred[j]) == (true[i] > true[j])
        out["pair_acc"] = float(agree[decided].mean())
        out["decided_pairs"] = float(decided.sum())
    return out
