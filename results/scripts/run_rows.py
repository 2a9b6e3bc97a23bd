"""One markdown row per run folder: labels, seed, gym-task return, oracle return, unhealthy share in evaluation,
the policy's final action std (TensorBoard `train/std`), held-out correlation (`-` where the run fitted no r̂:
`--reward-from`, true reward), steps/s, resumed (RESULTS.md, twenty-sixth session).

    python results/scripts/run_rows.py RUN [RUN ...]
"""
import json
import sys
from pathlib import Path

from tb_curves import curve  # results/scripts/tb_curves.py, beside this script

for run in map(Path, sys.argv[1:]):
    r = json.loads((run / "result.json").read_text())
    std = curve(run, "train/std", 2)[-1][1]  # the last logged value
    corr = "-" if r["reward_heldout_corr"] is None else f"{r['reward_heldout_corr']:.3f}"
    print(f"| {r['label_budget']} | {r['seed']} | {r['true_return_mean']:.1f} +- {r['true_return_std']:.1f} | "
          f"{r['oracle_return_mean']:.1f} | {r['oracle_unhealthy_fraction']:.1%} | {std:.2f} | "
          f"{corr} | {r['steps_per_sec']:.0f} | {'yes' if r['resumed'] else 'no'} |")
