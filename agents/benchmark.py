"""Benchmark: learned-reward PPO against true-reward PPO on one task, same harness, same seeds."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.config import TrainConfig


def return_ratio(learned: float, baseline: float) -> float | None:
    """learned / baseline; None where the baseline return is not positive (Reacher's returns are all
    negative: a ratio there would reward the worse agent with a larger number)."""
    return learned / baseline if baseline == baseline and baseline > 0 else None


def format_ratio(learned: float, baseline: float, digits: int = 3) -> str:
    """``return_ratio`` for a table: the number, or why there is none."""
    r = return_ratio(learned, baseline)
    if r is not None:
        return f"{r:.{digits}f}"
    return "n/a: baseline return <= 0" if baseline == baseline else "no baseline"


def trained_on(row: dict[str, Any]) -> str:
    """Where a true-reward run trained: `harness` or `gym` (results from before the option lack the key)."""
    return row.get("true_task") or "harness"


def summarize(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Mean over seeds per reward mode, the return ratio and the throughput ratio, as JSON and markdown."""
    by = {mode: [r for r in rows if r["reward"] == mode] for mode in ("preferences", "true")}

    def mean(mode: str, key: str) -> float:
        vals = [r[key] for r in by[mode] if r.get(key) is not None]
        return float(np.mean(vals)) if vals else float("nan")

    s: dict[str, Any] = {"env": rows[0]["env"], "seeds": sorted({r["seed"] for r in rows}),
                         "timesteps": rows[0]["timesteps"], "label_budget": max(r["label_budget"] for r in rows)}
    for mode in by:
        for key in ("true_return_mean", "oracle_return_mean", "steps_per_sec", "learn_seconds"):
            s[f"{mode}.{key}"] = mean(mode, key)
    s["preferences.reward_val_acc"] = mean("preferences", "reward_val_acc")
    s["preferences.reward_heldout_corr"] = mean("preferences", "reward_heldout_corr")
    s["preferences.fit_seconds"] = mean("preferences", "fit_seconds")
    s["return_ratio"] = return_ratio(s["preferences.true_return_mean"], s["true.true_return_mean"])
    s["oracle_return_ratio"] = return_ratio(s["preferences.oracle_return_mean"], s["true.oracle_return_mean"])
    s["throughput_ratio"] = s["preferences.steps_per_sec"] / s["true.steps_per_sec"]
    lines = [
        f"### {s['env']}: {s['label_budget']} synthetic labels vs true reward, "
        f"{s['timesteps']:,} steps, seeds {s['seeds']}",
        "",
        "| run | seed | true return (gym task) | oracle return | steps/s | reward val acc | held-out corr |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["reward"], r["seed"])):
        acc = "" if r.get("reward_val_acc") is None else f"{r['reward_val_acc']:.3f}"
        corr = "" if r.get("reward_heldout_corr") is None else f"{r['reward_heldout_corr']:.3f}"
        run = r["reward"] + (f" ({trained_on(r)} task)" if r["reward"] == "true" and trained_on(r) != "harness" else "")
        lines.append(f"| {run} | {r['seed']} | {r['true_return_mean']:.1f} +- {r['true_return_std']:.1f} "
                     f"| {r['oracle_return_mean']:.1f} | {r['steps_per_sec']:.0f} | {acc} | {corr} |")
    lines += ["",
              "- return ratio (learned / true reward, gym task return): "
              f"**{format_ratio(s['preferences.true_return_mean'], s['true.true_return_mean'])}**",
              "- oracle-return ratio: "
              f"{format_ratio(s['preferences.oracle_return_mean'], s['true.oracle_return_mean'])}",
              f"- throughput ratio (steps/s learned / true, fitting and labeling included): "
              f"**{s['throughput_ratio']:.3f}**", ""]
    return s, "\n".join(lines)


def is_one_comparison(rows: list[dict[str, Any]]) -> bool:
    """The rows are one task's learned-reward runs of a single setting (labels, selection, teacher)
    beside its true-reward runs: what summary.md's two ratios describe (a suite's variants are not)."""
    learned = {(r.get("labels"), r.get("selection"), r.get("teacher")) for r in rows if r["reward"] == "preferences"}
    return (len({r["env"] for r in rows}) == 1 and len(learned) == 1
            and {r["reward"] for r in rows} == {"preferences", "true"})


@dataclass(frozen=True)
class Grid:
    """Which cells a bench holds: a ``suite`` narrowed to ``tasks`` and label ``budgets`` where given (or,
    without one, the base config's task at its label budget against the true reward); ``seeds``: a count
    (0..N-1) or the seeds; ``true_task``: where the true-reward cells train; ``only``: ``baselines`` or
    ``learned`` keeps just those cells (e.g. the baselines of seeds another machine trains learned cells on)."""

    suite: str | None = None
    seeds: int | list[int] | None = None
    true_task: str = "harness"
    tasks: list[str] | None = None
    budgets: list[int] | None = None
    only: str | None = None


def bench_cells(base: TrainConfig, grid: Grid):
    """The cells of ``grid`` and the folder name the bench gets without ``--name``; returns
    (list of suites.Cell, str)."""
    from agents.suites import Cell, seed_list, suite_cells

    if grid.suite is not None:
        cells = suite_cells(grid.suite, grid.seeds, base.env if base.env != TrainConfig().env else None,
                            base.timesteps, grid.true_task, grid.tasks, grid.budgets)
        name = f"{grid.suite}__{time.strftime('%Y%m%d-%H%M%S')}"
    else:
        from envs.registry import get_task
        spec = get_task(base.env)
        steps = base.timesteps or spec.default_timesteps
        labels = base.labels or spec.default_labels
        cells = [c for seed in seed_list(grid.seeds, 1)
                 for c in (Cell(spec.name, None, seed, steps, true_task=grid.true_task),
                           Cell(spec.name, labels, seed, steps, base.selection, base.teacher))]
        name = f"{spec.name}__{labels}__{time.strftime('%Y%m%d-%H%M%S')}"
    if grid.only is not None:
        cells = [c for c in cells if (c.labels is None) == (grid.only == "baselines")]
    for cell in cells:  # a setting one task of the grid cannot take (--algo trpo on Atari) is refused up front
        cell.config(base).validate()
    return cells, name


def plan_bench(base: TrainConfig, grid: Grid, name: str | None, reuse: list[Path] | None = None) -> list[str]:
    """What ``run_bench`` with these arguments would do, cell by cell (suites.plan_suite); writes nothing."""
    from agents.suites import plan_suite

    cells, default_name = bench_cells(base, grid)
    return plan_suite(cells, base, Path(base.runs_dir) / "bench" / (name or default_name), reuse)


def run_bench(base: TrainConfig, grid: Grid, name: str | None, workers: int, executor: str = "processes",
              address: str | None = None, reuse: list[Path] | None = None) -> Path:
    """Run the cells of ``grid`` in the bench folder ``name`` and write its report; for a single task also
    summary.md with the return and throughput ratios. ``reuse``: other bench folders (or train runs) whose
    finished cells of the same settings are copied in. A folder run in parts (``tasks``, ``budgets``,
    ``only``) reports every cell asked for in it."""
    from agents.suites import run_suite, write_report

    cells, default_name = bench_cells(base, grid)
    out = Path(base.runs_dir) / "bench" / (name or default_name)
    rows = run_suite(cells, base, out, workers, executor, address, reuse)
    write_report(out)
    done = [r for r in rows if r["status"] == "done"]
    if is_one_comparison(done):
        summary, md = summarize(done)
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        (out / "summary.md").write_text(md)
    return out
