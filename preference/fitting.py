"""Fitting the reward ensemble to comparisons, as in the paper.

- Bradley-Terry over summed predicted rewards, with a 10% chance that the labeler answered at
  random: P = (1 - eps) * sigmoid(R_a - R_b) + eps / 2, eps = 0.1; cross-entropy against mu.
- Bootstrap: each member weighs every comparison by a Poisson(1) count drawn when it arrives
  (the online form of drawing |D| comparisons with replacement).
- Validation (``validation="split"``, the default): each member holds out a fraction 1/e of the
  comparisons, drawn at arrival independently of its counts, so it trains on ~40% of them; the
  "training loss" of the l2 rule is taken over every comparison not held out. ``"out-of-bag"``
  reads the paper's 1/e as what the bootstrap leaves out: a member is validated on its count-0
  comparisons and trains on the other ~63%, and the l2 rule uses the loss on those. Measured in
  RESULTS.md (seventh session): r̂ as accurate or more, RL outcomes mixed (HalfCheetah better,
  InvertedDoublePendulum and one Swimmer seed much worse), so it is not the default.
- Adaptive l2: after a fit, a member whose validation loss exceeds 1.5x its training loss gets a
  larger l2 coefficient, one below 1.1x a smaller one.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from preference.reward_model import RewardEnsemble

VALIDATIONS = ("out-of-bag", "split")
"""Each member's held-out comparisons (agents.config lists the same names for the CLI)."""


@dataclass
class FitConfig:
    """Reward-fitting hyperparameters (paper values where the paper gives one)."""

    lr: float = 1e-3
    batch_size: int = 64
    label_noise: float = 0.1
    validation: str = "split"
    """Each member's held-out comparisons: a `split` of 1/e drawn independently of the bootstrap
    counts, or its bootstrap's `out-of-bag` ones."""
    l2_low: float = 1.1
    l2_high: float = 1.5
    l2_factor: float = 2.0
    normalize_inputs: bool = True
    """Standardize the predictor's inputs with the statistics of the labeled clips (refreshed
    at each fit); without it, small-scale features such as velocities are learned poorly."""
    buffer: int | None = None
    """Train on the most recent ``buffer`` comparisons only (Atari: 3000); None keeps all. With a
    buffer, the inputs of comparisons older than ``buffer + evict_slack`` are freed (bounded memory)."""
    evict_slack: int = 500
    """Comparisons kept beyond ``buffer`` (undone answers can pull older ones back into the window)."""
    eval_max: int | None = None
    """Losses and accuracies after a fit (and the adaptive l2) use the most recent ``eval_max``
    comparisons of the window only (Atari on CPU: a forward pass over 3,000 clip pairs costs
    minutes); None: all."""


@dataclass
class FitStats:
    """Metrics of the last fit, averaged over members."""

    train_loss: float = float("nan")
    val_loss: float = float("nan")
    train_acc: float = float("nan")
    val_acc: float = float("nan")
    l2: float = float("nan")
    n_labels: int = 0
    updates: int = 0
    per_member: list[dict[str, float]] = field(default_factory=list)


def preference_loss(ra: torch.Tensor, rb: torch.Tensor, mu: torch.Tensor, noise: float) -> torch.Tensor:
    """Per-pair cross-entropy: ra, rb summed rewards [N], mu = P(a better) [N] -> [N]."""
    logits = ra - rb
    # log P(a) and log P(b) with P(a) = (1 - noise) sigmoid(logits) + noise / 2, in log space: finite for
    # any gap, also with noise 0 (a plain sigmoid would round to 0 or 1 and give log 0).
    log_a, log_b = F.logsigmoid(logits), F.logsigmoid(-logits)
    if noise > 0:
        keep, floor = math.log1p(-noise), math.log(noise / 2.0)
        log_a = torch.logaddexp(log_a + keep, torch.full_like(log_a, floor))
        log_b = torch.logaddexp(log_b + keep, torch.full_like(log_b, floor))
    return -(mu * log_a + (1.0 - mu) * log_b)


def pair_accuracy(ra: torch.Tensor, rb: torch.Tensor, mu: torch.Tensor) -> tuple[float, int]:
    """Fraction of non-tied pairs whose predicted winner matches mu; and how many were counted."""
    decided = mu != 0.5
    n = int(decided.sum())
    if n == 0:
        return float("nan"), 0
    agree = ((ra - rb > 0) == (mu > 0.5))[decided]
    return float(agree.float().mean()), n


