"""Batch norm in the CNN reward fit: both sides of a pair in one pass, or each side in its own (the default).

Fits the paper's CNN ensemble (2 members) on 60 synthetic comparisons whose known reward is a square's
brightness (the frames of tests/test_atari_reward.py), for 2 and 6 rounds of 200 comparisons, over 4 seeds,
and prints the correlation of r̂ with the true return on 40 fresh clips, the training accuracy and the
fitting time.

    python results/scripts/bn_passes.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from test_atari_reward import synthetic_clip  # noqa: E402

from preference.cnn_reward import CnnRewardEnsemble  # noqa: E402
from preference.fitting import EnsembleTrainer, FitConfig  # noqa: E402


class JointPassTrainer(EnsembleTrainer):
    """Both sides of every pair through one forward pass: batch norm statistics over the two together."""

    def pair_returns(self, k: int, xa: torch.Tensor, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ra, rb = self.ens.member_reward(k, torch.cat([xa, xb])).sum(-1).split(len(xa))
        return ra, rb


def run(joint: bool, rounds: int, seed: int) -> tuple[float, float, float]:
    """(corr of r̂ with the truth on fresh clips, training accuracy, fitting seconds)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    ens = CnnRewardEnsemble(n_members=2, target_std=0.05, seed=seed)
    trainer = (JointPassTrainer if joint else EnsembleTrainer)(
        ens, FitConfig(normalize_inputs=False, buffer=100, lr=1e-3), np.random.default_rng(seed + 1))
    for _ in range(60):
        (a, ra), (b, rb) = synthetic_clip(rng), synthetic_clip(rng)
        trainer.add(ens.inputs(a, None), ens.inputs(b, None), 1.0 if ra > rb else 0.0)
    t0 = time.perf_counter()
    for _ in range(rounds):
        stats = trainer.fit(200)
    seconds = time.perf_counter() - t0
    ens.normalize(np.concatenate([synthetic_clip(rng)[0] for _ in range(20)]))
    test = [synthetic_clip(rng) for _ in range(40)]
    pred = np.array([ens.predict(x, None).sum() for x, _ in test])
    true = np.array([r for _, r in test])
    return float(np.corrcoef(pred, true)[0, 1]), stats.train_acc, seconds


def main() -> None:
    torch.set_num_threads(1)
    print("| passes | rounds | corr per seed 0-3 | train acc per seed | fit seconds (mean) |")
    print("|---|---|---|---|---|")
    for rounds in (2, 6):
        for joint in (False, True):
            rows = [run(joint, rounds, seed) for seed in range(4)]
            print(f"| {'one joint pass' if joint else 'one per side'} | {rounds} | "
                  f"{' '.join(f'{r[0]:.2f}' for r in rows)} | {' '.join(f'{r[1]:.2f}' for r in rows)} | "
                  f"{np.mean([r[2] for r in rows]):.1f} |", flush=True)


if __name__ == "__main__":
    main()
