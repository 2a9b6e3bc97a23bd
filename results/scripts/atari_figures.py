"""Issue 3's figures from a pair of Atari runs: a true-reward run and a learned-reward run, each started
under ``/usr/bin/time -v`` with its output in a log file.

    python results/scripts/atari_figures.py TRUE_RUN TRUE_LOG PREF_RUN PREF_LOG [--points 5]

Prints, per run, the steps, PPO time, steps/s, reward-fitting time, wall time, peak RSS and the final
evaluation; the training game score (``rollout/ep_rew_mean``) and, for the learned-reward run, the
reward model's fidelity tags at evenly spaced steps; then the throughput ratio. Works on an unfinished
run too (no ``result.json`` yet): the last logged step is used and the missing figures say so.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

FIDELITY = ["reward/val_acc", "reward/heldout_pair_acc", "reward/heldout_corr", "reward/heldout_spearman",
            "reward/fresh_acc", "labels/answered"]


def time_log(path: Path) -> dict[str, str]:
    """Wall time and peak RSS (MiB) from ``/usr/bin/time -v`` output; empty while the run goes on."""
    text = path.read_text(errors="replace") if path.exists() else ""
    out = {}
    if m := re.search(r"Elapsed \(wall clock\) time.*: (\S+)", text):
        out["wall"] = m.group(1)
    if m := re.search(r"Maximum resident set size \(kbytes\): (\d+)", text):
        out["peak_rss_mib"] = f"{int(m.group(1)) / 1024:.0f}"
    return out


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    ea = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0})
    ea.Reload()
    return {t: [(e.step, e.value) for e in ea.Scalars(t)] for t in ea.Tags()["scalars"]}


def at_points(series: list[tuple[int, float]], points: int) -> str:
    """The series' values at ``points`` evenly spaced positions, the last one included."""
    if not series:
        return "(not logged)"
    idx = sorted({round(i * (len(series) - 1) / max(1, points - 1)) for i in range(points)})
    return ", ".join(f"{series[i][0]:,}: {series[i][1]:.3f}" for i in idx)


def describe(name: str, run: Path, log: Path, points: int, fidelity: bool) -> dict:
    tags = scalars(run)
    res = json.loads((run / "result.json").read_text()) if (run / "result.json").exists() else None
    last = max((s[-1][0] for s in tags.values() if s), default=0)
    tl = time_log(log)
    if res:
        print(f"{name}: steps {res['timesteps']}, learn_seconds {res['learn_seconds']:.0f}, "
              f"steps/s {res['steps_per_sec']:.1f}, fit_seconds {res['fit_seconds']:.0f}, "
              f"wall {tl.get('wall', '?')}, peak RSS {tl.get('peak_rss_mib', '?')} MiB, "
              f"eval game score {res['true_return_mean']:.2f} +- {res['true_return_std']:.2f} "
              f"over {res['eval_episodes']} games")
    else:
        print(f"{name}: unfinished, last logged step {last:,}; peak RSS so far: see the RSS samples")
    print(f"   rollout/ep_rew_mean (game score, last 100 games): "
          f"{at_points(tags.get('rollout/ep_rew_mean', []), points)}")
    if fidelity:
        for t in FIDELITY:
            print(f"   {t}: {at_points(tags.get(t, []), points)}")
    return {"res": res, "last": last, "fps": tags.get("time/fps", [])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("true_run", type=Path)
    ap.add_argument("true_log", type=Path)
    ap.add_argument("pref_run", type=Path)
    ap.add_argument("pref_log", type=Path)
    ap.add_argument("--points", type=int, default=5)
    a = ap.parse_args()
    t = describe("true", a.true_run, a.true_log, a.points, fidelity=False)
    p = describe("pref", a.pref_run, a.pref_log, a.points, fidelity=True)
    if t["res"] and p["res"]:
        ratio = p["res"]["steps_per_sec"] / t["res"]["steps_per_sec"]
        print(f"throughput ratio (whole runs, learned / true steps/s): {ratio:.3f}")
        print(f"final evaluation game score: learned {p['res']['true_return_mean']:.2f} "
              f"vs true-reward {t['res']['true_return_mean']:.2f}")


if __name__ == "__main__":
    main()
