"""`prefrl diagnose RUN`: how well r̂ tracks the true reward step by step on a run's labeled clips."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import numpy as np

from agents.checkpoint import load_reward_model
from agents.config import TrainConfig, load_run_config
from preference.store import PreferenceStore


def _learned_run_config(run_dir: Path) -> TrainConfig:
    """The run's config; a true-reward run, which has no reward model, is refused."""
    cfg = load_run_config(run_dir)
    if cfg.reward == "true":
        raise ValueError(f"{run_dir}: a true-reward run has no reward model")
    return cfg


def _other_policy(name: str, env: str):
    """(model, VecNormalize or None) saved in run folder ``name``, a policy for task ``env``; (None,
    None) for ``random``."""
    from agents.evaluation import load_policy

    if name == "random":
        return None, None
    other = load_run_config(Path(name))
    if other.env != env:
        raise ValueError(f"{name}: a {other.env} policy cannot be scored on {env}")
    model, norm, _ = load_policy(Path(name))
    return model, norm


def fall_price_ratio(r_hat: np.ndarray, true: np.ndarray, healthy: np.ndarray) -> float | None:
    """How much of the truth's price of a fall r̂ charges, each in units of its own spread:
    ((mean r̂ healthy - mean r̂ unhealthy) / std r̂) / (the same of the true reward). 1: r̂ prices a fall as
    the truth does (any r̂ = a * true + b, a > 0, gives 1); below 1: r̂ charges a fall less, against what
    else moves it (e.g. the pose a fallen body lies in), than the truth does. Arrays: [steps]; None without
    steps on both sides or without spread."""
    healthy = np.asarray(healthy, dtype=bool)
    if healthy.all() or not healthy.any() or np.std(r_hat) == 0 or np.std(true) == 0:
        return None
    true_gap = (true[healthy].mean() - true[~healthy].mean()) / np.std(true)
    if true_gap == 0:
        return None
    return float((r_hat[healthy].mean() - r_hat[~healthy].mean()) / np.std(r_hat) / true_gap)


def clip_speed(clip, x_qpos: int, dt: float) -> float | None:
    """Mean forward speed over a clip (m/s): how far its recorded body moved along ``qpos[x_qpos]``, first
    step to last, over the time between them; None without recorded physics states or a second step."""
    if clip.states is None or len(clip.states) < 2:
        return None
    return float(clip.states[-1, x_qpos] - clip.states[0, x_qpos]) / ((len(clip.states) - 1) * dt)


def labeled_by_phase(labels: list, clip_of, timesteps: int, unhealthy_below: float,
                     phases: int = 4,
                     speed_of: Callable[[Any], float | None] | None = None) -> list[dict[str, Any]]:
    """What the labeler was shown, phase by phase of training: the pairs asked before RL (random-policy
    clips), then ``phases`` equal spans of ``timesteps``. Per phase: labels, the share of the clips' steps
    that are healthy (true reward above ``unhealthy_below``), the share of clips healthy throughout, and
    the clips' mean true return; with ``speed_of(clip)`` (a clip's forward speed, or None) also the clips'
    mean forward speed and its 90th percentile. A run whose labeled clips are almost all fallen cannot
    teach r̂ what standing is worth, nor one whose clips never move what moving is worth. ``clip_of(id)``
    loads a clip; ``labels``: ``Label``s (their ``env_step``)."""
    edges = [timesteps * k / phases for k in range(phases + 1)]
    groups: list[list] = [[] for _ in range(phases + 1)]
    for lab in labels:
        k = 0 if lab.env_step == 0 else min(phases, int(np.searchsorted(edges, lab.env_step)))
        groups[k].append(lab)
    out = []
    for k, group in enumerate(groups):
        if not group:
            continue
        clips = [clip_of(i) for lab in group for i in (lab.clip_a, lab.clip_b)]
        rewards = [c.true_rewards for c in clips]
        healthy = [r > unhealthy_below for r in rewards]
        row = {"phase": "before RL" if k == 0 else f"{edges[k - 1]:,.0f}-{edges[k]:,.0f} steps",
               "labels": len(group), "healthy_share": float(np.mean(np.concatenate(healthy))),
               "clips_healthy_throughout": float(np.mean([h.all() for h in healthy])),
               "mean_true_return": float(np.mean([r.sum() for r in rewards]))}
        speeds = [v for v in map(speed_of, clips) if v is not None] if speed_of is not None else []
        if speeds:
            row["mean_forward_speed"] = float(np.mean(speeds))
            row["p90_forward_speed"] = float(np.quantile(speeds, 0.9))
        out.append(row)
    return out


