"""Task registry: every task prefrl knows, with its clip length, PPO settings and budgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


# Per step in a state where gymnasium would end the episode. Larger than any forward reward these
# bodies reach, so that being unhealthy is worse than any healthy state (with a penalty of 1, a
# Hopper leaning forward out of the healthy range scored more than one hopping upright; see RESULTS.md).
DEFAULT_PENALTY = 5.0


class UnknownTaskError(ValueError):
    """Raised for a task name that is not in the registry."""


@dataclass(frozen=True)
class TaskSpec:
    """One task.

    Attributes:
        name: short name used on the command line (``Hopper``).
        gym_id: gymnasium id of the underlying environment (``Hopper-v5``).
        kind: ``"mujoco"`` or ``"atari"``.
        dt: simulated seconds per agent step.
        episode_steps: fixed episode length (no early termination reaches the agent).
        min_episode_steps: with N > 0, each episode's length is drawn uniformly from N to ``episode_steps``
            at its start (still no early termination); 0: every episode lasts ``episode_steps``.
        clip_steps: clip length in agent steps: ``clip_seconds`` of simulated time (1.5 s), but at most
            ``MAX_CLIP_STEPS`` (the paper's "15 to 60 timesteps") and the episode; or ``fixed_clip_steps``
            (at most the episode) where that is set.
        env_kwargs: keyword arguments for ``gymnasium.make``.
        has_termination: the gymnasium task ends episodes early; prefrl turns that into a penalty.
        restart_after: where the task would end, the body stays down this many steps (each charged the
            penalty) and then restarts underneath, with no done (the pendulums, which cannot recover
            from a fall); 0: it runs on in the fallen state.
        unhealthy_penalty: the oracle's true-reward penalty per step in a state where gymnasium would end
            the episode.
        height_qpos: index in ``qpos`` of the torso's height, for tasks whose body can fall (None: none).
        height_bonus: the oracle's true reward gains this much per step per metre of torso height above
            its start height (rl-teacher's shaped fall signal; 0: off).
        pitch_qpos, pitch_limit: index in ``qpos`` of the torso's pitch angle, and the largest pitch (rad)
            gymnasium calls healthy (None: no pitch).
        tilt_penalty: the oracle's true reward loses this much per step times t^2, t = |pitch| / pitch_limit
            (1 + tilt_slope x (t - 1) past the limit; 0: off).
        tilt_slope: how steeply the tilt charge grows past the limit, per unit of t, in units of
            ``tilt_penalty`` (2: the t^2 curve's own slope at the limit, so 2t - 1).
        random_episode_steps: before RL, the random-policy rollouts that give the first clips restart every
            this many steps (0: they run the whole episode).
        x_qpos: index in ``qpos`` of the body's forward position, for tasks scored on moving forward (None:
            not one).
        ppo: PPO settings (rl-zoo's tuned values for the v4 task, ported to v5).
        trpo: TRPO settings (sb3-contrib; rl-zoo's tuned MuJoCo values), None where TRPO is not offered.
        normalize: wrap PPO's env in ``VecNormalize``.
        reward_inputs: what r̂ sees by default: ``"obs+act"`` (the paper) or ``"obs"``.
        default_labels: default label budget.
        default_timesteps: default RL budget.
    """

    name: str
    gym_id: str
    kind: str
    dt: float
    episode_steps: int
    min_episode_steps: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    has_termination: bool = False
    restart_after: int = 0
    unhealthy_penalty: float = DEFAULT_PENALTY
    height_qpos: int | None = None
    height_bonus: float = 0.0
    pitch_qpos: int | None = None
    pitch_limit: float | None = None
    tilt_penalty: float = 0.0
    tilt_slope: float = 2.0
    random_episode_steps: int = 0
    x_qpos: int | None = None
    ppo: dict[str, Any] = field(default_factory=dict)
    trpo: dict[str, Any] | None = None
    normalize: bool = True
    reward_inputs: str = "obs+act"
    default_labels: int = 700
    default_timesteps: int = 1_000_000
    clip_seconds: float = 1.5
    fixed_clip_steps: int | None = None

    def rl_settings(self, algo: str) -> dict[str, Any] | None:
        """The task's settings of RL algorithm ``algo`` (``ppo`` or ``trpo``); None where it is not offered."""
        return self.ppo if algo == "ppo" else self.trpo

    @property
    def clip_steps(self) -> int:
        if self.fixed_clip_steps is not None:
            return max(2, min(self.episode_steps, self.fixed_clip_steps))
        return max(2, min(self.episode_steps, MAX_CLIP_STEPS, round(self.clip_seconds / self.dt)))


# The paper's clips last 1.5 s, "15 to 60 timesteps depending on the task"; on gymnasium's Hopper and
# Walker2d (dt 0.008) 1.5 s is 188 steps, and such clips taught r̂ the per-step trade-off between staying
# healthy and moving forward poorly (RESULTS.md): clips are capped at 60 steps.
MAX_CLIP_STEPS = 60
# Steps a fallen pendulum stays down (each charged the penalty) before it restarts underneath.
PENDULUM_DOWN_STEPS = 10


# rl-zoo's PPO settings (DLR-RM/rl-baselines3-zoo hyperparams/ppo.yml: the -v4 entries, or -v2 where
# no newer one exists), written as SB3 keyword arguments; keys not given are SB3's defaults. Ant-v4's
# active entry is untuned (SB3 defaults). "net", "activation", "log_std_init" and "ortho_init" go into
# policy_kwargs (see agents.ppo_factory).
_ZOO_BIG = dict(net=[256, 256], activation="relu", log_std_init=-2.0, ortho_init=False)

# Hopper: rl-zoo's Hopper-v4 values (n_steps 512, batch 32, gamma 0.999, lr 9.8e-5, 256x256 ReLU,
# log_std_init -2) reached only about 1,000 here on v5 (stack notes: 998 standard, 904 fixed-length),
# standing still. The standard MuJoCo PPO settings (SB3 defaults / CleanRL: n_steps 2048, batch 64,
# 10 epochs, lr 3e-4, 64x64 tanh) learn to hop in this harness (RESULTS.md), so Hopper uses them.
_MUJOCO_DEFAULT = dict(n_envs=1, n_steps=2048, batch_size=64, n_epochs=10, learning_rate=3e-4, gamma=0.99,
                       gae_lambda=0.95, clip_range=0.2, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5,
                       net=[64, 64], activation="tanh")

_PENDULUM = dict(_MUJOCO_DEFAULT, target_kl=0.02)  # see the pendulums' entries below

_PPO: dict[str, dict[str, Any]] = {
    "Hopper": dict(_MUJOCO_DEFAULT),
    # Walker2d: the standard settings, as Hopper (SB3's default 64x64 tanh policy, left unset as in the runs
    # measured). Every Walker2d figure was measured with them (by flag, before 2026-11-24): on the gym task
    # true-reward PPO reaches 3,176 over 3 seeds, 0.91 of rl-zoo's 3,479 (RESULTS.md, fourteenth session).
    "Walker2d": {k: v for k, v in _MUJOCO_DEFAULT.items() if k not in ("net", "activation")},
    "HalfCheetah": dict(
        n_envs=1, n_steps=512, batch_size=64, gamma=0.98, learning_rate=2.0633e-05,
        ent_coef=0.000401762, clip_range=0.1, n_epochs=20, gae_lambda=0.92, max_grad_norm=0.8,
        vf_coef=0.58096, **_ZOO_BIG,
    ),
    "Ant": dict(n_envs=1),
    "Swimmer": dict(n_envs=4, n_steps=1024, batch_size=256, gamma=0.9999, learning_rate=6e-4,
                    gae_lambda=0.98),
    "Reacher": dict(
        n_envs=1, n_steps=512, batch_size=32, gamma=0.9, learning_rate=0.000104019,
        ent_coef=7.52585e-08, clip_range=0.3, n_epochs=5, gae_lambda=1.0, max_grad_norm=0.9,
        vf_coef=0.950368,
    ),
    # The pendulums: rl-zoo's values (IP n_steps 32, IDP 128) assume episodes that end at the fall. In
    # prefrl's fixed 1,000-step episodes a fallen pole never rises again, so most of those short rollouts
    # hold fallen steps only, whose advantages are pure noise that SB3 normalizes per batch into
    # full-size random updates: true-reward PPO on InvertedPendulum *lost* return over 100k steps
    # (standard return 2.6). With the standard settings, whose 2,048-step rollouts span whole
    # episodes, it reached 162 at 100k (RESULTS.md).
    # Both add PPO's target_kl 0.02, which stops an epoch loop whose update has run too far. Without it
    # oversized updates toppled balancing learned-reward agents for good at 1M steps: on InvertedDoublePendulum
    # (approx_kl 0.21) 700 labels reached 0.49 of true-reward PPO over 3 seeds, with it 1.01 (RESULTS.md,
    # twelfth and thirteenth sessions); on InvertedPendulum (33 of 489 updates past approx_kl 0.1, up to 21)
    # 53.1 against 1,000, with it 1,000 on 2 seeds (fifteenth session).
    "InvertedPendulum": dict(_PENDULUM),
    "InvertedDoublePendulum": dict(_PENDULUM),
}

# Registry PPO settings changed since runs began to save theirs in config.json (``ppo_resolved``): a run
# saved before then ran with the value given here (None: the key was unset, SB3's default).
_PPO_CHANGED_SINCE_RECORDING: dict[str, dict[str, Any]] = {
    "InvertedDoublePendulum": {"target_kl": None},
    "InvertedPendulum": {"target_kl": None},
    # rl-zoo's Walker2d-v4 values
    "Walker2d": dict(n_steps=512, batch_size=32, learning_rate=5.05041e-05, ent_coef=0.000585045, clip_range=0.1,
                     n_epochs=20, max_grad_norm=1.0, vf_coef=0.871923),
}

_MUJOCO: list[TaskSpec] = [
    # Hopper's fall is priced by degree, not by a cliff: a preference fit could not price a flat penalty
    # per unhealthy step (it charged a fall about a third of what the oracle did), so every seed dived and
    # crawled (0.02 of true-reward PPO at 700 labels). Graded by torso height and pitch, r̂ can track the
    # truth (held-out correlation 0.99 on seed 0, whose agent hops: 1.04); some seeds still fall early and
    # lie (RESULTS.md, eighteenth session).
    TaskSpec("Hopper", "Hopper-v5", "mujoco", dt=0.008, episode_steps=1000,
             env_kwargs=dict(terminate_when_unhealthy=False), has_termination=True, height_qpos=1,
             pitch_qpos=2, pitch_limit=0.2, unhealthy_penalty=0.0, height_bonus=1.0, tilt_penalty=1.0, x_qpos=0),
    # Walker2d's random-policy rollouts before RL restart every 60 steps: run on, they fall at once and lie,
    # so every before-RL label compared two fallen clips (4% of steps healthy) and r̂ never saw what standing
    # is worth. Restarted, 35-40% of those steps are healthy, and over three seeds 700 labels reach 0.46 of
    # true-reward PPO (0.08 before) and 1,400 labels 0.70 (0.41 before); over five seeds 0.58 and 0.60, four
    # of five walking (RESULTS.md, twenty-first and twenty-second sessions). On Hopper it cost the one seed
    # that hops.
    TaskSpec("Walker2d", "Walker2d-v5", "mujoco", dt=0.008, episode_steps=1000,
             env_kwargs=dict(terminate_when_unhealthy=False), has_termination=True, height_qpos=1,
             pitch_qpos=2, pitch_limit=1.0, random_episode_steps=60, x_qpos=0),
    TaskSpec("Ant", "Ant-v5", "mujoco", dt=0.05, episode_steps=1000,
             env_kwargs=dict(terminate_when_unhealthy=False), has_termination=True, height_qpos=2, x_qpos=0),
    TaskSpec("HalfCheetah", "HalfCheetah-v5", "mujoco", dt=0.05, episode_steps=1000, x_qpos=0),
    # Swimmer's r̂ sees observations only: with the action in its inputs, r̂ was accurate yet the policy's
    # action noise collapsed early and 700 labels reached 0.73 of true-reward PPO (two seeds); without
    # it, 0.99 and 1.00 (RESULTS.md, fifth session).
    TaskSpec("Swimmer", "Swimmer-v5", "mujoco", dt=0.04, episode_steps=1000, reward_inputs="obs", x_qpos=0),
    TaskSpec("Reacher", "Reacher-v5", "mujoco", dt=0.02, episode_steps=50),
    # The pendulums can't recover from a fall: running on in the fallen state made 95% of clips a pole
    # lying still and 93% of labels ties (RESULTS.md), so a fallen pole restarts underneath after
    # PENDULUM_DOWN_STEPS; restarting at once made the start state, which then came with every fall,
    # what r̂ blamed for falling.
    TaskSpec("InvertedPendulum", "InvertedPendulum-v5", "mujoco", dt=0.04, episode_steps=1000,
             has_termination=True, restart_after=PENDULUM_DOWN_STEPS),
    TaskSpec("InvertedDoublePendulum", "InvertedDoublePendulum-v5", "mujoco", dt=0.05,
             episode_steps=1000, has_termination=True, restart_after=PENDULUM_DOWN_STEPS),
]

# TRPO, the paper's algorithm on MuJoCo (`--algo trpo`): rl-zoo's tuned MuJoCo values (hyperparams/trpo.yml,
# `mujoco-defaults`, with its HalfCheetah and Swimmer entries); tasks rl-zoo lists no TRPO entry for (Reacher,
# the pendulums) take the same values.
_TRPO_MUJOCO = dict(n_envs=2, n_steps=1024, batch_size=128, gamma=0.99, gae_lambda=0.95, sub_sampling_factor=1,
                    cg_max_steps=25, cg_damping=0.1, n_critic_updates=20, learning_rate=1e-3)
_TRPO_CHANGES: dict[str, dict[str, Any]] = {"HalfCheetah": dict(target_kl=0.04), "Swimmer": dict(gamma=0.9999)}

TASKS: dict[str, TaskSpec] = {}
for _spec in _MUJOCO:
    TASKS[_spec.name] = TaskSpec(**{**_spec.__dict__, "ppo": _PPO[_spec.name],
                                    "trpo": {**_TRPO_MUJOCO, **_TRPO_CHANGES.get(_spec.name, {})}})

# Atari (issue 3): rl-zoo's PPO settings for every Atari game (hyperparams/ppo.yml, `atari`), CnnPolicy on
# the masked 84x84x4 frames; no VecNormalize (the policy scales pixels; r̂ has std 0.05 as in the paper).
# dt: 4 emulator frames at 60 Hz; clips of 25 steps (paper); episode_steps: ALE's 108,000-frame limit.
_ATARI_PPO = dict(policy="CnnPolicy", n_envs=8, n_steps=128, n_epochs=4, batch_size=256,
                  learning_rate="lin_2.5e-4", clip_range="lin_0.1", vf_coef=0.5, ent_coef=0.01)
ATARI_DT = 4 / 60
for _game in ("BeamRider", "Breakout", "Enduro", "Pong", "Qbert", "Seaquest", "SpaceInvaders"):
    TASKS[_game] = TaskSpec(_game, f"ALE/{_game}-v5", "atari", dt=ATARI_DT, episode_steps=27_000,
                            ppo=dict(_ATARI_PPO), normalize=False, default_labels=5500,
                            default_timesteps=10_000_000, clip_seconds=25 * ATARI_DT)


def ppo_before_recording(name: str) -> dict[str, Any]:
    """Task ``name``'s PPO settings as they stood when runs did not yet save theirs (before 2026-11-24)."""
    spec = get_task(name)
    settings = {**spec.ppo, **_PPO_CHANGED_SINCE_RECORDING.get(spec.name, {})}
    return {k: v for k, v in settings.items() if v is not None}


def get_task(name: str) -> TaskSpec:
    """Look a task up by short name (case-insensitive) or gymnasium id."""
    for spec in TASKS.values():
        if name.lower() in (spec.name.lower(), spec.gym_id.lower()):
            return spec
    raise UnknownTaskError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
