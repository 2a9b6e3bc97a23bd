"""The Atari reward predictor r̂(o) of Christiano et al. 2017: an ensemble of small CNNs.

Each member sees the last 4 masked frames, [4, 84, 84] uint8 (scaled to [0, 1]): 4 conv layers
(kernels 7, 5, 3, 3; strides 3, 2, 1, 1; 16 filters), each followed by batch norm, leaky ReLU
0.01 and dropout 0.5; then a fully connected layer of 64 (leaky ReLU) and a scalar. r̂ depends
on frames only (the action input is ignored). As with the MuJoCo ensemble, r̂ is the mean of the
members after each is normalized independently, rescaled to std ``target_std`` (0.05 for Atari).

The interface is ``RewardEnsemble``'s, so ``EnsembleTrainer`` and ``PreferenceLoop`` use it as
they are. Inference (``predict``, ``predict_members``) runs on a frozen copy of the members in
eval mode, refreshed by ``refresh`` after each fit: a fit in a background thread (train mode,
dropout, batch-norm updates) never touches what the policy's reward is computed with.
Comparisons are kept compactly (``pack``): consecutive frame stacks share 3 of 4 frames, so a
25-step clip holds 28 distinct frames (198 KB) instead of 100 (706 KB).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn

from preference.reward_model import LEAK, NormalizedEnsemble

FRAME_SHAPE = (4, 84, 84)


class RewardCNN(nn.Module):
    """One member: frames [..., 4, 84, 84] (uint8 or float in [0, 255]) -> reward [...]."""

    def __init__(self, filters: int = 16, hidden: int = 64, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = []
        last = FRAME_SHAPE[0]
        for kernel, stride in ((7, 3), (5, 2), (3, 1), (3, 1)):
            layers += [nn.Conv2d(last, filters, kernel, stride), nn.BatchNorm2d(filters), nn.LeakyReLU(LEAK),
                       nn.Dropout(dropout)]
            last = filters
        self.conv = nn.Sequential(*layers)
        side = 84
        for kernel, stride in ((7, 3), (5, 2), (3, 1), (3, 1)):
            side = (side - kernel) // stride + 1
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(filters * side * side, hidden), nn.LeakyReLU(LEAK),
                                  nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-3]
        x = x.reshape(-1, *FRAME_SHAPE).float() / 255.0
        return self.head(self.conv(x)).reshape(lead)

    def l2(self) -> torch.Tensor:
        return sum((m.weight ** 2).sum() for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def pack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame stacks [T, k, H, W] -> (distinct frames [F, H, W], index [T, k]); ``unpack`` inverts it exactly.

    Consecutive stacks that overlap (stack t = stack t-1 shifted by one new frame) share frames;
    any other stack (e.g. the first of a new game) keeps all of its k frames.
    """
    x = np.asarray(x)
    t_len, k = x.shape[:2]
    # a stack is [oldest .. newest]: stack t overlaps t-1 when its k-1 oldest are t-1's k-1 newest
    same = (x[1:, :-1] == x[:-1, 1:]).reshape(t_len - 1, -1).all(1)
    frames = list(x[0])
    index = np.empty((t_len, k), np.int32)
    index[0] = np.arange(k)
    for t in range(1, t_len):
        if same[t - 1]:
            index[t, :-1] = index[t - 1, 1:]
            index[t, -1] = len(frames)
            frames.append(x[t, -1])
        else:
            index[t] = np.arange(len(frames), len(frames) + k)
            frames.extend(x[t])
    return np.stack(frames), index