def diagnose(run_dir: Path, clips: int = 300, unhealthy_below: float | None = None) -> dict[str, Any]:
    """Per-step agreement of r̂ with the true reward on the ``clips`` most recently labeled clips."""
    cfg = _learned_run_config(run_dir)
    spec = cfg.task()
    if spec.kind == "atari":
        raise ValueError(f"{run_dir}: an Atari run's labeled clips are frames; use atari_fresh_clips")
    threshold = -cfg.unhealthy_penalty / 2 if unhealthy_below is None else unhealthy_below
    store = PreferenceStore(run_dir / "store", create=False)
    every = store.labels()
    load = functools.cache(store.load_clip)  # the recent clips are read once, for both uses
    chosen = [load(i) for label in every[-(clips // 2):] for i in (label.clip_a, label.clip_b)]
    span = cfg.timesteps or max((lab.env_step for lab in every), default=1)
    speed_of = None if spec.x_qpos is None else functools.partial(clip_speed, x_qpos=spec.x_qpos, dt=spec.dt)
    phases = labeled_by_phase(every, load, span, threshold, speed_of=speed_of)
    store.close()
    if not chosen:
        raise ValueError(f"{run_dir}: no labeled clips yet")
    ens, which = load_reward_model(run_dir, cfg, act_dim=cfg.reward_act_dim(chosen[0].acts.shape[-1]))
    r = np.concatenate([ens.predict(c.obs, c.acts) for c in chosen])
    true = np.concatenate([c.true_rewards for c in chosen])
    healthy = true > threshold
    within = [np.corrcoef(ens.predict(c.obs, c.acts), c.true_rewards)[0, 1] for c in chosen
              if np.std(c.true_rewards) > 1e-6]
    out = {"model": which, "clips": len(chosen), "steps": int(len(r)),
           "corr_all": float(np.corrcoef(r, true)[0, 1]),
           "healthy_fraction": float(healthy.mean()),
           "corr_healthy": float(np.corrcoef(r[healthy], true[healthy])[0, 1]) if healthy.sum() > 2 else None,
           "r_hat_mean_healthy": float(r[healthy].mean()) if healthy.any() else None,
           "r_hat_mean_unhealthy": float(r[~healthy].mean()) if (~healthy).any() else None,
           "true_mean_healthy": float(true[healthy].mean()) if healthy.any() else None,
           "true_mean_unhealthy": float(true[~healthy].mean()) if (~healthy).any() else None,
           "r_hat_std": float(r.std()), "true_std": float(true.std()),
           "fall_price_ratio": fall_price_ratio(r, true, healthy),
           "median_within_clip_corr": float(np.median(within)) if within else None,
           "labeled_by_phase": phases}
    return out


def travel(episodes: list) -> tuple[float | None, float | None]:
    """Mean distance an episode moves the body forward (``info["x_position"]``, last minus first step)
    and mean forward speed on unhealthy steps (``info["x_velocity"]``); None where the task reports
    neither (Reacher, the pendulums) or no step was unhealthy. A fallen Hopper that crawls forward
    shows up here."""
    if not episodes or "x_position" not in episodes[0].infos[0]:
        return None, None
    distance = float(np.mean([e.info("x_position")[-1] - e.info("x_position")[0] for e in episodes]))
    unhealthy = np.concatenate([e.info("unhealthy", False).astype(bool) for e in episodes])
    speed = np.concatenate([e.info("x_velocity", 0.0).astype(float) for e in episodes])
    return distance, (float(speed[unhealthy].mean()) if unhealthy.any() else None)


def score_policies(run_dir: Path, policies: list[str], episodes: int = 1, seed: int = 5,
                   pessimism: float | None = None) -> list[dict[str, Any]]:
    """Score whole harness episodes of other policies with this run's r̂: does r̂ rank them as the
    oracle does? Each of ``policies`` is a run folder (its saved policy, deterministic) or ``random``.

    Per policy: the oracle return, the number of unhealthy steps, r̂'s return and its mean on healthy
    and on unhealthy steps, the mean squared action (r̂ paying for actions shows up here), the
    distance travelled and the forward speed while unhealthy (``travel``), and both
    returns discounted from the start state at the run's PPO ``gamma``: what PPO weighs, where a
    fall late in the episode counts for little. With ``pessimism`` K > 0 (None: the run's own
    ``--pessimism``), also ``r_hat_lcb_return``: the return of r̂ minus K member standard deviations, what such a
    run pays PPO.
    """
    from agents.evaluation import deterministic_actor, rollout
    from envs.mujoco import make_mujoco_env

    cfg = _learned_run_config(run_dir)
    spec = cfg.task()
    if spec.kind == "atari":
        raise ValueError(f"{run_dir}: --policy scoring is for MuJoCo runs")
    env = make_mujoco_env(spec)
    ens, which = load_reward_model(run_dir, cfg, act_dim=cfg.reward_act_dim(int(np.prod(env.action_space.shape))))
    gamma = cfg.ppo_gamma()
    k = cfg.pessimism if pessimism is None else pessimism
    discount = gamma ** np.arange(spec.episode_steps)
    rows = []
    for name in policies:
        model, norm = _other_policy(name, cfg.env)
        act = (lambda _obs: env.action_space.sample()) if model is None else deterministic_actor(model, norm)
        env.action_space.seed(seed)
        eps = [rollout(env, act, seed + ep) for ep in range(episodes)]
        obs, acts = np.concatenate([e.obs for e in eps]), np.concatenate([e.acts for e in eps])
        r = ens.predict(obs, acts)
        unhealthy = np.concatenate([e.info("unhealthy").astype(bool) for e in eps])
        oracle_return = sum(float(e.info("true_reward").sum()) for e in eps)
        r_hat_discounted = float(np.dot(r.reshape(episodes, -1), discount).sum())
        oracle_discounted = sum(float(np.dot(e.info("true_reward"), discount)) for e in eps)
        distance, unhealthy_speed = travel(eps)
        rows.append({"policy": name, "reward_model": which, "episodes": episodes,
                     "oracle_return": oracle_return / episodes,
                     "unhealthy_steps": float(unhealthy.sum()) / episodes,
                     "r_hat_return": float(r.sum()) / episodes, "pessimism": k,
                     "r_hat_lcb_return": float(ens.predict(obs, acts, k).sum()) / episodes if k else None,
                     "r_hat_mean_healthy": float(r[~unhealthy].mean()) if (~unhealthy).any() else None,
                     "r_hat_mean_unhealthy": float(r[unhealthy].mean()) if unhealthy.any() else None,
                     "mean_squared_action": float(np.mean(np.sum(np.square(acts), axis=1))),
                     "distance": distance, "x_velocity_unhealthy": unhealthy_speed,
                     "gamma": gamma, "r_hat_discounted": r_hat_discounted / episodes,
                     "oracle_discounted": oracle_discounted / episodes})
    env.close()
    return rows


def atari_fresh_clips(run_dir: Path, policies: list[str] | None = None, clips: int = 400,
                      seed: int = 7) -> list[dict[str, Any]]:
    """Score clips that no labeler ever saw with an Atari run's r̂: does it agree with the oracle?

    Each of ``policies`` (default: the run's own saved policy) is a run folder of the same game,
    played stochastically as in training, or ``random``. Its 8 envs are cut into ``clips`` clips of the
    run's clip length. Per policy: ``clip_agreement`` of r̂'s clip returns with the oracle's (pair
    agreement over pairs the oracle would not tie, Pearson, Spearman), the share of clips with a
    non-zero true return, and the per-step correlation.
    """
    from envs.atari import GAMES, AtariStream
    from preference.fidelity import clip_agreement

    cfg = _learned_run_config(run_dir)
    spec = cfg.task()
    ens, which = load_reward_model(run_dir, cfg)
    n_envs, length = 8, spec.clip_steps
    rounds = -(-clips // n_envs)
    rows = []
    for name in policies or [str(run_dir)]:
        model = _other_policy(name, cfg.env)[0]
        rng = np.random.default_rng(seed)
        stream = AtariStream(GAMES[spec.name], n_envs, seed, cfg.sticky_actions, cfg.game_over_penalty)
        obs = stream.reset()
        pred_steps, true_steps = [], []  # per round: [length, n_envs]
        for _ in range(rounds):
            frames, true = [], []
            for _ in range(length):
                acts = (rng.integers(stream.n_actions, size=n_envs) if model is None
                        else model.predict(obs, deterministic=False)[0])
                frames.append(obs)
                s = stream.step(acts)
                true.append(s.true_reward)
                obs = s.obs
            batch = np.stack(frames)  # [length, n_envs, 4, 84, 84]
            pred_steps.append(ens.predict(batch.reshape(-1, *batch.shape[2:]), None).reshape(length, n_envs))
            true_steps.append(np.stack(true))
        stream.close()
        pred = np.concatenate(pred_steps, 1)[:, :clips]  # [length, clips]
        true = np.concatenate(true_steps, 1)[:, :clips]
        fid = clip_agreement(pred.sum(0), true.sum(0))
        step_corr = (float(np.corrcoef(pred.ravel(), true.ravel())[0, 1])
                     if pred.std() > 0 and true.std() > 0 else float("nan"))
        rows.append({"policy": name, "reward_model": which, "clips": int(pred.shape[1]),
                     "clip_steps": length, "scoring_clips": float((true.sum(0) != 0).mean()), **fid,
                     "step_corr": step_corr})
    return rows
