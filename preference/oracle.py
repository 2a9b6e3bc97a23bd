"""The synthetic oracle: the only part of prefrl allowed to read the true reward."""

from __future__ import annotations

from preference.clips import Clip


class PerfectOracle:
    """Prefers the clip with the larger sum of true reward; an exact tie gives 0.5.

    ``label(a, b)`` returns mu = P(a is better than b) in {0.0, 0.5, 1.0}, or None to drop.
    """

    name = "oracle"

    def label(self, a: Clip, b: Clip) -> float | None:
        ra, rb = a.true_return, b.true_return
        if ra > rb:
            return 1.0
        if ra < rb:
            return 0.0
        return 0.5
