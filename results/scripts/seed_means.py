"""A task's returns over more seeds than one bench folder holds: rows of committed bench `results.csv` files plus
finished `prefrl train` run folders, grouped as the bench report groups them (each label budget, selection and
teacher; each place a true-reward baseline trained; each RL algorithm), with the mean ratio to the strongest baseline
(RESULTS.md, twenty-ninth session). A seed found twice in one group is an error, not averaged (unless both give
the same return to the last digit: one run copied into two bench folders). The sources must
share their settings (the same truth, the same defaults): the csv does not record them, so nothing here checks.

    python results/scripts/seed_means.py --env Swimmer --csv results/paper-mujoco-v16/results.csv runs/s29/Swimmer__*
"""
import argparse
import csv
import json
from pathlib import Path

import numpy as np

from agents.benchmark import format_ratio, trained_on

Key = tuple  # (labels or None, selection, teacher, where the baseline trained or "", RL algorithm, bounds on r̂)
BOUNDS = ("optimism", "pessimism")  # settings of a learned-reward run that split its group (a csv holds neither)


def group(labels: int | None, row: dict, selection: str, teacher: str, cfg: dict | None = None) -> Key:
    """The group of a cell or run: as the bench report's, and split by RL algorithm (runs from before ``--algo``
    trained PPO) and by the run config's (``cfg``) bounds on r̂, ``--optimism`` and ``--pessimism``."""
    bounds = ", ".join(f"{k} {cfg[k]:g}" for k in BOUNDS if cfg and cfg.get(k)) if labels else ""
    return labels, selection, teacher, "" if labels else trained_on(row), row.get("algo") or "ppo", bounds


def csv_rows(path: Path, env: str) -> list[tuple[Key, int, float, str]]:
    """(group, seed, final gym-task return, source) for each finished cell of ``env`` in a bench results.csv."""
    out = []
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["env"] != env or r["status"] != "done":
                continue
            labels = int(r["labels"]) if r["labels"] else None
            out.append((group(labels, r, r["selection"], r["teacher"]), int(r["seed"]), float(r["true_return_mean"]),
                        f"{path}:{r['cell']}"))
    return out


def run_row(run: Path) -> tuple[str, Key, int, float, str]:
    """(env, group, seed, final gym-task return, source) of one finished run folder."""
    res, cfg = (json.loads((run / name).read_text()) for name in ("result.json", "config.json"))
    if res.get("reward_from"):
        raise SystemExit(f"{run}: trained on another run's r̂ (--reward-from), not a grid cell")
    labels = None if res["reward"] == "true" else res["label_budget"]
    key = group(labels, res, cfg["selection"], cfg["teacher"], cfg)
    return res["env"], key, res["seed"], float(res["true_return_mean"]), str(run)


def name(key: Key) -> str:
    labels, sel, teacher, where, algo, bounds = key
    if labels is None:
        return f"true reward ({algo.upper()}" + ("" if where == "harness" else f", {where} task") + ")"
    return f"{labels} labels ({sel}, {teacher}, {algo.upper()}" + (f", {bounds}" if bounds else "") + ")"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", required=True)
    p.add_argument("--csv", type=Path, action="append", default=[], help="a bench folder's results.csv")
    p.add_argument("runs", type=Path, nargs="*", help="finished prefrl train run folders")
    p.add_argument("--reference", type=float, default=None, metavar="RETURN",
                   help="also give each ratio to this published return (e.g. rl-zoo's, where the measured "
                        "baseline falls below it and so is no yardstick)")
    args = p.parse_args()
    rows = [row for path in args.csv for row in csv_rows(path, args.env)]
    for run in args.runs:
        env, *row = run_row(run)
        if env == args.env:
            rows.append(tuple(row))
    groups: dict[Key, dict[int, tuple[float, str]]] = {}
    for key, seed, ret, src in rows:
        if seed in groups.setdefault(key, {}) and groups[key][seed][0] == ret:
            continue  # one run in two folders (a cell copied by --reuse): the same return to the last digit
        if seed in groups[key]:
            raise SystemExit(f"seed {seed} twice in {name(key)}: {groups[key][seed][1]} and {src}")
        groups[key][seed] = (ret, src)
    means = {k: float(np.mean([r for r, _ in g.values()])) for k, g in groups.items()}
    baselines = [k for k in groups if k[0] is None]
    best = max(baselines, key=means.__getitem__) if baselines else None
    ref = f" | ratio to {args.reference:g}" if args.reference else ""
    print(f"| {args.env} | seeds | returns by seed | mean +- std | ratio to {name(best) if best else 'no baseline'}"
          f"{ref} |")
    print("|---|---|---|---|---|" + ("---|" if ref else ""))
    for key in sorted(groups, key=lambda k: (k[0] or 0, *k[1:])):
        g = groups[key]
        rets = [g[s][0] for s in sorted(g)]
        ratio = format_ratio(means[key], means[best], 2) if best and key[0] is not None else ""
        to_ref = f" {format_ratio(means[key], args.reference, 2)} |" if ref else ""
        print(f"| {name(key)} | {','.join(map(str, sorted(g)))} | {' / '.join(f'{r:.1f}' for r in rets)} | "
              f"{means[key]:.1f} +- {np.std(rets):.1f} | {ratio} |{to_ref}")


if __name__ == "__main__":
    main()
