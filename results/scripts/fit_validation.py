"""Out-of-bag validation against an independent 1/e split (FitConfig.validation), on a known reward.

A linear reward of 8 standard-normal features; 15-step clip pairs labeled by it; the paper's fit
(3 members, 10 rounds of 4 passes); accuracy of r̂'s preference on 1,000 fresh pairs, per seed.

    python results/scripts/fit_validation.py
"""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from test_reward_model import ACT, OBS, T, synthetic_pairs  # noqa: E402

from preference.fitting import EnsembleTrainer, FitConfig  # noqa: E402
from preference.reward_model import RewardEnsemble  # noqa: E402


def held_out_accuracy(n_pairs: int, seed: int, validation: str) -> tuple[float, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=OBS + ACT)
    ens = RewardEnsemble(OBS, ACT, n_members=3, seed=seed)
    trainer = EnsembleTrainer(ens, FitConfig(validation=validation), rng=np.random.default_rng(seed + 100))
    for a, b, m in zip(*synthetic_pairs(rng, n_pairs, w)):
        trainer.add(a, b, m)
    for _ in range(10):
        trainer.fit(4 * len(trainer))
    ens.normalize(rng.normal(size=(2000, OBS + ACT)))
    xa, xb, mu = synthetic_pairs(rng, 1000, w)
    ra = ens.predict(xa[..., :OBS].reshape(-1, OBS), xa[..., OBS:].reshape(-1, ACT)).reshape(1000, T).sum(1)
    rb = ens.predict(xb[..., :OBS].reshape(-1, OBS), xb[..., OBS:].reshape(-1, ACT)).reshape(1000, T).sum(1)
    return float(np.mean((ra > rb) == (mu > 0.5))), ens.l2_coef.numpy().copy()


def main() -> None:
    torch.set_num_threads(1)
    print("| pairs | validation | held-out accuracy, mean of 6 seeds | per seed | final l2 (mean over members and seeds) |")
    print("|---|---|---|---|---|")
    for n in (50, 150, 400):
        for validation in ("split", "out-of-bag"):
            runs = [held_out_accuracy(n, seed, validation) for seed in range(6)]
            accs = [a for a, _ in runs]
            l2 = np.mean([l for _, l in runs])
            print(f"| {n} | {validation} | {np.mean(accs):.3f} | {' '.join(f'{a:.3f}' for a in accs)} | {l2:.3g} |")


if __name__ == "__main__":
    main()
