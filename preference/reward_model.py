"""The ensemble reward predictor r̂(o, a) of Christiano et al. 2017 (MuJoCo variant).

Each member is an MLP (2 hidden layers of 64, leaky ReLU 0.01) on (observation, action). r̂ is
the mean of the members after each is normalized independently, rescaled to std ``target_std``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

LEAK = 0.01


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU. Raise ValueError for CUDA without a GPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA GPU is available")
    try:
        return torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r} (use auto, cpu or cuda)") from None


class RewardMLP(nn.Module):
    """One member: input [..., in_dim] -> reward [...]."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...] = (64, 64)):
        super().__init__()
        layers: list[nn.Module] = []
        last = in_dim
        for h in hidden:
            layers += [nn.Linear(last, h), nn.LeakyReLU(LEAK)]
            last = h
        layers.append(nn.Linear(last, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def l2(self) -> torch.Tensor:
        return sum((m.weight ** 2).sum() for m in self.net if isinstance(m, nn.Linear))


class NormalizedEnsemble(nn.Module):
    """What every reward ensemble shares: ``n_members`` seeded members, an l2 coefficient each, and
    r̂ as the mean of the members after each is normalized (mean 0, std 1), rescaled to std
    ``target_std``. Subclasses define ``refresh`` and, where members need their inputs transformed,
    ``member_inputs``: training and prediction both reach the members through it."""

    def __init__(self, make_member: Callable[[], nn.Module], n_members: int, target_std: float,
                 init_l2: float, seed: int):
        super().__init__()
        self.target_std = target_std
        with torch.random.fork_rng():  # seeded initialization that leaves the global generator alone
            torch.manual_seed(seed)
            self.members = nn.ModuleList(make_member() for _ in range(n_members))
        self.register_buffer("l2_coef", torch.full((n_members,), float(init_l2)))
        self.register_buffer("member_mean", torch.zeros(n_members))
        self.register_buffer("member_std", torch.ones(n_members))
        self.register_buffer("scale", torch.ones(()))

    @property
    def n_members(self) -> int:
        return len(self.members)

    def member_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """What the members see of inputs x (here: x itself)."""
        return x

    def member_reward(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """Raw (unnormalized) reward of member ``k``: x [..., *input] -> [...], as fitted."""
        return self.members[k](self.member_inputs(x))

    def member_rewards(self, x: torch.Tensor) -> torch.Tensor:
        """Raw rewards of every member: x [..., *input] -> [M, ...], with the same inputs as fitted."""
        x = self.member_inputs(x)
        return torch.stack([m(x) for m in self.members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized ensemble reward r̂: x [..., *input] -> [...]."""
        raw = self.member_rewards(x)
        shape = (-1,) + (1,) * (raw.dim() - 1)
        z = (raw - self.member_mean.view(shape)) / self.member_std.view(shape)
        return z.mean(0) * self.scale

    @torch.no_grad()
    def set_normalization(self, raw: torch.Tensor) -> None:
        """Each member's mean/std and the output scale from raw member rewards on sample steps, [M, N]."""
        self.member_mean.copy_(raw.mean(1))
        self.member_std.copy_(raw.std(1).clamp_min(1e-6))
        z = ((raw - self.member_mean[:, None]) / self.member_std[:, None]).mean(0)
        self.scale.fill_(self.target_std / float(z.std().clamp_min(1e-6)))


class RewardEnsemble(NormalizedEnsemble):
    """``n_members`` reward MLPs with per-member normalization and l2 coefficients.

    ``predict`` is the hot path called on every env step: on CPU it runs a numpy snapshot of the
    stacked member weights (refreshed by ``refresh``), which costs a few microseconds per call,
    against tens for torch's per-op overhead.
    """

    def __init__(self, obs_dim: int, act_dim: int, n_members: int = 3, hidden: tuple[int, ...] = (64, 64),
                 target_std: float = 1.0, init_l2: float = 1e-2, device: str | torch.device = "cpu",
                 seed: int = 0):
        in_dim = obs_dim + act_dim
        super().__init__(lambda: RewardMLP(in_dim, hidden), n_members, target_std, init_l2, seed)
        self.obs_dim, self.act_dim, self.in_dim = obs_dim, act_dim, in_dim
        self.register_buffer("in_mean", torch.zeros(self.in_dim))
        self.register_buffer("in_std", torch.ones(self.in_dim))
        self.device_ = torch.device(device)
        self.to(self.device_)
        self.refresh()

    def inputs(self, obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
        """Concatenate obs [..., obs_dim] and acts [..., act_dim] -> [..., in_dim] float32.

        An ensemble built with ``act_dim=0`` rewards observations only and ignores ``acts``.
        """
        obs = np.asarray(obs, dtype=np.float32).reshape(*np.shape(obs)[:-1], -1)
        if self.act_dim == 0:
            return obs
        acts = np.asarray(acts, dtype=np.float32).reshape(*np.shape(acts)[:-1], -1)
        return np.concatenate([obs, acts], axis=-1)

    def member_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs x [..., in_dim] scaled by the data set's statistics: the members see them standardized."""
        return (x - self.in_mean) / self.in_std

    @torch.no_grad()
    def set_input_stats(self, x: np.ndarray) -> None:
        """Standardize inputs with the mean/std of sample inputs x [N, in_dim].

        Once the members have been trained on earlier statistics, their first layers are
        rescaled so that every member computes exactly the same function of the raw inputs as
        before: new statistics improve conditioning without moving r̂ under the policy's feet.
        """
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.in_dim)
        mean = torch.as_tensor(x.mean(0), dtype=torch.float32, device=self.in_mean.device)
        std = torch.as_tensor(x.std(0) + 1e-3, dtype=torch.float32, device=self.in_std.device)
        if bool(self.in_mean.any()) or not bool((self.in_std == 1).all()):
            for member in self.members:
                first = member.net[0]
                # W' (x - m') / s' + b' == W (x - m) / s + b for every x
                first.bias.add_(first.weight @ ((mean - self.in_mean) / self.in_std))
                first.weight.mul_(std / self.in_std)
        self.in_mean.copy_(mean)
        self.in_std.copy_(std)

    # -- fast inference ------------------------------------------------------------------
    def refresh(self) -> None:
        """Fuse the current weights into numpy matrices for ``predict`` / ``predict_members``.

        Members are laid side by side: the first layer is one [in, M*h] matrix, later layers are
        block-diagonal, so a forward pass of the whole ensemble is one plain matmul per layer.
        The normalization (member mean/std, mean over members, output scale) is folded into
        the last layer for ``predict``.
        """
        linears = [[l for l in m.net if isinstance(l, nn.Linear)] for m in self.members]
        n_layers = len(linears[0])
        fused: list[tuple[np.ndarray, np.ndarray]] = []
        for layer in range(n_layers):
            ws = [ls[layer].weight.detach().cpu().numpy().T.astype(np.float64) for ls in linears]
            bs = [ls[layer].bias.detach().cpu().numpy().astype(np.float64) for ls in linears]
            if layer == 0:  # fold the input standardization into the first layer
                w = np.concatenate(ws, axis=1)
                mean = self.in_mean.cpu().numpy().astype(np.float64)
                std = self.in_std.cpu().numpy().astype(np.float64)
                bs = [b - (mean / std) @ wk for b, wk in zip(bs, ws)]
                w = w / std[:, None]
            else:
                w = np.zeros((sum(x.shape[0] for x in ws), sum(x.shape[1] for x in ws)))
                r = c = 0
                for x in ws:
                    w[r:r + x.shape[0], c:c + x.shape[1]] = x
                    r, c = r + x.shape[0], c + x.shape[1]
            fused.append((w.astype(np.float32), np.concatenate(bs).astype(np.float32)))
        mean = self.member_mean.cpu().numpy().astype(np.float64)
        std = self.member_std.cpu().numpy().astype(np.float64)
        coef = float(self.scale) / (self.n_members * std)  # weight of each member's raw output
        w_last, b_last = fused[-1]
        head_w = (w_last.astype(np.float64) @ coef).astype(np.float32)  # [M*h]
        head_b = float(((b_last.astype(np.float64) - mean) * coef).sum())
        # One assignment, so a reader in another thread sees old or new weights, never a mix.
        self._fast = (fused, head_w, head_b, fused[0][0][: self.obs_dim], fused[0][0][self.obs_dim:],
                      (mean, std, float(self.scale)))

    @staticmethod
    def _hidden(fused: list[tuple[np.ndarray, np.ndarray]], h: np.ndarray) -> np.ndarray:
        """Hidden activations of all members after the first layer's pre-activation h [B, M*h1]."""
        for w, b in fused[1:-1]:
            h = np.maximum(h, LEAK * h)
            h = h @ w + b
        return np.maximum(h, LEAK * h)

    def normalized_members(self, x: np.ndarray, fast: tuple | None = None) -> np.ndarray:
        """Each member's reward after its own normalization (mean 0, std 1 on the normalization steps),
        before the ensemble's mean and output scale: x [B, in_dim] -> [M, B] float64 (numpy, any device;
        ``fast``: the weight snapshot to use, default the current one)."""
        fast = self._fast if fast is None else fast
        mean, std, _ = fast[-1]  # the snapshot's own, consistent with its weights
        return (self.predict_members(x, fast).astype(np.float64) - mean[:, None]) / std[:, None]

    def predict_members(self, x: np.ndarray, fast: tuple | None = None) -> np.ndarray:
        """Raw member rewards for a batch x [B, in_dim] -> [M, B] (numpy)."""
        fused = (self._fast if fast is None else fast)[0]
        (w0, b0), (w, b) = fused[0], fused[-1]
        h = self._hidden(fused, np.asarray(x, dtype=np.float32) @ w0 + b0)
        return (h @ w + b).T

    def predict(self, obs: np.ndarray, acts: np.ndarray, pessimism: float = 0.0) -> np.ndarray:
        """r̂ for a batch of steps: obs [B, obs_dim], acts [B, act_dim] -> [B] float32.

        With ``pessimism`` k > 0, each step's r̂ is lowered by k times the standard deviation of the
        normalized members there (in r̂'s units): a lower confidence bound that pays less where the
        members disagree, i.e. away from the labeled clips. With k < 0 it is raised by |k| times that
        standard deviation: an upper bound, which pays more there (optimism).
        """
        if pessimism:
            fast = self._fast  # one snapshot, in case a fit in another thread swaps it
            z = self.normalized_members(self.inputs(obs, acts), fast)
            return (fast[-1][-1] * (z.mean(0) - pessimism * z.std(0))).astype(np.float32)
        if self.device_.type != "cpu":
            x = self.inputs(obs, acts)
            with torch.inference_mode():
                return self(torch.as_tensor(x, device=self.device_)).float().cpu().numpy()
        obs = np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)
        fused, head_w, head_b, w0_obs, w0_act, _ = self._fast
        pre = obs @ w0_obs + fused[0][1]
        if self.act_dim:
            pre += np.asarray(acts, dtype=np.float32).reshape(len(acts), -1) @ w0_act
        h = self._hidden(fused, pre)
        return h @ head_w + head_b

    # -- normalization -------------------------------------------------------------------
    @torch.no_grad()
    def normalize(self, x: np.ndarray) -> None:
        """Set each member's mean/std and the output scale from sample inputs x [N, in_dim]."""
        t = torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device_)
        self.set_normalization(self.member_rewards(t))
        self.refresh()

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        torch.save({"state": self.state_dict(), "obs_dim": self.obs_dim, "act_dim": self.act_dim,
                    "n_members": self.n_members, "target_std": self.target_std}, path)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> "RewardEnsemble":
        blob = torch.load(path, map_location="cpu", weights_only=True)
        ens = cls(blob["obs_dim"], blob["act_dim"], blob["n_members"], target_std=blob["target_std"],
                  device=device)
        ens.load_state_dict(blob["state"])
        ens.refresh()
        return ens
