"""The run configuration: one dataclass tree, saved in the run folder, every CLI flag mapped onto it."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from envs.registry import DEFAULT_PENALTY, TaskSpec, UnknownTaskError, get_task, ppo_before_recording

REWARDS = ("preferences", "true")
LABELERS = ("oracle", "human", "human+oracle")
REWARD_INPUTS = ("obs+act", "obs")  # what r̂ sees: observation and action (the paper), or the observation
VALIDATIONS = ("out-of-bag", "split")  # each reward-model member's held-out comparisons (preference.fitting)
ALGOS = ("ppo", "trpo")  # the RL algorithm: SB3 PPO, or sb3-contrib's TRPO (the paper's, MuJoCo only)
TRUE_TASKS = ("harness", "gym")  # where true-reward PPO trains: prefrl's harness or the unmodified gym task


def true_run_name(true_task: str) -> str:
    """What a true-reward run is called in run folders and bench cells: `true`, or `true-gym`."""
    return "true" if true_task == "harness" else f"true-{true_task}"


# The paper's Atari settings where they differ from the (MuJoCo) defaults; INITIAL_ATARI_LABELS and the game's clip
# length are filled in alongside (TrainConfig.resolved).
INITIAL_ATARI_LABELS = 500
"""Paper: 500 comparisons from a random policy before RL."""
ATARI_DEFAULTS: dict[str, Any] = dict(
    schedule_horizon=5e6,  # label rate ~ 5e6 / (T + 5e6)
    fit_epochs=0.0,  # refits train on ~fit_rate comparisons per env step (paper: 1 per 10), not 2 passes
    clip_capacity=250,  # clips of frames are 0.7 MB each: 250 recent clips (176 MB) for 200 candidates
)

# Settings a resumed run may change: they do not change the experiment.
RESUMABLE_CHANGES = frozenset({"device", "progress", "checkpoint_every", "torch_threads", "window", "max_behind",
                               "eval_episodes", "media_every"})


@dataclass
class TrainConfig:
    """Everything that defines a training run."""

    env: str = "Hopper"
    """Task name from the registry (see `prefrl tasks`)."""
    reward: str = "preferences"
    """`preferences`: PPO optimizes the learned reward r̂; `true`: PPO on the true reward (baseline)."""
    true_task: str = "harness"
    """With `reward="true"` on MuJoCo: train in prefrl's `harness` (the oracle's reward, fixed-length
    episodes: the paper's baseline) or on the unmodified `gym` task (its own reward, control cost and
    termination: rl-zoo's setting, whose published returns a yardstick should reach)."""
    labels: int | None = None
    """Label budget (synthetic or human comparisons); default: the task's."""
    timesteps: int | None = None
    """RL environment steps; default: the task's."""
    seed: int = 0
    """Seed for envs, PPO, the ensemble and pair selection."""
    selection: str = "random"
    """Pair selection: `random`, `disagreement` (ensemble variance over 10x candidates) or `entropy`
    (the 10x candidates the ensemble calls nearest a tie)."""
    labeler: str = "oracle"
    """Who answers queries: `oracle` (synthetic, reads the true reward), `human` (a person in
    `prefrl label`), or `human+oracle` (the oracle takes what the person leaves for `oracle_after` s)."""
    teacher: str = "oracle"
    """Synthetic labeler: `oracle` (perfect) or a B-Pref noisy teacher: stoch, mistake, skip, equal, myopic."""
    oracle_after: float = 60.0
    """With `human+oracle`: seconds a query may wait for a person before the oracle answers it."""
    max_behind: int | None = None
    """Pause training while answered labels trail the schedule by more than this (None: never)."""
    window: bool = False
    """With a human labeler: open the labeling window in a separate process."""
    device: str = "auto"
    """`auto` (CUDA when present), `cpu` or `cuda`; used by PPO and the reward ensemble."""
    n_envs: int | None = None
    """Parallel envs for PPO; default: the task's PPO setting."""
    ensemble_size: int = 3
    """Reward-predictor ensemble members."""
    clip_seconds: float = 1.5
    """Clip length in simulated seconds (converted to steps per task, at most 60)."""
    clip_steps: int | None = None
    """Clip length in steps, overriding ``clip_seconds`` and its 60-step cap (Hopper's 1.5 s is 188)."""
    reward_inputs: str | None = None
    """What r̂ sees: `obs+act` (the paper) or `obs` (observations only; actions can't be exploited);
    default: the task's (Swimmer `obs`, the others `obs+act`)."""
    initial_fraction: float = 0.25
    """Fraction of the label budget collected from random-policy clips before RL starts."""
    schedule_horizon: float = 2e6
    """Label rate after T steps is proportional to horizon / (T + horizon)."""
    fit_every: int = 10_000
    """Refit the reward ensemble every this many env steps."""
    fit_epochs: float = 2.0
    """Minimum passes over the comparisons per refit (at least 1 label per 10 env steps)."""
    pretrain_epochs: int = 200
    """Passes over the initial comparisons before RL starts."""
    random_episode_steps: int | None = None
    """MuJoCo: the random-policy rollouts that give the initial clips restart every this many steps
    (0: they run the task's full episode; None: the task's default, see ``resolved``)."""
    episode_steps: int | None = None
    """MuJoCo: length of PPO's fixed training episodes (the body restarts underneath every this many steps;
    evaluation keeps the task's length); None: the task's, see ``resolved``."""
    min_episode_steps: int = 0
    """MuJoCo: with N > 0, each of PPO's training episodes lasts a length drawn uniformly from N to
    ``episode_steps`` (the body restarts underneath, as with ``episode_steps``); 0: every one lasts
    ``episode_steps``."""
    normalize_on: str = "labeled"
    """r̂ is normalized after each fit on `labeled` clips (stable) or the `recent` policy clips."""
    pessimism: float = 0.0
    """PPO is paid r̂ minus this many standard deviations of the normalized reward-model members at each step
    (a lower confidence bound: less where the members disagree, away from the labeled clips); 0: r̂."""
    optimism: float = 0.0
    """PPO is paid r̂ plus this many standard deviations of the normalized reward-model members at each step, an upper
    confidence bound that pays more where they disagree (what the labels have not shown yet; RUNE, Liang et al.
    2022), fading linearly to nothing at ``optimism_steps``; 0: off."""
    optimism_steps: int | None = None
    """Env step at which ``optimism`` has faded to nothing; None: the end of training (``timesteps``)."""
    reward_from: str | None = None
    """A learned-reward run folder whose reward model (final, else its last checkpoint's) PPO optimizes, frozen:
    no labels are asked and nothing is fitted; None: learn r̂ from preferences in this run."""
    validation: str = "split"
    """Each reward-model member is validated (and its l2 adapted) on a `split` of 1/e of the comparisons
    drawn independently of its bootstrap (it trains on ~40%), or on its bootstrap's `out-of-bag` ones
    (1/e; it trains on ~63%)."""
    async_fit: bool = True
    """Refit the reward model in a background thread while PPO goes on (CPU device only)."""
    unhealthy_penalty: float | None = None
    """True-reward penalty per step in a state where the gymnasium task would terminate; None: the task's
    default (5; Hopper 0, whose fall is priced by height and tilt instead)."""
    restart_after: int | None = None
    """Where the task would end, the body stays down this many steps (each charged the penalty), then
    restarts underneath (no done); 0: it runs on fallen; None: the task's default (pendulums 10, else 0)."""
    height_bonus: float | None = None
    """Hopper, Walker2d, Ant: the oracle's true reward gains this much per step per metre of torso height
    above the start height (rl-teacher's graded fall signal); None: the task's default (Hopper 1, else 0)."""
    tilt_penalty: float | None = None
    """Hopper, Walker2d: the oracle's true reward loses this much per step times t^2, t = |torso pitch| / the
    pitch where gymnasium ends the episode (2t - 1 past it); None: the task's default (Hopper 1, else 0)."""
    tilt_slope: float | None = None
    """How steeply the tilt charge grows past that pitch: 1 + S x (t - 1) there, times ``tilt_penalty``;
    None: the task's (2, the t^2 curve's own slope at the limit)."""
    candidate_clips: int = 200
    """Queries are drawn from this many most recent clips."""
    clip_capacity: int = 2000
    """Clips kept in memory (older ones are dropped unless stored with a query)."""
    media_every: int = 100_000
    """Log an agent episode GIF, the latest queried pair and the predicted-vs-true scatter every
    this many env steps, and at the end (0: never)."""
    alarm_window: int = 25
    """Episodes per half-window of the reward-hacking alarm."""
    sticky_actions: float = 0.0
    """Atari: ALE's sticky-action probability (the paper used none; ALE/*-v5 uses 0.25)."""
    game_over_penalty: float | None = None
    """Atari: the oracle's true-reward penalty at a game over (None: the game's; Pong 0)."""
    fit_rate: float = 0.1
    """Comparisons the reward model trains on per env step, at least (paper: about 1 per 10)."""
    checkpoint_every: int | None = 50_000
    """Write a checkpoint every this many env steps (None: only on Ctrl-C / SIGTERM)."""
    eval_episodes: int = 10
    """Final evaluation episodes on the true reward."""
    algo: str = "ppo"
    """The RL algorithm: `ppo` (SB3) or `trpo` (sb3-contrib; the paper's, MuJoCo only). Each has its own
    settings per task (rl-zoo's); ``ppo`` and ``ppo_resolved`` hold the chosen algorithm's."""
    ppo: dict[str, Any] = field(default_factory=dict)
    """Overrides of the task's PPO (or TRPO, with ``algo`` trpo) settings (e.g. {"n_steps": 2048})."""
    ppo_resolved: dict[str, Any] | None = None
    """The PPO settings the run uses: the task's with ``ppo`` and ``n_envs`` applied, fixed when it starts
    and saved in ``config.json``, so a later change to the registry neither changes a resumed run nor lets
    it pass for a run of the new settings (None: not fixed yet)."""
    torch_threads: int = 1
    """torch CPU threads (1 is fastest for these small networks on 2 cores)."""
    runs_dir: str = "runs"
    """Where run folders are created."""
    exp_name: str | None = None
    """Experiment name in the run folder's name; default derived from reward and labels."""
    progress: bool = True
    """Show a progress bar."""

    def true_baseline(self, true_task: str) -> "TrainConfig":
        """This config's true-reward baseline, trained where ``true_task`` says. On the gym task it trains on
        the task's own episodes, so harness episode lengths (``--episode-steps``, ``--min-episode-steps``) are left
        to the harness."""
        gym = true_task == "gym"
        return replace(self, reward="true", true_task=true_task, episode_steps=None if gym else self.episode_steps,
                       min_episode_steps=0 if gym else self.min_episode_steps)

    def task(self) -> TaskSpec:
        """The run's task: the registry's entry with this run's clip length and fall handling."""
        spec = replace(get_task(self.env), clip_seconds=self.clip_seconds, fixed_clip_steps=self.clip_steps)
        # the fall's price: set, or the task's
        for key in ("unhealthy_penalty", "height_bonus", "tilt_penalty", "tilt_slope"):
            if getattr(self, key) is not None:
                spec = replace(spec, **{key: getattr(self, key)})
        return spec if self.restart_after is None else replace(spec, restart_after=self.restart_after)

    def resolved(self) -> "TrainConfig":
        """A copy with every task default that a run fixes at its start filled in (labels, timesteps,
        restart_after, random_episode_steps, episode_steps, reward_inputs, ppo_resolved; for Atari the paper's Atari
        settings, see ``_with_atari_defaults``): what ``config.json`` of a run of this config holds.
        Resolving a resolved config changes nothing."""
        # a saved config (its PPO settings fixed) has them already: today's defaults must not rewrite it
        cfg = self if self.ppo_resolved is not None else self._with_atari_defaults()
        spec = cfg.task()
        random_steps = spec.random_episode_steps if cfg.random_episode_steps is None else cfg.random_episode_steps
        return replace(cfg, labels=spec.default_labels if cfg.labels is None else cfg.labels,
                       timesteps=spec.default_timesteps if cfg.timesteps is None else cfg.timesteps,
                       restart_after=spec.restart_after, unhealthy_penalty=spec.unhealthy_penalty,
                       height_bonus=spec.height_bonus, tilt_penalty=spec.tilt_penalty, tilt_slope=spec.tilt_slope,
                       random_episode_steps=random_steps, reward_inputs=cfg.resolved_reward_inputs(),
                       episode_steps=spec.episode_steps if cfg.episode_steps is None else cfg.episode_steps,
                       ppo_resolved=cfg.ppo_settings())

    def _with_atari_defaults(self) -> "TrainConfig":
        """For an Atari task, a copy whose settings still at their (MuJoCo) defaults are the paper's Atari
        ones: the game's 25-step clips, 500 initial labels (at most half the budget), label-rate horizon
        5e6, refits at ~1 comparison per 10 steps, 250 clips in memory. Explicitly set values are kept
        (a value equal to the MuJoCo default counts as unset)."""
        spec = get_task(self.env)
        if spec.kind != "atari":
            return self
        base = TrainConfig()
        changes = {k: v for k, v in ATARI_DEFAULTS.items() if getattr(self, k) == getattr(base, k)}
        if self.clip_seconds == base.clip_seconds:
            changes["clip_seconds"] = spec.clip_seconds
        if self.initial_fraction == base.initial_fraction:
            labels = spec.default_labels if self.labels is None else self.labels
            changes["initial_fraction"] = min(0.5, INITIAL_ATARI_LABELS / labels)
        return replace(self, **changes)

    def ppo_settings(self) -> dict[str, Any]:
        """The run's PPO settings: those fixed at its start, else the task's with this run's overrides
        (``ppo``, ``n_envs``) applied."""
        if self.ppo_resolved is not None:
            return dict(self.ppo_resolved)
        return self._with_overrides(self._task_settings())

    def _task_settings(self) -> dict[str, Any]:
        """The task's settings of this run's RL algorithm; ValueError where the task has none."""
        spec = self.task()
        settings = spec.rl_settings(self.algo)
        if settings is None:
            raise ValueError(f"--algo {self.algo} is offered for MuJoCo tasks only, not {spec.name}")
        return settings

    def _with_overrides(self, task_ppo: dict[str, Any]) -> dict[str, Any]:
        """``task_ppo`` with this run's overrides (``ppo``, ``n_envs``) applied."""
        settings = {**task_ppo, **self.ppo}
        if self.n_envs is not None:
            settings["n_envs"] = self.n_envs
        return settings

    def ppo_gamma(self) -> float:
        """PPO's discount in this run (SB3's default 0.99 where neither the task nor the run sets one)."""
        return float(self.ppo_settings().get("gamma", 0.99))

    def resolved_reward_inputs(self) -> str:
        """What r̂ sees in this run: the setting, else the reward source's (``reward_from``), else the task's
        default."""
        if self.reward_inputs is None and self.reward_from is not None:
            return load_run_config(Path(self.reward_from)).resolved_reward_inputs()
        return self.reward_inputs or get_task(self.env).reward_inputs

    def reward_act_dim(self, act_dim: int) -> int:
        """How many action dimensions r̂ takes in, given the env's ``act_dim``: all, or 0 for ``obs``."""
        return act_dim if self.resolved_reward_inputs() == "obs+act" else 0

    def validate(self) -> None:
        """Raise ValueError with one clear line for any impossible setting."""
        if self.reward not in REWARDS:
            raise ValueError(f"--reward must be one of {', '.join(REWARDS)}, got {self.reward!r}")
        if self.labeler not in LABELERS:
            raise ValueError(f"--labeler must be one of {', '.join(LABELERS)}, got {self.labeler!r}")
        from preference.teachers import teacher_config
        if self.restart_after is not None and self.restart_after < 0:
            raise ValueError(f"--restart-after must be >= 0, got {self.restart_after}")
        if self.unhealthy_penalty is not None and self.unhealthy_penalty < 0:
            raise ValueError(f"--unhealthy-penalty must be >= 0, got {self.unhealthy_penalty}")
        if self.height_bonus is not None and self.height_bonus < 0:
            raise ValueError(f"--height-bonus must be >= 0, got {self.height_bonus}")
        if self.height_bonus and get_task(self.env).height_qpos is None:
            raise ValueError(f"--height-bonus is offered for Hopper, Walker2d and Ant only, not {self.env}")
        if self.tilt_penalty is not None and self.tilt_penalty < 0:
            raise ValueError(f"--tilt-penalty must be >= 0, got {self.tilt_penalty}")
        if self.tilt_penalty and get_task(self.env).pitch_qpos is None:
            raise ValueError(f"--tilt-penalty is offered for Hopper and Walker2d only, not {self.env}")
        if self.tilt_slope is not None and self.tilt_slope < 0:
            raise ValueError(f"--tilt-slope must be >= 0, got {self.tilt_slope}")
        # a resolved config holds the task's own slope, valid everywhere
        if self.tilt_slope not in (None, get_task(self.env).tilt_slope) and not self.task().tilt_penalty:
            raise ValueError(f"--tilt-slope shapes the tilt charge, which {self.env} does not have here "
                             "(--tilt-penalty 0)")
        if not (math.isfinite(self.pessimism) and self.pessimism >= 0):
            raise ValueError(f"--pessimism must be >= 0, got {self.pessimism}")
        if not (math.isfinite(self.optimism) and self.optimism >= 0):
            raise ValueError(f"--optimism must be >= 0, got {self.optimism}")
        if self.optimism and self.pessimism:
            raise ValueError("--optimism and --pessimism pull r̂ opposite ways: set one of them")
        if self.optimism and self.reward_from is not None:
            raise ValueError("--optimism steers where labels are asked; --reward-from asks none")
        if self.optimism_steps is not None and self.optimism_steps <= 0:
            raise ValueError(f"--optimism-steps must be > 0, got {self.optimism_steps}")
        if self.reward_from is not None:
            self._check_reward_source()
        if self.normalize_on not in ("labeled", "recent"):
            raise ValueError(f"--normalize-on must be labeled or recent, got {self.normalize_on!r}")
        if self.validation not in VALIDATIONS:
            raise ValueError(f"--validation must be one of {', '.join(VALIDATIONS)}, got {self.validation!r}")
        if self.algo not in ALGOS:
            raise ValueError(f"--algo must be one of {', '.join(ALGOS)}, got {self.algo!r}")
        self._task_settings()  # the task offers the algorithm
        if self.true_task not in TRUE_TASKS:
            raise ValueError(f"--true-task must be one of {', '.join(TRUE_TASKS)}, got {self.true_task!r}")
        if self.true_task == "gym" and self.reward != "true":
            raise ValueError("--true-task gym is for true-reward runs (--reward true)")
        if self.true_task == "gym" and get_task(self.env).kind != "mujoco":
            raise ValueError("--true-task gym is for MuJoCo tasks")
        try:
            teacher_config(self.teacher)
        except ValueError as e:
            raise ValueError(f"--teacher: {e}") from None
        if self.labels is not None and self.labels < 2:
            raise ValueError(f"--labels must be at least 2, got {self.labels}")
        if self.timesteps is not None and self.timesteps <= 0:
            raise ValueError(f"--timesteps must be positive, got {self.timesteps}")
        for name in ("ensemble_size", "fit_every", "candidate_clips", "clip_capacity", "torch_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.n_envs is not None and self.n_envs < 1:
            raise ValueError(f"--n-envs must be at least 1, got {self.n_envs}")
        if self.max_behind is not None and self.max_behind < 0:
            raise ValueError(f"--max-behind must be >= 0, got {self.max_behind}")
        if self.window and self.labeler == "oracle":
            raise ValueError("--window needs a human labeler (--labeler human or human+oracle)")
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ValueError(f"--checkpoint-every must be at least 1, got {self.checkpoint_every}")
        if not 0.0 <= self.sticky_actions <= 1.0:
            raise ValueError(f"--sticky-actions must be in [0, 1], got {self.sticky_actions}")
        if self.game_over_penalty is not None and self.game_over_penalty < 0:
            raise ValueError(f"--game-over-penalty must be >= 0, got {self.game_over_penalty}")
        if self.fit_rate < 0:
            raise ValueError(f"--fit-rate must be >= 0, got {self.fit_rate}")
        if self.eval_episodes < 0:
            raise ValueError(f"--eval-episodes must be >= 0, got {self.eval_episodes}")
        if self.reward_inputs is not None and self.reward_inputs not in REWARD_INPUTS:
            raise ValueError(f"--reward-inputs must be {' or '.join(REWARD_INPUTS)}, got {self.reward_inputs!r}")
        if self.clip_seconds <= 0:
            raise ValueError(f"--clip-seconds must be positive, got {self.clip_seconds}")
        if self.clip_steps is not None and self.clip_steps < 2:
            raise ValueError(f"--clip-steps must be at least 2, got {self.clip_steps}")
        if self.random_episode_steps is not None and self.random_episode_steps < 0:
            raise ValueError(f"--random-episode-steps must be >= 0, got {self.random_episode_steps}")
        if self.episode_steps is not None and self.episode_steps < 1:
            raise ValueError(f"--episode-steps must be positive, got {self.episode_steps}")
        if self.episode_steps is not None or self.min_episode_steps:
            spec = get_task(self.env)
            longest = spec.episode_steps if self.episode_steps is None else self.episode_steps
            # the harness's episode lengths; a resolved config holds the task's own length, valid everywhere
            for flag, asked in (("--episode-steps", longest != spec.episode_steps),
                                ("--min-episode-steps", self.min_episode_steps != 0)):
                if asked and spec.kind == "atari":
                    raise ValueError(f"{flag} is for MuJoCo tasks: an Atari game runs as one stream")
                if asked and self.reward == "true" and self.true_task == "gym":
                    raise ValueError(f"{flag} sets prefrl's harness; --true-task gym trains on the gym task's "
                                     "own episodes")
            if longest > spec.episode_steps:  # restarts come early or not at all: never a longer episode
                raise ValueError(f"--episode-steps restarts training episodes early: at most {spec.name}'s own "
                                 f"{spec.episode_steps} steps, got {longest}")
            if self.min_episode_steps and not 0 < self.min_episode_steps <= longest:
                raise ValueError(f"--min-episode-steps must be 0 or between 1 and {spec.name}'s training episode "
                                 f"length ({longest}), got {self.min_episode_steps}")
        if not 0.0 < self.initial_fraction < 1.0:
            raise ValueError(f"--initial-fraction must be in (0, 1), got {self.initial_fraction}")

    def _check_reward_source(self) -> None:
        """``reward_from`` names a learned-reward run of this task whose r̂ this run can read."""
        if self.reward != "preferences":
            raise ValueError("--reward-from gives PPO a learned reward; it needs --reward preferences")
        if self.labeler != "oracle":
            raise ValueError("--reward-from asks no labels: leave --labeler at oracle")
        try:
            source = load_run_config(Path(self.reward_from))
        except ValueError as exc:
            raise ValueError(f"--reward-from {exc}") from None
        if source.reward != "preferences":
            raise ValueError(f"--reward-from {self.reward_from}: a true-reward run has no reward model")
        if get_task(source.env).name != get_task(self.env).name:
            raise ValueError(f"--reward-from {self.reward_from}: its reward model is for {source.env}, not {self.env}")
        if self.reward_inputs not in (None, source.resolved_reward_inputs()):
            raise ValueError(f"--reward-from {self.reward_from}: its reward model sees {source.resolved_reward_inputs()}, "
                             f"not {self.reward_inputs}")

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        data = json.loads(path.read_text())
        if "reset_on_fall" in data and data.get("restart_after") is None:  # a run of cd1a09f
            data["restart_after"] = 1 if data["reset_on_fall"] else 0
        data.setdefault("reward_inputs", "obs+act")  # a run from before the option: r̂(o, a) was the only kind
        data.setdefault("validation", "split")  # a run from before the option: the only rule then
        data.setdefault("algo", "ppo")  # a run from before the option: PPO was the only algorithm
        data.setdefault("unhealthy_penalty", DEFAULT_PENALTY)  # the fall's price before it was per task
        data.setdefault("height_bonus", 0.0)
        data.setdefault("tilt_penalty", 0.0)
        data.setdefault("tilt_slope", 2.0)
        if data.get("random_episode_steps") is None:  # a run from before the task default: whole episodes
            data["random_episode_steps"] = 0
        known = {f.name for f in fields(cls)}
        cfg = cls(**{k: v for k, v in data.items() if k in known})
        if cfg.ppo_resolved is None:  # a run from before its PPO settings were saved: the registry's then
            try:
                cfg.ppo_resolved = cfg._with_overrides(ppo_before_recording(cfg.env))
            except UnknownTaskError:
                pass  # reported where the task is used
        return cfg


def load_run_config(run_dir: Path) -> TrainConfig:
    """The config of the run in ``run_dir``; ValueError (one clear line) if it is not a run."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise ValueError(f"{run_dir}: not a run folder (no config.json)")
    try:
        return TrainConfig.load(path)
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: unreadable run config ({exc})") from None