def unpack(packed: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Inverse of ``pack``: -> [T, k, H, W]."""
    frames, index = packed
    return frames[index]


class CnnRewardEnsemble(NormalizedEnsemble):
    """``n_members`` reward CNNs with per-member normalization and l2 coefficients.

    Example:
        >>> ens = CnnRewardEnsemble(n_members=3, target_std=0.05)
        >>> ens.predict(obs_uint8_batch, actions)   # [B, 4, 84, 84] -> [B]
    """

    def __init__(self, n_members: int = 3, target_std: float = 0.05, init_l2: float = 1e-3,
                 device: str | torch.device = "cpu", seed: int = 0, infer_batch: int = 256):
        super().__init__(RewardCNN, n_members, target_std, init_l2, seed)
        self.infer_batch = infer_batch
        self.device_ = torch.device(device)
        self.to(self.device_)
        self.refresh()

    def inputs(self, obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
        """The predictor's input for steps: the frames themselves, [..., 4, 84, 84] uint8 (no copy)."""
        return np.asarray(obs)

    # the trainer keeps comparisons compactly
    pack = staticmethod(pack)
    unpack = staticmethod(unpack)

    def set_input_stats(self, x: np.ndarray) -> None:
        """Frames are scaled to [0, 1] inside each member; nothing to standardize."""

    # -- inference on a frozen copy -------------------------------------------------------
    @torch.no_grad()
    def refresh(self) -> None:
        """Snapshot the members (eval mode) and the normalization for ``predict``; one assignment,
        so a reader in another thread sees the old snapshot or the new one, never a mix."""
        members = copy.deepcopy(self.members).eval()
        for p in members.parameters():
            p.requires_grad_(False)
        mean, std = self.member_mean.clone(), self.member_std.clone()
        self._infer = (members, mean, std, float(self.scale))

    @torch.no_grad()
    def _frozen_members(self, x: np.ndarray) -> torch.Tensor:
        members = self._infer[0]
        x = np.asarray(x)
        outs = []
        for i in range(0, len(x), self.infer_batch):
            t = self.member_inputs(torch.as_tensor(x[i:i + self.infer_batch], device=self.device_))
            outs.append(torch.stack([m(t) for m in members]))
        if not outs:
            return torch.zeros((self.n_members, 0), device=self.device_)
        return torch.cat(outs, 1)

    def predict_members(self, x: np.ndarray) -> np.ndarray:
        """Raw member rewards for frames x [B, 4, 84, 84] -> [M, B] (numpy)."""
        return self._frozen_members(x).float().cpu().numpy()

    def predict(self, obs: np.ndarray, acts: np.ndarray, pessimism: float = 0.0) -> np.ndarray:
        """r̂ for a batch of steps: obs [B, 4, 84, 84] -> [B] float32 (acts are ignored); ``pessimism`` k
        lowers it by k times the members' standard deviation, as ``RewardEnsemble.predict``."""
        _, mean, std, scale = self._infer
        raw = self._frozen_members(obs)
        z = (raw - mean[:, None]) / std[:, None]
        r = z.mean(0) - pessimism * z.std(0, correction=0) if pessimism else z.mean(0)
        return (r * scale).float().cpu().numpy()

    # -- normalization -------------------------------------------------------------------
    @torch.no_grad()
    def normalize(self, x: np.ndarray, max_steps: int = 600) -> None:
        """Set each member's mean/std and the output scale from frames x [N, 4, 84, 84]
        (at most ``max_steps`` evenly spaced of them), then refresh the inference copy."""
        x = np.asarray(x)
        if len(x) > max_steps:
            x = x[np.linspace(0, len(x) - 1, max_steps).round().astype(int)]
        self.eval()
        raw = torch.cat([self.member_rewards(torch.as_tensor(x[i:i + self.infer_batch], device=self.device_))
                         for i in range(0, len(x), self.infer_batch)], 1)
        self.set_normalization(raw)
        self.refresh()

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        torch.save({"state": self.state_dict(), "n_members": self.n_members, "target_std": self.target_std,
                    "kind": "cnn"}, path)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> "CnnRewardEnsemble":
        blob = torch.load(path, map_location="cpu", weights_only=True)
        ens = cls(blob["n_members"], target_std=blob["target_std"], device=device)
        ens.load_state_dict(blob["state"])
        ens.refresh()
        return ens