class EnsembleTrainer:
    """Holds the comparison data set and fits a ``RewardEnsemble`` to it incrementally."""

    def __init__(self, ensemble: RewardEnsemble, config: FitConfig | None = None,
                 rng: np.random.Generator | None = None):
        self.ens = ensemble
        self.cfg = config or FitConfig()
        if self.cfg.validation not in VALIDATIONS:
            raise ValueError(f"validation must be one of {', '.join(VALIDATIONS)}, got {self.cfg.validation!r}")
        self.rng = rng or np.random.default_rng(0)
        self.fit_rng = self.rng.spawn(1)[0]  # fitting may run in another thread
        self._lock = threading.Lock()
        m = ensemble.n_members
        self.xa: list = []  # each [T, in_dim] (or the ensemble's packed form; None once freed)
        self.xb: list = []
        self.evicted = 0  # comparisons [0, evicted) have had their inputs freed
        self._pack = getattr(ensemble, "pack", None)
        self._unpack = getattr(ensemble, "unpack", None)
        self.mu: list[float] = []
        self.is_val = np.zeros((m, 0), dtype=bool)
        self.active = np.zeros(0, dtype=bool)
        self.boot = np.zeros((m, 0), dtype=np.int64)
        self.opts = [torch.optim.Adam(mem.parameters(), lr=self.cfg.lr) for mem in ensemble.members]
        self.stats = FitStats()

    def __len__(self) -> int:
        """Comparisons currently in use (undone ones excluded)."""
        return int(self.active.sum())

    def set_label(self, index: int, mu: float | None) -> None:
        """Change comparison ``index``'s label (a re-answer), or retire it with None (an undo)."""
        with self._lock:
            if mu is None:
                self.active = self.active.copy()
                self.active[index] = False
            else:
                self.mu[index] = float(mu)
                if not self.active[index]:
                    self.active = self.active.copy()
                    self.active[index] = True

    def add(self, xa: np.ndarray, xb: np.ndarray, mu: float) -> int:
        """Add one comparison: clip inputs xa, xb [T, in_dim] and mu = P(a better than b); return its index."""
        m = self.ens.n_members
        if self.cfg.validation == "split":
            is_val = self.rng.random((m, 1)) < 1.0 / math.e
            boot = self.rng.poisson(1.0, (m, 1))
        else:
            boot = self.rng.poisson(1.0, (m, 1))
            is_val = boot == 0  # out of bag: P(count 0) = 1/e
        with self._lock:
            self.xa.append(self.keep(xa))
            self.xb.append(self.keep(xb))
            self.mu.append(float(mu))
            self.is_val = np.concatenate([self.is_val, is_val], 1)
            self.boot = np.concatenate([self.boot, boot], 1)
            self.active = np.append(self.active, True)
            self._evict()
            return len(self.mu) - 1

    def keep(self, x: np.ndarray):
        """A comparison side as the data set holds it: float32 [T, in_dim], or the ensemble's packed form."""
        return self._pack(x) if self._pack is not None else np.asarray(x, dtype=np.float32)

    def keep_from(self, n: int) -> int:
        """Of ``n`` comparisons, the first one whose inputs a buffered data set still holds."""
        return 0 if self.cfg.buffer is None else max(0, n - self.cfg.buffer - self.cfg.evict_slack)

    def _evict(self) -> None:
        for i in range(self.evicted, self.keep_from(len(self.mu))):
            self.xa[i] = self.xb[i] = None
        self.evicted = max(self.evicted, self.keep_from(len(self.mu)))

    def _snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(window of comparison indices, is_val, boot) as of now; safe while ``add`` runs."""
        with self._lock:
            n, is_val, boot, active = len(self.mu), self.is_val, self.boot, self.active
        window = np.flatnonzero(active[:n])
        if self.cfg.buffer is not None:
            window = window[window >= self.evicted]
            window = window[-self.cfg.buffer:]
        return window, is_val, boot

    def _batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dev = self.ens.device_
        load = self._unpack if self._unpack is not None else (lambda x: x)
        xa = torch.as_tensor(np.stack([load(self.xa[i]) for i in idx]), device=dev)
        xb = torch.as_tensor(np.stack([load(self.xb[i]) for i in idx]), device=dev)
        mu = torch.as_tensor(np.array([self.mu[i] for i in idx], dtype=np.float32), device=dev)
        return xa, xb, mu

    def pair_returns(self, k: int, xa: torch.Tensor, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Member ``k``'s returns of both sides of a batch of pairs: x [B, T, *in] -> ([B], [B]).

        Each side in its own pass, so batch norm (CNN) keeps statistics per side, as rl-teacher does: one
        joint pass measured slower, and slower to learn (results/scripts/bn_passes.py).
        """
        return self.ens.member_reward(k, xa).sum(-1), self.ens.member_reward(k, xb).sum(-1)

    def fit(self, n_samples: int) -> FitStats:
        """Train every member on ``n_samples`` bootstrap-weighted comparisons, then adapt l2.

        May run in a background thread while ``add`` appends comparisons: it works on the
        comparisons present when it starts.
        """
        window, is_val, boot = self._snapshot()
        if len(window) < 2:
            return self.stats
        if self.cfg.normalize_inputs:
            recent = window[-300:]
            sample = np.concatenate([np.concatenate([self.xa[i], self.xb[i]]) for i in recent])
            self.ens.set_input_stats(sample)
        bs = self.cfg.batch_size
        updates = 0
        self.ens.train()
        for k, (member, opt) in enumerate(zip(self.ens.members, self.opts)):
            train_idx = window[~is_val[k, window]]  # out-of-bag: exactly those with a count; split: count-0 get p = 0
            weights = boot[k, train_idx].astype(np.float64)
            if weights.sum() == 0:
                continue
            p = weights / weights.sum()
            steps = max(1, math.ceil(n_samples / bs))
            for _ in range(steps):
                idx = self.fit_rng.choice(train_idx, size=min(bs, max(1, len(train_idx))), p=p)
                xa, xb, mu = self._batch(idx)
                ra, rb = self.pair_returns(k, xa, xb)
                loss = preference_loss(ra, rb, mu, self.cfg.label_noise).mean()
                loss = loss + self.ens.l2_coef[k] * member.l2()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                updates += 1
        self.ens.eval()
        stats = self._evaluate(window, is_val)
        stats.updates = updates
        self._adapt_l2(stats)
        self.stats = stats
        return stats

    def evaluate(self) -> FitStats:
        """Loss and accuracy of each member on its own training and validation comparisons."""
        window, is_val, _ = self._snapshot()
        return self._evaluate(window, is_val)

    @torch.no_grad()
    def _evaluate(self, window: np.ndarray, is_val: np.ndarray) -> FitStats:
        n_window = len(window)
        if self.cfg.eval_max is not None:
            window = window[-self.cfg.eval_max:]
        per_member: list[dict[str, float]] = []
        chunks = [window[i:i + 256] for i in range(0, len(window), 256)]
        ras, rbs, mus = [], [], []
        for chunk in chunks:
            xa, xb, mu = self._batch(chunk)
            mus.append(mu)
            ras.append(self.ens.member_rewards(xa).sum(-1))  # [M, chunk]
            rbs.append(self.ens.member_rewards(xb).sum(-1))
        mu_all, ra_all, rb_all = torch.cat(mus), torch.cat(ras, 1), torch.cat(rbs, 1)
        for k in range(self.ens.n_members):
            ra, rb = ra_all[k], rb_all[k]
            loss = preference_loss(ra, rb, mu_all, self.cfg.label_noise)
            val = torch.as_tensor(is_val[k, window], device=loss.device)
            row: dict[str, float] = {"l2": float(self.ens.l2_coef[k])}
            for name, mask in (("train", ~val), ("val", val)):  # out-of-bag: ~val is what the member trained on
                if mask.any():
                    row[f"{name}_loss"] = float(loss[mask].mean())
                    row[f"{name}_acc"] = pair_accuracy(ra[mask], rb[mask], mu_all[mask])[0]
                else:
                    row[f"{name}_loss"] = row[f"{name}_acc"] = float("nan")
            per_member.append(row)

        def avg(key: str) -> float:
            vals = [r[key] for r in per_member if not math.isnan(r[key])]
            return float(np.mean(vals)) if vals else float("nan")

        return FitStats(train_loss=avg("train_loss"), val_loss=avg("val_loss"), train_acc=avg("train_acc"),
                        val_acc=avg("val_acc"), l2=avg("l2"), n_labels=n_window, per_member=per_member)

    def _adapt_l2(self, stats: FitStats) -> None:
        for k, row in enumerate(stats.per_member):
            tr, va = row["train_loss"], row["val_loss"]
            if math.isnan(tr) or math.isnan(va) or tr <= 0:
                continue
            ratio = va / tr
            if ratio > self.cfg.l2_high:
                self.ens.l2_coef[k] *= self.cfg.l2_factor
            elif ratio < self.cfg.l2_low:
                self.ens.l2_coef[k] /= self.cfg.l2_factor
            self.ens.l2_coef[k] = self.ens.l2_coef[k].clamp(1e-8, 10.0)
