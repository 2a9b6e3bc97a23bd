"""False and true alarms of the reward-hacking alarm on simulated episode returns (RESULTS.md, fifth session).

Feeds ``agents.tb.HackingAlarm`` 4 episodes per check, as the training callback does:
- no trend: learned and true returns are independent AR(phi) noise (phi 0: white), 1,000 episodes;
- hacking: 300 trendless episodes, then the learned return rises and the true one falls by
  ``slope`` sd per episode for 200 episodes.
``--old`` runs the first rule instead (0.5 sd between the halves of 20 episodes, no hold).

    python results/scripts/alarm_sim.py [--old] [--runs 200]
"""

import argparse

import numpy as np

from agents.tb import HackingAlarm


class OldAlarm(HackingAlarm):
    """The first rule: mean difference between halves of 2 x 10 episodes in sd units, threshold 0.5."""

    def __init__(self) -> None:
        super().__init__(window=10, threshold=0.5, persist=0)

    def _trend(self, values) -> float:
        v = np.asarray(values)
        return float((v[self.window:].mean() - v[: self.window].mean()) / (v.std() + 1e-8))


def ar(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """AR(1) noise with unit variance, shape [n]."""
    e = rng.normal(size=n) * np.sqrt(1 - phi ** 2)
    x = np.zeros(n)
    x[0] = rng.normal()
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


def first_alarm(alarm: HackingAlarm, learned: np.ndarray, true: np.ndarray, every: int = 4) -> int | None:
    """Episode count at which the alarm first comes on, or None."""
    for i in range(0, len(true), every):
        for lr, tr in zip(learned[i:i + every], true[i:i + every]):
            alarm.add(float(lr), float(tr))
        if alarm.check()[0]:
            return alarm.episodes
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", action="store_true")
    p.add_argument("--runs", type=int, default=200)
    args = p.parse_args()
    make = OldAlarm if args.old else HackingAlarm
    rng = np.random.default_rng(0)
    for phi in (0.0, 0.5, 0.8):
        hits = sum(first_alarm(make(), ar(rng, 1000, phi), ar(rng, 1000, phi)) is not None for _ in range(args.runs))
        print(f"no trend, AR({phi}) noise: false alarm in {hits / args.runs:.0%} of {args.runs} runs")
    for slope in (0.02, 0.05):
        delays = []
        for _ in range(args.runs // 2):
            ramp = slope * np.arange(200)
            learned = np.r_[rng.normal(size=300), ramp + rng.normal(size=200)]
            true = np.r_[rng.normal(size=300), -ramp + rng.normal(size=200)]
            at = first_alarm(make(), learned, true)
            delays.append(np.nan if at is None else at - 300)
        d = np.array(delays, dtype=float)
        caught = d > 0
        median = f"{np.median(d[caught]):.0f}" if caught.any() else "-"
        print(f"hacking at {slope} sd/episode: caught in {caught.mean():.0%}, before it began in {(d <= 0).mean():.0%}, "
              f"median delay {median} episodes")


if __name__ == "__main__":
    main()
