"""Where a Hopper run's deterministic policy first leaves gymnasium's healthy range in the harness: torso height
and pitch at that step, and the pitch over the episode (2 episodes, seeds 1000-1001). RESULTS.md, twenty-fifth
session.

    python results/scripts/health_breach.py RUN [RUN ...]
"""
import sys
from pathlib import Path
import numpy as np
from agents.config import load_run_config
from agents.evaluation import deterministic_actor, load_policy, rollout
from envs.mujoco import make_mujoco_env

for run in map(Path, sys.argv[1:]):
    cfg = load_run_config(run)
    env = make_mujoco_env(cfg.task())
    model, norm, _ = load_policy(run)
    for seed in (1000, 1001):
        ep = rollout(env, deterministic_actor(model, norm), seed)
        s = np.array([i["physics_state"] for i in ep.infos])  # [T, nq+nv]
        z, pitch = s[:, 1], s[:, 2]
        down = np.array([i["unhealthy"] for i in ep.infos])
        first = int(np.argmax(down)) if down.any() else None
        x = s[:, 0]
        msg = f"{run.name} seed {seed}: down {down.mean():.2f}, distance {x[-1]-x[0]:.1f} m"
        if first is not None:
            msg += (f", first down at {first}: height {z[first]:.2f} (healthy > 0.7), pitch {pitch[first]:+.2f} "
                    f"(healthy |pitch| < 0.2); pitch over the episode: median {np.median(pitch):+.2f}, "
                    f"max |pitch| {np.abs(pitch).max():.2f}; height min {z.min():.2f}")
        print(msg)
