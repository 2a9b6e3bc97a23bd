"""The ``prefrl`` command line: train, bench, tasks."""

from __future__ import annotations

import argparse
import ast
import math
import os
import sys
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn, Sequence

from agents.config import ALGOS, LABELERS, REWARD_INPUTS, REWARDS, TRUE_TASKS, VALIDATIONS, TrainConfig
from envs.registry import TASKS, TaskSpec
from preference.selection import SELECTIONS
from preference.teachers import PARAMETRIC_FORMS, PRESETS
from preference.store import StoreError

EXIT_USAGE = 2
DEMO = dict(env="Hopper", labels=150, timesteps=50_000)


class UsageError(Exception):
    """A mistake the user can fix; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _task_list(text: str) -> list[str]:
    from envs.registry import UnknownTaskError, get_task
    try:
        return [get_task(t.strip()).name for t in text.split(",") if t.strip()] or _empty(text)
    except UnknownTaskError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _budget_list(text: str) -> list[int]:
    budgets = [_positive_int(n.strip()) for n in text.split(",") if n.strip()] or _empty(text)
    if min(budgets) < 2:
        raise argparse.ArgumentTypeError(f"a label budget must be at least 2, got {text!r}")
    return budgets


def _seed_spec(text: str) -> int | list[int]:
    """``--seeds``: N (seeds 0..N-1), a range A-B (inclusive) or a list A,B,C of seeds."""
    t = text.strip()
    try:
        if "-" in t[1:]:
            a, b = (int(x) for x in t.split("-", 1))
            seeds = list(range(a, b + 1))
        elif "," in t:
            seeds = [int(x) for x in t.split(",") if x.strip()]
        else:
            count = int(t)
            if count > 0 and str(count) == t:
                return count
            seeds = []
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected a count N, a range A-B or a list A,B of seeds (each >= 0, "
                                         f"none twice), got {text!r}")
    return seeds


def _empty(text: str):
    raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0 or value != float(text):
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _ppo_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def _add_train_flags(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument("--env", default=d.env, help=f"task (one of {', '.join(TASKS)}); default %(default)s")
    p.add_argument("--reward", choices=REWARDS, default=d.reward,
                   help="what PPO optimizes: the learned reward from preferences, or the true reward "
                        "(the baseline; where it trains: --true-task); default %(default)s")
    p.add_argument("--true-task", choices=TRUE_TASKS, default=d.true_task,
                   help="MuJoCo, with --reward true (in a bench: its true-reward cells): train in prefrl's "
                        "harness (the oracle's reward, fixed-length episodes; the paper's baseline) or on the "
                        "unmodified gym task (its reward, control cost and termination; rl-zoo's setting); "
                        "default %(default)s")
    p.add_argument("--labels", type=_positive_int, default=None,
                   help="label budget (comparisons); default: the task's (700 for MuJoCo, 5,500 for Atari)")
    p.add_argument("--timesteps", type=_positive_int, default=None,
                   help="RL environment steps; default: the task's (1,000,000 for MuJoCo, 10,000,000 for Atari)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed; default %(default)s")
    p.add_argument("--selection", choices=SELECTIONS, default=d.selection,
                   help="pair selection: random; ensemble disagreement, or entropy (near ties in r̂), over "
                        "10x candidates (both random until r̂ is first fitted); or coverage: the recent clip "
                        "least like any asked about so far, against a random one; default %(default)s")
    p.add_argument("--labeler", choices=LABELERS, default=d.labeler,
                   help="who answers queries; default %(default)s (synthetic, reads the true reward)")
    p.add_argument("--teacher", default=d.teacher, metavar="{" + ",".join([*sorted(PRESETS), *PARAMETRIC_FORMS]) + "}",
                   help="synthetic labeler: the perfect oracle or a B-Pref noisy teacher (stoch: Boltzmann "
                        "beta=1, stoch:BETA another beta; mistake: 10%% flips; skip; equal; myopic: gamma=0.9), "
                        "or tie:TAU: the oracle, answering 'equally good' when the clip returns differ by less "
                        "than TAU, or near:TAU: the oracle, answering 'can't tell' (the pair is dropped and "
                        "another asked) there; default %(default)s")
    p.add_argument("--oracle-after", type=float, default=d.oracle_after,
                   help="with --labeler human+oracle: seconds a query waits for a person before the oracle "
                        "answers it; default %(default)s")
    p.add_argument("--max-behind", type=int, default=None,
                   help="pause training while answered labels trail the schedule by more than this "
                        "(default: never pause)")
    p.add_argument("--window", action="store_true",
                   help="with a human labeler: open the labeling window in a separate process")
    p.add_argument("--device", default=d.device, help="auto (CUDA when present), cpu or cuda; default %(default)s")
    p.add_argument("--n-envs", type=_positive_int, default=None, help="parallel envs; default: the task's PPO setting")
    p.add_argument("--ensemble-size", type=_positive_int, default=d.ensemble_size,
                   help="reward-model ensemble members; default %(default)s")
    p.add_argument("--clip-seconds", type=float, default=d.clip_seconds,
                   help="clip length in simulated seconds, at most 60 steps (the paper's 15-60); "
                        "default %(default)s")
    p.add_argument("--clip-steps", type=int, default=None,
                   help="clip length in steps, overriding --clip-seconds and its 60-step cap "
                        "(Hopper's 1.5 s is 188 steps); default: from --clip-seconds")
    p.add_argument("--reward-inputs", choices=REWARD_INPUTS, default=None,
                   help="what the reward model sees: observation and action (the paper) or the "
                        "observation only; default: the task's (Swimmer obs, the others obs+act)")
    p.add_argument("--initial-fraction", type=float, default=d.initial_fraction,
                   help="share of the budget labeled on random-policy clips before RL; default %(default)s")
    p.add_argument("--fit-every", type=_positive_int, default=d.fit_every,
                   help="refit the reward model every N env steps; default %(default)s")
    p.add_argument("--pretrain-epochs", type=_positive_int, default=d.pretrain_epochs,
                   help="passes over the initial labels before RL; default %(default)s")
    p.add_argument("--random-episode-steps", type=int, default=None, metavar="N",
                   help="MuJoCo: restart the random-policy rollouts that give the initial clips every N "
                        "steps (0: never, they run whole episodes); default: the task's (Walker2d 60, "
                        "the others 0)")
    p.add_argument("--episode-steps", type=_positive_int, default=None, metavar="N",
                   help="MuJoCo: length of the fixed-length training episodes, at most the task's own; the body "
                        "restarts underneath every N steps, with no signal of it to the agent (evaluation keeps the "
                        "task's length); default: the task's (1,000)")
    p.add_argument("--min-episode-steps", type=int, default=0, metavar="N",
                   help="MuJoCo: draw each training episode's length uniformly from N to --episode-steps "
                        "(restarts underneath, as there); default 0: every episode lasts --episode-steps")
    p.add_argument("--normalize-on", choices=("labeled", "recent"), default=d.normalize_on,
                   help="normalize r̂ after each fit on all labeled clips (stable) or the 50 most recent "
                        "clips; default %(default)s")
    p.add_argument("--pessimism", type=float, default=d.pessimism, metavar="K",
                   help="pay PPO r̂ minus K standard deviations of the reward-model members at each step, a lower "
                        "confidence bound that pays less where they disagree (away from the labeled clips); "
                        "default %(default)s: r̂ itself")
    p.add_argument("--optimism", type=float, default=d.optimism, metavar="K",
                   help="pay PPO r̂ plus K standard deviations of the reward-model members at each step, an upper "
                        "confidence bound that pays more where they disagree (what no label has shown yet), fading "
                        "linearly to nothing at --optimism-steps; default %(default)s: off")
    p.add_argument("--optimism-steps", type=int, default=d.optimism_steps, metavar="N",
                   help="env step at which --optimism has faded to nothing; default: the end of training")
    p.add_argument("--validation", choices=VALIDATIONS, default=d.validation,
                   help="each reward-model member's held-out comparisons, on which its l2 is adapted: a "
                        "split of 1/e drawn independently of its bootstrap sample (it trains on ~40%%), or "
                        "the out-of-bag ones of its sample (1/e; it trains on ~63%%; RESULTS.md, seventh "
                        "session); default %(default)s")
    p.add_argument("--unhealthy-penalty", type=float, default=None,
                   help="true-reward penalty per step where gymnasium would end the episode; default: the task's "
                        "(5; Hopper 0, whose fall --height-bonus and --tilt-penalty price)")
    p.add_argument("--height-bonus", type=float, default=None, metavar="W",
                   help="Hopper, Walker2d, Ant: the oracle's true reward gains W per step per metre of torso "
                        "height above the start height, a fall signal graded by how low the body is "
                        "(rl-teacher's Hopper and Walker use 1); default: the task's (Hopper 1, else 0)")
    p.add_argument("--tilt-penalty", type=float, default=None, metavar="V",
                   help="Hopper, Walker2d: the oracle's true reward loses V per step times t^2, t = |torso pitch| / "
                        "the pitch where gymnasium ends the episode (2t - 1 past it): V at that pitch, less "
                        "nearer upright; default: the task's (Hopper 1, else 0)")
    p.add_argument("--tilt-slope", type=float, default=None, metavar="S",
                   help="how steeply that charge grows past the limit: V x (1 + S(t - 1)) there; default 2, "
                        "the t^2 curve's own slope at the limit (2t - 1)")
    p.add_argument("--restart-after", type=int, default=None, metavar="N",
                   help="where gymnasium would end the episode, the body stays down N steps (each charged the "
                        "penalty), then restarts underneath with no done, as an Atari game after a lost life; "
                        "0: it runs on fallen; default: the task's (10 for the pendulums, 0 for the others)")
    p.add_argument("--sync-fit", action="store_true",
                   help="fit the reward model between rollouts instead of in a background thread "
                        "(slower; exactly reproducible)")
    p.add_argument("--eval-episodes", type=int, default=d.eval_episodes,
                   help="final true-reward evaluation episodes; default %(default)s")
    p.add_argument("--algo", choices=ALGOS, default=d.algo,
                   help="the RL algorithm: SB3 PPO, or sb3-contrib's TRPO (the paper's; MuJoCo only), each with "
                        "rl-zoo's settings for the task; default %(default)s")
    p.add_argument("--ppo", type=_ppo_override, action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of the task's PPO, or TRPO with --algo trpo (repeatable), "
                        "e.g. --ppo n_steps=2048")
    p.add_argument("--torch-threads", type=_positive_int, default=d.torch_threads,
                   help="torch CPU threads; default %(default)s")
    p.add_argument("--runs-dir", default=d.runs_dir, help="where run folders go; default %(default)s")
    p.add_argument("--exp-name", default=None, help="experiment name in the run folder's name")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--media-every", type=int, default=d.media_every,
                   help="log agent/clip GIFs and the predicted-vs-true scatter every N steps and at the end "
                        "(0: never); default %(default)s")
    p.add_argument("--checkpoint-every", type=_positive_int, default=d.checkpoint_every,
                   help="checkpoint every N env steps (and always on Ctrl-C); default %(default)s")
    p.add_argument("--fit-rate", type=float, default=d.fit_rate,
                   help="comparisons the reward model trains on per env step, at least (paper: 0.1); "
                        "default %(default)s")
    p.add_argument("--sticky-actions", type=float, default=d.sticky_actions,
                   help="Atari: probability that the emulator repeats the previous action (the paper used "
                        "none; ALE v5 uses 0.25); default %(default)s")
    p.add_argument("--game-over-penalty", type=float, default=None,
                   help="Atari: the oracle's penalty at a game over (default: the game's; 0 for Pong)")


def _config_from(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        env=args.env, reward=args.reward, true_task=args.true_task, labels=args.labels, timesteps=args.timesteps,
        seed=args.seed,
        selection=args.selection, labeler=args.labeler, teacher=args.teacher, oracle_after=args.oracle_after,
        max_behind=args.max_behind, window=args.window, device=args.device, n_envs=args.n_envs,
        ensemble_size=args.ensemble_size, clip_seconds=args.clip_seconds, clip_steps=args.clip_steps,
        reward_inputs=args.reward_inputs,
        initial_fraction=args.initial_fraction, fit_every=args.fit_every,
        pretrain_epochs=args.pretrain_epochs, normalize_on=args.normalize_on, validation=args.validation,
        pessimism=args.pessimism, optimism=args.optimism, optimism_steps=args.optimism_steps,
        unhealthy_penalty=args.unhealthy_penalty,
        restart_after=args.restart_after, height_bonus=args.height_bonus,
        tilt_penalty=args.tilt_penalty, tilt_slope=args.tilt_slope, random_episode_steps=args.random_episode_steps,
        episode_steps=args.episode_steps, min_episode_steps=args.min_episode_steps,
        async_fit=not args.sync_fit, eval_episodes=args.eval_episodes, algo=args.algo, ppo=dict(args.ppo),
        torch_threads=args.torch_threads, runs_dir=args.runs_dir, exp_name=args.exp_name,
        progress=not args.quiet, checkpoint_every=args.checkpoint_every,
        media_every=args.media_every, fit_rate=args.fit_rate, sticky_actions=args.sticky_actions,
        game_over_penalty=args.game_over_penalty, reward_from=getattr(args, "reward_from", None))


def _version() -> str:
    """The installed package's version (``unknown`` when run from a source tree that is not installed)."""
    try:
        return metadata.version("prefrl")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="prefrl", description="Reinforcement learning from clip-pair preferences "
                                                "(Christiano et al. 2017) with SB3 PPO.")
    parser.add_argument("--version", action="version", version=f"prefrl {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = sub.add_parser("train", help="train one agent (learned or true reward)",
                           description="Train PPO on the reward learned from synthetic-oracle preferences "
                                       "(or on the true reward), writing runs/<env>__<exp>__<seed>__<time>/.")
    _add_train_flags(train)
    train.add_argument("--resume", metavar="RUN", default=None,
                       help="continue RUN from its last checkpoint to the same steps and labels")
    train.add_argument("--reward-from", metavar="RUN", default=None,
                       help="train PPO on the reward model learned in RUN (a learned-reward run of the same task), "
                            "frozen: no labels are asked; e.g. a fresh policy, more steps or another algorithm on "
                            "labels already given")
    train.add_argument("--run-dir", default=None,
                       help="use this run folder instead of a new runs/<env>__<exp>__<seed>__<time>")
    train.add_argument("--force", action="store_true", help="with --run-dir: replace an existing run folder")
    bench = sub.add_parser("bench", help="benchmarks: learned-reward against true-reward PPO, one task or a suite",
                           description="Without --suite: learned-reward and true-reward PPO on --env for each "
                                       "seed, compared (final true return, ratio, throughput). With --suite: a "
                                       "resumable grid of cells run by a process pool, with results.csv, "
                                       "report.md and learning curves under <runs-dir>/bench/<name>/.")
    _add_train_flags(bench)
    bench.add_argument("--suite", default=None,
                       help="a suite: mujoco-quick (about an hour on 2 cores), paper-mujoco, selection, teachers, "
                            "paper-atari (7 games x 3,300/5,500/10,000 labels, 10M steps, 3 seeds: a GPU's work); "
                            "without one: --env at --labels against true-reward PPO")
    bench.add_argument("--seeds", type=_seed_spec, default=None, metavar="N|A-B|A,B",
                       help="number of seeds N (0..N-1), or which seeds: a range A-B or a list A,B (e.g. 3-4 "
                            "adds seeds 3 and 4 to a three-seed grid); default: the suite's (1 without a suite)")
    bench.add_argument("--tasks", type=_task_list, default=None, metavar="T1,T2",
                       help="with --suite: run only these tasks of it (a task outside it runs at its own default "
                            "RL budget; a bench folder run in parts reports every cell asked for in it)")
    bench.add_argument("--budgets", type=_budget_list, default=None, metavar="N1,N2",
                       help="with --suite: these label budgets instead of the suite's (e.g. 700,1400)")
    bench.add_argument("--only", choices=("baselines", "learned"), default=None,
                       help="run only the true-reward baselines, or only the learned-reward cells, of the grid "
                            "(e.g. baselines for seeds whose learned cells ran elsewhere); default: both")
    bench.add_argument("--report", metavar="DIR", default=None,
                       help="rebuild results.csv, report.md and plots of the bench in DIR from its finished cells")
    bench.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1,
                       help="runs in parallel (processes); default: one per CPU core (%(default)s here)")
    bench.add_argument("--name", default=None, help="bench folder name under <runs-dir>/bench/")
    bench.add_argument("--reuse", action="extend", nargs="+", default=[], metavar="DIR",
                       help="copy finished cells of other bench folders that have the same name and settings "
                            "(e.g. their true-reward baselines) instead of running them, or finished `prefrl "
                            "train` run folders of a cell's task, seed, reward, budget and settings; takes several "
                            "folders (--reuse runs/bench/*/) and is repeatable; of several matches the newest run wins")
    bench.add_argument("--plan", action="store_true",
                       help="print what the bench would do, cell by cell (finished, reused from --reuse, resumed, "
                            "run from the start; cells of other settings passed over, with the settings that "
                            "differ), and exit without running or writing anything")
    bench.add_argument("--executor", choices=("processes", "ray"), default="processes",
                       help="run cells in local processes, or as Ray tasks (pip install 'prefrl[ray]'); "
                            "default %(default)s")
    bench.add_argument("--address", default=None,
                       help="with --executor ray: the cluster to join (default: start a local Ray instance)")
    demo = sub.add_parser("demo", help="a short synthetic-oracle run on the embedded default (about 3 minutes)",
                          description=f"Train on {DEMO['env']} from {DEMO['labels']} synthetic-oracle labels for "
                                      f"{DEMO['timesteps']:,} steps, then print where the results and "
                                      "TensorBoard logs are.")
    demo.add_argument("--runs-dir", default="runs", help="where run folders go; default %(default)s")
    label = sub.add_parser("label", help="label a run's clip pairs in a window (or export the answers)",
                           description="Open the pygame window on a run's preference store: two clips side by "
                                       "side, you say which is better. Keys: Left/A left better, Right/D right "
                                       "better, Up/E equal, Down/N can't tell, U/Backspace undo, R replay, "
                                       "+/- speed, H help, Q/Esc quit.")
    label.add_argument("run", help="the run folder (runs/<env>__<exp>__<seed>__<time>)")
    label.add_argument("--export", metavar="FILE", default=None,
                       help="write every answer as JSON lines to FILE instead of opening the window")
    label.add_argument("--labeler", default=os.environ.get("USER", "human"),
                       help="your name, recorded with each answer; default %(default)s")
    label.add_argument("--max-answers", type=_positive_int, default=None, help="close after this many answers")
    label.add_argument("--original", action="store_true",
                       help="Atari: show the clips with their score area (hidden from the agent and the reward "
                            "model; a person judging behaviour should not need it)")
    ev = sub.add_parser("eval", help="evaluate a run's policy on the true reward",
                        description="Evaluate a finished (or checkpointed) run's policy on the true reward and "
                                    "write eval.json in the run folder.")
    ev.add_argument("run", help="the run folder")
    ev.add_argument("--episodes", type=_positive_int, default=10, help="evaluation episodes; default %(default)s")
    ev.add_argument("--seed", type=int, default=12345, help="evaluation seed; default %(default)s")
    diag = sub.add_parser("diagnose", help="how well a run's r̂ tracks the true reward, step by step",
                          description="Compare the run's reward model (final, else its last checkpoint) with the "
                                      "true reward. MuJoCo: on the most recently labeled clips, per-step "
                                      "correlation, on healthy steps, within clips, mean r̂ on healthy vs "
                                      "unhealthy steps, and fall_price_ratio: how much of the truth's price of a "
                                      "fall r̂ charges, each in units of its spread (1: as the truth); and what the "
                                      "labeler was shown (labeled_by_phase: before RL, then each quarter of "
                                      "training: labels, healthy share, mean true return, and on locomotion "
                                      "tasks how fast the clips moved forward). Atari: on fresh clips that no "
                                      "labeler saw, played by the run's policy (or --policy), r̂'s agreement with "
                                      "the oracle on every pair it would not tie, and the correlation of predicted "
                                      "and true clip returns.")
    diag.add_argument("run", help="the run folder")
    diag.add_argument("--clips", type=_positive_int, default=300,
                      help="clips to use (MuJoCo: the most recently labeled; Atari: fresh); default %(default)s")
    diag.add_argument("--policy", action="append", metavar="RUN|random",
                      help="MuJoCo: instead score whole harness episodes of this policy (another run folder's "
                           "saved policy, deterministic, or 'random') with this run's r̂, to see whether r̂ "
                           "ranks policies as the oracle does. Atari: play the fresh clips with this policy "
                           "instead of the run's own. Repeatable")
    diag.add_argument("--episodes", type=_positive_int, default=1,
                      help="with --policy: episodes per policy; default %(default)s")
    diag.add_argument("--pessimism", type=_nonnegative_float, default=None, metavar="K",
                      help="with --policy (MuJoCo): also score the episodes with r̂ minus K standard deviations of "
                           "the members, the lower confidence bound --pessimism K pays PPO; default: the run's own "
                           "(0: none)")
    tasks = sub.add_parser("tasks", help="list the tasks and their settings")
    tasks.add_argument("--algo", choices=ALGOS, default=None,
                       help="also print each task's settings of this RL algorithm (before any --ppo override)")
    return parser


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.2f}"


