"""How much of a MuJoCo run's r̂(o, a) is paid for the action itself.

For each run folder: play one harness episode with the run's own policy (deterministic), then score
its states with r̂ at the policy's action, at zero action, and at 64 uniformly random actions.
Prints r̂ per step for each, and the share of r̂'s variance over (state, random action) that the
action explains (1 - E_o[Var_a r̂] / Var r̂ is the state's share). Last, what Gaussian noise of std
0.1-1.0 on the policy's actions (clipped to the action box) does to r̂ per step on the same states:
whether r̂ itself charges the exploration PPO's policy noise adds (RESULTS.md, twenty-sixth session).

    python results/scripts/action_reward.py RUN [RUN ...]
"""
import sys
from pathlib import Path

import numpy as np

from agents.config import load_run_config
from agents.checkpoint import load_reward_model
from agents.evaluation import deterministic_actor, load_policy, rollout
from envs.mujoco import make_mujoco_env

for run in map(Path, sys.argv[1:]):
    cfg = load_run_config(run)
    env = make_mujoco_env(cfg.task())
    act_dim = int(np.prod(env.action_space.shape))
    ens, _ = load_reward_model(run, cfg, act_dim=cfg.reward_act_dim(act_dim))
    model, norm, _ = load_policy(run)
    ep = rollout(env, deterministic_actor(model, norm), 5)
    obs, acts = ep.obs, ep.acts
    rng = np.random.default_rng(0)
    lo, hi = env.action_space.low, env.action_space.high
    rand = rng.uniform(lo, hi, size=(64, *acts.shape)).astype(np.float32)  # [64, T, act]
    r_pol = ens.predict(obs, acts)
    r_zero = ens.predict(obs, np.zeros_like(acts))
    r_rand = np.stack([ens.predict(obs, a) for a in rand])  # [64, T]
    within = r_rand.var(0).mean()
    unhealthy = ep.info("unhealthy").astype(bool)
    print(f"{run}: inputs {cfg.reward_inputs}, oracle return {ep.info('true_reward').sum():.1f}, "
          f"unhealthy steps {int(unhealthy.sum())}, mean squared action {np.mean(np.sum(acts ** 2, 1)):.2f}")
    print(f"  r̂ per step: policy's action {r_pol.mean():.3f}, zero action {r_zero.mean():.3f}, "
          f"random actions {r_rand.mean():.3f} (best of 64 per step {r_rand.max(0).mean():.3f}); "
          f"share of variance from the action {within / r_rand.var():.2f}")
    noisy = {std: np.mean([ens.predict(obs, np.clip(acts + rng.normal(0, std, acts.shape), lo, hi)).mean()
                           for _ in range(3)]) - r_pol.mean() for std in (0.1, 0.3, 0.5, 1.0)}
    print("  r̂ per step with noise on the policy's action, change: "
          + ", ".join(f"std {std:g} {d:+.3f}" for std, d in noisy.items()) + f"; r̂'s std over the episode {r_pol.std():.3f}")
    env.close()
