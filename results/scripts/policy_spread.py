"""Score policies' harness episodes with a Hopper run's r̂, and with the spread of its ensemble members.

Does r̂ value a hop it never saw (the true-reward agent's) above its own agent's dive and crawl, and do
its members disagree more there (what an exploration bonus on their spread, as in RUNE, would reward)?
``saved``: the run's own final ensemble. ``mlp`` / ``skip``: a fresh ensemble fitted on the run's own
labels (20 rounds of 4 passes), with the paper's 64x64 members, or with a linear term added to each
(r̂ extrapolates linearly in speed). Per policy (one deterministic episode, seed 5): unhealthy share,
oracle return, r̂ return and its sum discounted at 0.99 from the start state, r̂ per healthy and per
unhealthy step, and the members' spread (std of the normalized member rewards, r̂'s units).

    python results/scripts/policy_spread.py RUN saved|mlp|skip POLICY_RUN [POLICY_RUN ...|random]
"""
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

import preference.reward_model as rm
from agents.diagnose import _learned_run_config, _other_policy
from agents.checkpoint import load_reward_model
from agents.evaluation import deterministic_actor, rollout
from envs.mujoco import make_mujoco_env
from preference.fitting import EnsembleTrainer, FitConfig
from preference.store import PreferenceStore


class LinearSkipMLP(rm.RewardMLP):
    """A paper member plus a linear term in the (standardized) inputs."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...] = (64, 64)):
        super().__init__(in_dim, hidden)
        self.lin = nn.Linear(in_dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.lin(x).squeeze(-1)

    def l2(self) -> torch.Tensor:
        return super().l2() + (self.lin.weight ** 2).sum()


def refit(run: Path, act_dim: int, skip: bool) -> rm.RewardEnsemble:
    """A fresh ensemble fitted on every answered label of ``run``'s store, normalized on its clips."""
    if skip:
        rm.RewardMLP = LinearSkipMLP  # RewardEnsemble builds its members through this name
    store = PreferenceStore(run / "store", create=False)
    labels = [lab for lab in store.labels() if lab.value is not None]
    ids = sorted({lab.clip_a for lab in labels} | {lab.clip_b for lab in labels})
    clips = {i: store.load_clip(i) for i in ids}
    ens = rm.RewardEnsemble(clips[ids[0]].obs.shape[-1], act_dim, 3, seed=0)
    trainer = EnsembleTrainer(ens, FitConfig(), rng=np.random.default_rng(0))
    x = {i: ens.inputs(c.obs, c.acts) for i, c in clips.items()}
    for lab in labels:
        trainer.add(x[lab.clip_a], x[lab.clip_b], lab.value)
    for _ in range(20):
        trainer.fit(4 * len(trainer))
    with torch.no_grad():
        ens.set_normalization(ens.member_rewards(torch.as_tensor(np.concatenate(list(x.values())))))
    return ens


def main() -> None:
    torch.set_num_threads(1)
    run, which, policies = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    cfg = _learned_run_config(run)
    spec = cfg.task()
    env = make_mujoco_env(spec)
    act_dim = cfg.reward_act_dim(int(np.prod(env.action_space.shape)))
    ens = load_reward_model(run, cfg, act_dim=act_dim)[0] if which == "saved" else refit(run, act_dim, which == "skip")
    discount = 0.99 ** np.arange(spec.episode_steps)
    print(f"{run} r̂ {which}:")
    for name in policies:
        model, norm = _other_policy(name, cfg.env)
        act = (lambda _obs: env.action_space.sample()) if model is None else deterministic_actor(model, norm)
        env.action_space.seed(5)
        ep = rollout(env, act, 5)
        with torch.no_grad():
            raw = ens.member_rewards(torch.as_tensor(ens.inputs(ep.obs, ep.acts))).numpy()  # [M, T]
        z = (raw - ens.member_mean.numpy()[:, None]) / ens.member_std.numpy()[:, None] * float(ens.scale)
        r, spread = z.mean(0), z.std(0)
        down = ep.info("unhealthy").astype(bool)

        def mean(a: np.ndarray, m: np.ndarray) -> str:
            return f"{a[m].mean():.2f}" if m.any() else "n/a"

        print(f"  {name}: unhealthy {down.mean():.2f}, oracle return {ep.info('true_reward').sum():.0f}; r̂ return "
              f"{r.sum():.0f}, discounted {r @ discount:.1f}; r̂ per healthy step {mean(r, ~down)}, per unhealthy "
              f"{mean(r, down)}; member spread healthy {mean(spread, ~down)}, unhealthy {mean(spread, down)}")


if __name__ == "__main__":
    main()