def _fall_price(spec: TaskSpec) -> str:
    """How the oracle's true reward prices a fall on ``spec`` ('' where the task cannot fall)."""
    if not spec.has_termination:
        return ""
    parts = [f"penalty {spec.unhealthy_penalty:g}"] if spec.unhealthy_penalty else []
    parts += [f"height {spec.height_bonus:g}"] if spec.height_bonus else []
    parts += [f"tilt {spec.tilt_penalty:g}" + (f" (slope {spec.tilt_slope:g} past the limit)"
                                               if spec.tilt_slope != 2.0 else "")] if spec.tilt_penalty else []
    return "  fall: " + (", ".join(parts) or "free")


def _cmd_tasks(algo: str | None) -> None:
    for spec in TASKS.values():
        print(f"{spec.name:24s} {spec.gym_id:28s} clip {spec.clip_steps:4d} steps  "
              f"episode {spec.episode_steps:5d}  labels {spec.default_labels:5d}  steps {spec.default_timesteps:,}  "
              f"r̂ of {'frames' if spec.kind == 'atari' else spec.reward_inputs}"
              + (f"  random rollouts restart every {spec.random_episode_steps}" if spec.random_episode_steps else "")
              + _fall_price(spec))
        if algo is not None:
            settings = spec.rl_settings(algo)
            print(f"    {algo}: " + ("not offered" if settings is None else
                                     ", ".join(f"{k}={v}" for k, v in settings.items())))


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        args = build_parser().parse_args(argv)
        if args.command == "tasks":
            _cmd_tasks(args.algo)
            return 0
        if args.command == "label":
            from agents.labeling import export_labels, open_window
            if args.export:
                n = export_labels(Path(args.run), Path(args.export))
                print(f"exported {n} answers to {args.export}")
            else:
                session = open_window(Path(args.run), labeler=args.labeler, max_answers=args.max_answers,
                                      original=args.original)
                print(f"answered {len(session.answered)} queries")
            return 0
        if args.command == "diagnose":
            import json
            from agents.config import load_run_config
            from agents.diagnose import atari_fresh_clips, diagnose, score_policies
            if load_run_config(Path(args.run)).task().kind == "atari":
                for row in atari_fresh_clips(Path(args.run), args.policy, args.clips):
                    print(f"{row['policy']}: {row['clips']} fresh clips of {row['clip_steps']} steps "
                          f"({row['scoring_clips']:.0%} with a non-zero true return); r̂ agrees with the oracle "
                          f"on {_fmt(row['pair_acc'])} of {row['decided_pairs']:.0f} pairs it would not tie; "
                          f"clip-return correlation {_fmt(row['corr'])} (Spearman {_fmt(row['spearman'])}), "
                          f"per step {_fmt(row['step_corr'])}; reward model: {row['reward_model']}")
                return 0
            if args.policy:
                for row in score_policies(Path(args.run), args.policy, args.episodes, pessimism=args.pessimism):
                    print(f"{row['policy']}: oracle return {row['oracle_return']:.1f}, unhealthy steps "
                          f"{row['unhealthy_steps']:.0f}, r̂ return {row['r_hat_return']:.1f} (per healthy step "
                          f"{_fmt(row['r_hat_mean_healthy'])}, per unhealthy step "
                          f"{_fmt(row['r_hat_mean_unhealthy'])}), "
                          + (f"lower bound at pessimism {row['pessimism']:g}: {row['r_hat_lcb_return']:.1f}, "
                             if row["pessimism"] else "") +
                          f"mean squared action {row['mean_squared_action']:.2f}; discounted at gamma "
                          f"{row['gamma']:g}: r̂ {row['r_hat_discounted']:.1f}, oracle {row['oracle_discounted']:.1f}"
                          + ("" if row["distance"] is None else
                             f"; distance {row['distance']:.1f}, forward speed when unhealthy "
                             f"{_fmt(row['x_velocity_unhealthy'])}"))
                return 0
            print(json.dumps(diagnose(Path(args.run), args.clips), indent=2))
            return 0
        if args.command == "demo":
            from agents.train import train
            run = train(TrainConfig(**DEMO, runs_dir=args.runs_dir, exp_name="demo", eval_episodes=5))
            _print_result(run.path, run.result)
            return 0
        if args.command == "eval":
            from agents.evaluation import evaluate_run
            out = evaluate_run(Path(args.run), args.episodes, args.seed)
            print(f"true return {out['true_return_mean']:.1f} +- {out['true_return_std']:.1f} over "
                  f"{args.episodes} episodes (oracle return {out['oracle_return_mean']:.1f}"
                  + (f", unhealthy {out['oracle_unhealthy_fraction']:.0%} of steps, first at step "
                     f"{out['oracle_first_unhealthy_step']:.0f}" if "oracle_unhealthy_fraction" in out else "")
                  + f"); written to {Path(args.run) / 'eval.json'}")
            return 0
        if args.command == "bench" and args.report:
            from agents.suites import write_report
            out = Path(args.report)
            if not (out / "grid.json").is_file():
                raise ValueError(f"{out}: not a bench folder (no grid.json)")
            write_report(out)
            _print_bench(out)
            return 0
        cfg = _config_from(args)
        if args.command == "train" and args.resume:
            from agents.train import resume
            defaults = _config_from(build_parser().parse_args(["train"]))
            changed = {k: v for k, v in vars(cfg).items() if v != getattr(defaults, k)}
            run = resume(Path(args.resume), changed)
            _print_result(run.path, run.result)
            return 0
        true_task = cfg.true_task
        if args.command == "bench":  # the base config is a learned cell's; bench_cells validates every cell
            cfg = replace(cfg, true_task="harness")
        cfg.validate()
        from envs.registry import get_task
        get_task(cfg.env)
        if args.command == "train":
            from agents.train import train
            run = train(cfg, Path(args.run_dir) if args.run_dir else None, force=args.force)
            _print_result(run.path, run.result)
        elif args.command == "bench":
            seeds = args.seeds if args.seeds is not None else (None if args.suite else 1)
            reuse = [Path(r) for r in args.reuse]
            for r in reuse:
                if not (r / "cells").is_dir() and not (r / "config.json").is_file():  # an unfinished run: passed over
                    raise UsageError(f"--reuse {r}: not a bench folder (no cells/) nor a run folder (no config.json)")
            if (args.tasks or args.budgets) and not args.suite:
                raise UsageError("--tasks and --budgets narrow a --suite; without one use --env and --labels")
            from agents.benchmark import Grid, plan_bench, run_bench
            grid = Grid(args.suite, seeds, true_task, args.tasks, args.budgets, args.only)
            if args.plan:
                print("\n".join(plan_bench(cfg, grid, args.name, reuse)))
                return 0
            out = run_bench(cfg, grid, args.name, args.workers, args.executor, args.address, reuse)
            _print_bench(out)
        return 0
    except UsageError as exc:
        print(f"prefrl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `prefrl tasks | head`: the reader is gone, nothing to report to
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError, StoreError) as exc:
        print(f"prefrl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except _interrupted() as exc:
        print(f"prefrl: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("prefrl: interrupted", file=sys.stderr)
        return 130


def _print_bench(out) -> None:
    for name in ("summary.md", "report.md"):
        if (out / name).exists():
            print((out / name).read_text())
    print(f"bench folder: {out} (results.csv, report.md, curves_*.png)")


def _interrupted() -> type[Exception]:
    """The train module's Interrupted, without importing torch for commands that don't train."""
    mod = sys.modules.get("agents.train")
    return mod.Interrupted if mod is not None else _NeverRaised


class _NeverRaised(Exception):
    pass


def _print_result(path, result: dict) -> None:
    print(f"run folder: {path}")
    if "true_return_mean" in result:
        print(f"final true return: {result['true_return_mean']:.1f} +- {result['true_return_std']:.1f} "
              f"(oracle return {result['oracle_return_mean']:.1f})")
    print(f"labels: {result['labels_answered']}  steps: {result['timesteps']}  "
          f"steps/s: {result['steps_per_sec']:.0f}")
    print(f"results: {path / 'result.json'}")
    print(f"TensorBoard: tensorboard --logdir {path.parent}")


if __name__ == "__main__":
    sys.exit(main())
