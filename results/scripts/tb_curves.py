"""Print TensorBoard scalars of one or more runs at evenly spaced steps, for reading a run in a terminal.

    python results/scripts/tb_curves.py TAG[,TAG...] RUN [RUN ...] [--points 9]

Each RUN is a run folder (its events are under ``RUN/tb``). A tag a run does not have is skipped.
Works on a run that is still going or was stopped: it reads what has been written.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def curve(run: Path, tag: str, points: int) -> list[tuple[int, float]]:
    """``points`` evenly spaced (step, value) pairs of ``tag``, always including the last; [] if absent."""
    ea = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0})
    ea.Reload()
    if tag not in ea.Tags()["scalars"]:
        return []
    events = ea.Scalars(tag)
    stride = max(1, len(events) // max(1, points - 1))
    picked = events[::stride]
    if picked[-1] is not events[-1]:
        picked.append(events[-1])
    return [(e.step, e.value) for e in picked]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tags", help="comma-separated scalar tags, e.g. charts/ep_true_return,reward/heldout_corr")
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--points", type=int, default=9)
    args = ap.parse_args()
    for run in args.runs:
        if not (run / "tb").is_dir():
            raise SystemExit(f"error: {run} has no tb/ folder")
        print(run.name)
        for tag in args.tags.split(","):
            if values := curve(run, tag, args.points):
                print(f"  {tag}: " + "  ".join(f"{s / 1000:.0f}k {v:.4g}" for s, v in values))


if __name__ == "__main__":
    main()
