"""The Atari reward model: the paper's CNN ensemble learns a known preference on synthetic frames."""

import numpy as np
import torch

from preference.cnn_reward import CnnRewardEnsemble, RewardCNN, pack, unpack
from preference.fitting import EnsembleTrainer, FitConfig


def synthetic_clip(rng: np.random.Generator, steps: int = 4) -> tuple[np.ndarray, float]:
    """Frame stacks [steps, 4, 84, 84] of noise with a bright square whose brightness is the reward."""
    x = rng.integers(0, 60, (steps, 4, 84, 84), dtype=np.uint8)
    level = rng.uniform(0, 1, steps)
    for t in range(steps):
        x[t, :, 40:60, 40:60] = np.uint8(80 + 170 * level[t])
    return x, float(level.sum())


def test_the_architecture_is_the_papers():
    net = RewardCNN()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size[0] for c in convs] == [7, 5, 3, 3] and [c.stride[0] for c in convs] == [3, 2, 1, 1]
    assert all(c.out_channels == 16 for c in convs)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == 4
    assert [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)] == [0.5] * 4
    assert net(torch.zeros(2, 3, 4, 84, 84, dtype=torch.uint8)).shape == (2, 3)


def test_pack_is_exact_and_compact_across_a_new_game():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (40, 84, 84), dtype=np.uint8)
    stacks = np.stack([frames[t:t + 4] for t in range(20)])  # overlapping stacks
    stacks[12] = rng.integers(0, 255, (4, 84, 84), dtype=np.uint8)  # a new game: no overlap
    stacks[13] = np.concatenate([stacks[12][1:], frames[None, 30]])
    packed = pack(stacks)
    assert (unpack(packed) == stacks).all()
    assert len(packed[0]) < 4 * 20 // 2


def test_the_cnn_ensemble_learns_a_known_preference():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ens = CnnRewardEnsemble(n_members=2, target_std=0.05, seed=0)
    trainer = EnsembleTrainer(ens, FitConfig(normalize_inputs=False, buffer=100, lr=1e-3), np.random.default_rng(1))
    for _ in range(60):
        (a, ra), (b, rb) = synthetic_clip(rng), synthetic_clip(rng)
        trainer.add(ens.inputs(a, None), ens.inputs(b, None), 1.0 if ra > rb else 0.0)
    for _ in range(2):
        stats = trainer.fit(200)
    ens.normalize(np.concatenate([synthetic_clip(rng)[0] for _ in range(20)]))
    test = [synthetic_clip(rng) for _ in range(40)]
    pred = np.array([ens.predict(x, None).sum() for x, _ in test])
    true = np.array([r for _, r in test])
    assert np.corrcoef(pred, true)[0, 1] > 0.8, (np.corrcoef(pred, true)[0, 1], stats)
    steps = np.concatenate([x for x, _ in test])
    assert abs(float(ens.predict(steps, None).std()) - 0.05) < 0.02  # r̂ normalized to std 0.05
