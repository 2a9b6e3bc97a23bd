"""What r̂ pays for among a run's own clips: correlate each clip's r̂ return with the true return and with
each of its parts (forward progress, alive bonus, height bonus, tilt charge), on harness episodes played by
the run's saved policy (stochastic, as in training; or deterministic).

    python results/scripts/clip_components.py RUN [--episodes 2] [--deterministic]

Hopper/Walker2d only (the parts read the torso's height and pitch). Prints one table of correlations and the
parts' spreads across clips.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from agents.config import load_run_config
from agents.checkpoint import load_reward_model
from agents.evaluation import deterministic_actor, load_policy, rollout
from envs.mujoco import make_mujoco_env, tilt_charge


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--deterministic", action="store_true")
    args = ap.parse_args()
    cfg = load_run_config(args.run)
    spec = cfg.task()
    env = make_mujoco_env(spec)
    ens, which = load_reward_model(args.run, cfg, act_dim=cfg.reward_act_dim(int(np.prod(env.action_space.shape))))
    model, norm, _ = load_policy(args.run)

    def stochastic(obs: np.ndarray) -> np.ndarray:  # as in training
        x = norm.normalize_obs(obs[None]) if norm is not None else obs[None]
        return model.predict(x, deterministic=False)[0][0]

    act = deterministic_actor(model, norm) if args.deterministic else stochastic

    dt, T = env.unwrapped.dt, spec.clip_steps
    rows = []
    for ep in range(args.episodes):
        e = rollout(env, act, 1000 + ep)
        nq = env.unwrapped.model.nq
        qpos = np.stack(e.info("physics_state"))[:, :nq]  # physics state: qpos ++ qvel
        r = ens.predict(e.obs, e.acts)
        true = e.info("true_reward").astype(float)
        x = qpos[:, spec.x_qpos]
        height = spec.height_bonus * (qpos[:, spec.height_qpos] - env.unwrapped.init_qpos[spec.height_qpos])
        t = np.abs(qpos[:, spec.pitch_qpos]) / spec.pitch_limit
        tilt = spec.tilt_penalty * tilt_charge(t, spec.tilt_slope)
        healthy = ~e.info("unhealthy").astype(bool)
        for s in range(0, len(r) - T + 1, T):
            sl = slice(s, s + T)
            rows.append((r[sl].sum(), true[sl].sum(), (x[s + T - 1] - x[s]) / (T * dt), height[sl].sum(),
                         -tilt[sl].sum(), healthy[sl].mean(), np.abs(qpos[sl, spec.pitch_qpos]).mean()))
    a = np.array(rows)
    names = ["true return", "forward speed (m/s)", "height bonus", "-tilt charge", "healthy share", "|pitch| (rad)"]
    print(f"{args.run.name}: r̂ ({which}) on {len(a)} clips of {T} steps, {args.episodes} episodes, "
          f"{'deterministic' if args.deterministic else 'stochastic'} policy")
    print("| part | corr with r̂ return | mean | std across clips |")
    print("|---|---|---|---|")
    for i, n in enumerate(names, start=1):
        c = np.corrcoef(a[:, 0], a[:, i])[0, 1] if a[:, i].std() > 0 else float("nan")
        print(f"| {n} | {c:.3f} | {a[:, i].mean():.3f} | {a[:, i].std():.3f} |")


if __name__ == "__main__":
    main()
