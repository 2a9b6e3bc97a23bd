"""The label schedule: how many labels should exist after T environment steps."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LabelSchedule:
    """Paper's schedule, normalized so that the whole budget is spent by ``total_steps``.

    A fraction ``initial_fraction`` of the budget comes from random-policy clips before RL;
    afterwards the label rate at step T is proportional to ``horizon / (T + horizon)``
    (2e6 for MuJoCo, 5e6 for Atari). The cumulative count is
    ``initial + (budget - initial) * log1p(T / horizon) / log1p(total_steps / horizon)``.
    """

    budget: int
    total_steps: int
    initial_fraction: float = 0.25
    horizon: float = 2e6

    def __post_init__(self) -> None:
        if self.budget < 2:
            raise ValueError(f"label budget must be at least 2, got {self.budget}")
        if self.total_steps <= 0:
            raise ValueError(f"total steps must be positive, got {self.total_steps}")
        if not 0.0 <= self.initial_fraction <= 1.0:
            raise ValueError("initial_fraction must be in [0, 1]")

    @property
    def initial(self) -> int:
        """Labels collected from random-policy clips before RL starts."""
        return max(1, round(self.budget * self.initial_fraction))

    def target(self, steps: int) -> int:
        """Labels that should have been collected after ``steps`` RL steps."""
        t = min(max(steps, 0), self.total_steps)
        frac = math.log1p(t / self.horizon) / math.log1p(self.total_steps / self.horizon)
        return min(self.budget, self.initial + math.floor((self.budget - self.initial) * frac + 1e-9))

    def rate(self, steps: int) -> float:
        """Labels per env step at ``steps`` (derivative of ``target``)."""
        norm = math.log1p(self.total_steps / self.horizon) * (steps + self.horizon)
        return (self.budget - self.initial) / norm
