"""B-Pref's simulated teachers (Lee et al. 2021): noisy synthetic oracles.

Applied in B-Pref's order: skip, equal, myopic discount, Boltzmann rationality, mistake. The
skip and equal thresholds are fractions of the largest absolute clip return seen so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from preference.clips import Clip


@dataclass(frozen=True)
class TeacherConfig:
    """beta: Boltzmann rationality (inf = always the better clip); gamma: myopic discount, step t
    of H weighted gamma^(H-1-t); eps_mistake: flip probability; eps_skip: skip the pair when both
    returns are below eps_skip * max|return|; eps_equal: answer 0.5 when the returns differ by
    less than eps_equal * max|return|."""

    beta: float = math.inf
    gamma: float = 1.0
    eps_mistake: float = 0.0
    eps_skip: float = 0.0
    eps_equal: float = 0.0


PRESETS: dict[str, TeacherConfig] = {
    "oracle": TeacherConfig(),
    "stoch": TeacherConfig(beta=1.0),
    "mistake": TeacherConfig(eps_mistake=0.1),
    "skip": TeacherConfig(eps_skip=0.1),
    "equal": TeacherConfig(eps_equal=0.1),
    "myopic": TeacherConfig(gamma=0.9),
}


class SimulatedTeacher:
    """``label(a, b)`` -> mu = P(a better) in {0, 0.5, 1}, or None when the teacher skips the pair."""

    def __init__(self, config: TeacherConfig | str = "oracle", rng: np.random.Generator | None = None):
        if isinstance(config, str):
            if config not in PRESETS:
                raise ValueError(f"unknown teacher {config!r}; choose from {', '.join(PRESETS)}")
            self.name = config
            config = PRESETS[config]
        else:
            self.name = "custom"
        self.cfg = config
        self.rng = rng or np.random.default_rng(0)
        self.max_abs_return = 0.0

    def _discounted(self, clip: Clip) -> float:
        r = np.asarray(clip.true_rewards, dtype=np.float64)
        if self.cfg.gamma == 1.0:
            return float(r.sum())
        weights = self.cfg.gamma ** np.arange(len(r) - 1, -1, -1)
        return float((weights * r).sum())

    def label(self, a: Clip, b: Clip) -> float | None:
        ra_full, rb_full = a.true_return, b.true_return
        self.max_abs_return = max(self.max_abs_return, abs(ra_full), abs(rb_full))
        scale = self.max_abs_return
        if self.cfg.eps_skip > 0 and ra_full < self.cfg.eps_skip * scale and rb_full < self.cfg.eps_skip * scale:
            return None
        if self.cfg.eps_equal > 0 and abs(ra_full - rb_full) < self.cfg.eps_equal * scale:
            return 0.5
        ra, rb = self._discounted(a), self._discounted(b)
        if math.isinf(self.cfg.beta):
            mu = 1.0 if ra > rb else 0.0 if ra < rb else 0.5
        else:
            p = 1.0 / (1.0 + math.exp(-self.cfg.beta * float(np.clip(ra - rb, -500, 500))))
            mu = float(self.rng.random() < p)
        if mu != 0.5 and self.cfg.eps_mistake > 0 and self.rng.random() < self.cfg.eps_mistake:
            mu = 1.0 - mu
        return mu
