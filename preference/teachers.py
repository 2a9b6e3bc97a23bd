"""B-Pref's simulated teachers (Lee et al. 2021): noisy synthetic oracles.

Applied in B-Pref's order: skip, equal, myopic discount, Boltzmann rationality, mistake. The
skip and equal thresholds are fractions of B-Pref's margin: the mean true return of a clip, which
B-Pref takes as the mean return of the last 10 training episodes scaled to the segment length, and
this teacher as the mean return of the last 100 clips it was shown (both sides of its last 50 pairs).
As in B-Pref, a pair is skipped when neither return exceeds a positive skip threshold, and answered
"equal" when the returns differ by less than the equal threshold (never, where the margin is negative).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from preference.clips import Clip


@dataclass(frozen=True)
class TeacherConfig:
    """beta: Boltzmann rationality (inf = always the better clip); gamma: myopic discount, step t
    of H weighted gamma^(H-1-t); eps_mistake: flip probability; eps_skip: skip the pair when
    neither return exceeds eps_skip * margin (if that is positive); eps_equal: answer 0.5 when the
    returns differ by less than eps_equal * margin; equal_within: answer 0.5 when the returns differ by less
    than this absolute amount (true-return units per clip); drop_within: answer "can't tell" (drop the pair)
    when they differ by less than this. margin: the mean return of recent clips."""

    beta: float = math.inf
    gamma: float = 1.0
    eps_mistake: float = 0.0
    eps_skip: float = 0.0
    eps_equal: float = 0.0
    equal_within: float = 0.0
    drop_within: float = 0.0


PRESETS: dict[str, TeacherConfig] = {
    "oracle": TeacherConfig(),
    "stoch": TeacherConfig(beta=1.0),
    "mistake": TeacherConfig(eps_mistake=0.1),
    "skip": TeacherConfig(eps_skip=0.1),
    "equal": TeacherConfig(eps_equal=0.1),
    "myopic": TeacherConfig(gamma=0.9),
}


PARAMETRIC: dict[str, tuple[str, str]] = {"stoch": ("beta", "BETA"), "tie": ("equal_within", "TAU"),
                                          "near": ("drop_within", "TAU")}
"""Teachers named ``NAME:VALUE``: the TeacherConfig field VALUE sets, and the parameter's name."""
PARAMETRIC_FORMS: tuple[str, ...] = tuple(f"{head}:{what}" for head, (_, what) in PARAMETRIC.items())
"""How a user writes them: ``stoch:BETA``, ``tie:TAU``, ``near:TAU``."""


def teacher_config(name: str) -> TeacherConfig:
    """A preset's settings, or a teacher with one parameter:
    ``stoch:BETA``, a Boltzmann teacher of rationality BETA > 0 (``stoch`` is BETA 1); a useful BETA is about 1
    over the spread of clip returns: certain about large differences, a coin flip about small ones.
    ``tie:TAU``, the perfect oracle except that it answers "equally good" when the two clips' true returns
    differ by less than TAU > 0, as a person does when two clips look alike.
    ``near:TAU``, the perfect oracle except that it answers "can't tell" (the pair is dropped, and another is
    asked in its place) when the returns differ by less than TAU: unlike a tie, it does not teach r̂ that the
    two clips are worth the same.
    Raises ValueError with one line for an unknown name or a bad parameter."""
    if name in PRESETS:
        return PRESETS[name]
    head, sep, arg = name.partition(":")
    if head in PARAMETRIC and sep:
        field, what = PARAMETRIC[head]
        try:
            value = float(arg)
        except ValueError:
            value = math.nan
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"teacher {name!r}: {what} in {head}:{what} must be a positive number")
        return TeacherConfig(**{field: value})
    raise ValueError(f"unknown teacher {name!r}; choose from {', '.join(PRESETS)}, {' or '.join(PARAMETRIC_FORMS)}")


MARGIN_CLIPS = 100
"""Clips whose mean true return is the skip/equal margin (B-Pref: the last 10 episodes, per segment)."""


class SimulatedTeacher:
    """``label(a, b)`` -> mu = P(a better) in {0, 0.5, 1}, or None when the teacher skips the pair."""

    def __init__(self, config: TeacherConfig | str = "oracle", rng: np.random.Generator | None = None):
        if isinstance(config, str):
            self.name = config
            config = teacher_config(config)
        else:
            self.name = "custom"
        self.cfg = config
        self.rng = rng or np.random.default_rng(0)
        self.recent_returns: deque[float] = deque(maxlen=MARGIN_CLIPS)

    @property
    def margin(self) -> float:
        """B-Pref's margin: the mean true return of the recent clips (0 before any)."""
        return float(np.mean(self.recent_returns)) if self.recent_returns else 0.0

    def _discounted(self, clip: Clip) -> float:
        r = np.asarray(clip.true_rewards, dtype=np.float64)
        if self.cfg.gamma == 1.0:
            return float(r.sum())
        weights = self.cfg.gamma ** np.arange(len(r) - 1, -1, -1)
        return float((weights * r).sum())

    def label(self, a: Clip, b: Clip) -> float | None:
        ra_full, rb_full = a.true_return, b.true_return
        self.recent_returns.extend((ra_full, rb_full))
        margin = self.margin
        skip_at = self.cfg.eps_skip * margin
        equal_within = max(self.cfg.eps_equal * margin, self.cfg.equal_within)
        if skip_at > 0 and max(ra_full, rb_full) <= skip_at:
            return None
        if abs(ra_full - rb_full) < self.cfg.drop_within:
            return None
        if abs(ra_full - rb_full) < equal_within:
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
