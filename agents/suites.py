"""Benchmark suites: a grid of cells (task x budget x seed x selection x teacher, plus true-reward
PPO per task and seed), run by a pool of processes, resumable, with tables and learning curves."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing as mp
import os
import shutil
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np

from agents.benchmark import format_ratio, return_ratio, trained_on
from agents.config import TrainConfig, load_run_config, true_run_name
from agents.run_dir import describe_progress, replace_text
from envs.registry import get_task


@dataclass(frozen=True)
class Cell:
    """One training run of a suite. ``labels`` is None for the true-reward baseline."""

    env: str
    labels: int | None
    seed: int
    timesteps: int
    selection: str = "random"
    teacher: str = "oracle"
    true_task: str = "harness"
    """Where the true-reward baseline trains (``TrainConfig.true_task``); learned cells ignore it."""

    @property
    def name(self) -> str:
        what = (true_run_name(self.true_task) if self.labels is None
                else f"pref{self.labels}-{self.selection}-{self.teacher}")
        return f"{self.env}__{what}__s{self.seed}"

    def config(self, base: TrainConfig) -> TrainConfig:
        cfg = replace(base, env=self.env, reward="preferences", labels=self.labels or 2, timesteps=self.timesteps,
                      seed=self.seed, selection=self.selection, teacher=self.teacher, progress=False,
                      exp_name=None, true_task="harness")
        return cfg if self.labels is not None else cfg.true_baseline(self.true_task)


@dataclass(frozen=True)
class Suite:
    """Tasks with their RL budgets, label budgets, default seeds, selections and teachers."""

    tasks: dict[str, int]
    labels: tuple[int, ...]
    seeds: int
    selections: tuple[str, ...] = ("random",)
    teachers: tuple[str, ...] = ("oracle",)

    def cells(self, seeds: list[int], true_task: str = "harness") -> list[Cell]:
        out: list[Cell] = []
        for env, steps in self.tasks.items():
            for seed in seeds:
                out.append(Cell(env, None, seed, steps, true_task=true_task))
                out += [Cell(env, n, seed, steps, sel, teacher) for n in self.labels
                        for sel in self.selections for teacher in self.teachers]
        return out


PAPER_TASKS = ("Hopper", "Walker2d", "Swimmer", "HalfCheetah", "Ant", "Reacher", "InvertedPendulum",
               "InvertedDoublePendulum")
SUITES: dict[str, Suite] = {
    # About an hour on 2 cores: the quick-learning tasks at reduced RL budgets. InvertedDoublePendulum keeps
    # the paper's 1M: from 700 labels it balances through whole episodes only after 400k-900k steps (true
    # reward: 300k), and at 200k it stood at 0.03-0.05 of the baseline (RESULTS.md). InvertedPendulum gets
    # 300k: at 100k its learned-reward agent is still learning (true return in training about -700 to -800),
    # and whether its deterministic policy balanced was luck: 1.00 without target_kl, 0.07 with it.
    "mujoco-quick": Suite({"InvertedPendulum": 300_000, "Reacher": 200_000, "InvertedDoublePendulum": 1_000_000,
                           "Hopper": 300_000}, labels=(700,), seeds=1),
    "paper-mujoco": Suite({t: 1_000_000 for t in PAPER_TASKS}, labels=(350, 700, 1400), seeds=5),
    "selection": Suite({"Hopper": 1_000_000}, labels=(700,), seeds=3, selections=("random", "disagreement")),
    "teachers": Suite({"Hopper": 1_000_000}, labels=(700,), seeds=3,
                      teachers=("oracle", "stoch", "mistake", "skip", "equal", "myopic")),
}
ATARI_TASKS = ("BeamRider", "Breakout", "Enduro", "Pong", "Qbert", "Seaquest", "SpaceInvaders")
# The paper's Atari grid (50M A2C steps there; 10M PPO steps here, rl-zoo's budget): for a GPU machine.
SUITES["paper-atari"] = Suite({t: 10_000_000 for t in ATARI_TASKS}, labels=(3300, 5500, 10000), seeds=3)
NOT_YET: dict[str, str] = {}  # suites named before they can run: name -> why not


def seed_list(seeds: int | list[int] | None, default: int) -> list[int]:
    """The seeds of ``--seeds``: a count N (0..N-1), the seeds themselves, or None (``default`` as a count)."""
    if seeds is None:
        seeds = default
    return list(range(seeds)) if isinstance(seeds, int) else list(seeds)


def suite_cells(name: str, seeds: int | list[int] | None, env: str | None, timesteps: int | None,
                true_task: str = "harness", tasks: list[str] | None = None,
                budgets: list[int] | None = None) -> list[Cell]:
    """The cells of suite ``name``; ``env`` (one task) or ``tasks``, ``budgets`` (label budgets) and
    ``timesteps`` narrow or rescale it (e.g. teachers on Walker2d; a task from outside the suite gets its
    own default RL budget); ``seeds``: a count (0..N-1) or the seeds; ``true_task``: where its true-reward
    baselines train."""
    if name in NOT_YET:
        raise ValueError(f"suite {name!r} {NOT_YET[name]}")
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; choose from {', '.join([*SUITES, *NOT_YET])}")
    suite = SUITES[name]
    if env is not None or tasks:
        names = list(dict.fromkeys(get_task(t).name for t in (tasks or [env])))
        suite = replace(suite, tasks={t: suite.tasks.get(t, get_task(t).default_timesteps) for t in names})
    if budgets:
        suite = replace(suite, labels=tuple(dict.fromkeys(budgets)))
    if timesteps is not None:
        suite = replace(suite, tasks={t: timesteps for t in suite.tasks})
    if true_task != "harness" and any(get_task(t).kind != "mujoco" for t in suite.tasks):
        raise ValueError(f"--true-task {true_task} is for MuJoCo tasks; this grid has others")
    return suite.cells(seed_list(seeds, suite.seeds), true_task)


# Settings that change nothing a finished run computed (where it ran, how it logged, how it checkpointed,
# threads and fit scheduling), and those a true-reward run never reads.
_NOT_COMPARED = frozenset({"device", "progress", "torch_threads", "runs_dir", "exp_name", "checkpoint_every",
                           "media_every", "window", "max_behind", "oracle_after", "async_fit", "alarm_window"})
_LEARNED_ONLY = frozenset({"labels", "selection", "labeler", "teacher", "ensemble_size", "clip_seconds",
                           "clip_steps", "reward_inputs", "initial_fraction", "schedule_horizon", "fit_every",
                           "fit_epochs", "pretrain_epochs", "random_episode_steps", "normalize_on", "validation",
                           "pessimism", "optimism", "optimism_steps", "candidate_clips", "clip_capacity", "fit_rate",
                           "reward_from"})


# The PPO overrides and n_envs: compared through the PPO settings they resolve to (``ppo_resolved``), since
# the same settings can come from the registry or from a flag.
_PPO_INPUTS = frozenset({"ppo", "n_envs", "ppo_resolved"})


def setting_differences(cell: Cell, base: TrainConfig, run_dir: Path) -> list[str]:
    """How the run in ``run_dir`` was set up differently from what ``cell`` asks for under ``base``,
    one ``name: ran X, asked Y`` per setting; [] when its result stands for the cell."""
    # through JSON, as the run's config was: a flag's tuple (--ppo net=(64,64)) is the list it saved
    ran, asked = (json.loads(json.dumps(asdict(c.resolved()))) for c in (load_run_config(run_dir), cell.config(base)))
    skip = _NOT_COMPARED | _PPO_INPUTS | (_LEARNED_ONLY if asked["reward"] == "true" else frozenset())
    diff = [f"{k}: ran {ran[k]!r}, asked {asked[k]!r}" for k in asked if k not in skip and ran[k] != asked[k]]
    ran_ppo, asked_ppo = ran["ppo_resolved"] or {}, asked["ppo_resolved"] or {}
    return diff + [f"ppo {k}: ran {ran_ppo.get(k)!r}, asked {asked_ppo.get(k)!r}"
                   for k in sorted(ran_ppo.keys() | asked_ppo.keys()) if ran_ppo.get(k) != asked_ppo.get(k)]


def _reuse_sources(cells: list[Cell], base: TrainConfig, folder: Path,
                   sources: list[Path]) -> tuple[dict[str, Path], list[str]]:
    """For each of ``cells`` not finished in ``folder``, the newest finished run (``_finished_at``) of the
    same name and settings in ``sources`` (bench folders, or finished ``prefrl train`` run folders; see
    ``_run_identity``) ({cell name: run folder}: the one nearest today's code), and one line per run passed
    over for its settings."""
    found, passed = {}, []
    runs = {src: _run_identity(src) for src in sources}  # each run's config read once, not once per cell
    for cell in cells:
        if (folder / cell.name / "result.json").exists():
            continue
        matches = []
        for src in sources:
            if (src / "cells").is_dir():  # a bench folder: the cell of the same name
                run_dir = src / "cells" / cell.name
                if not (run_dir / "result.json").exists():
                    continue
            elif runs[src] == (cell.env, cell.seed, cell.labels):  # a finished run of the cell's task, seed, budget
                run_dir = src
            else:
                continue
            if diff := setting_differences(cell, base, run_dir):
                passed.append(f"not reused {run_dir} (other settings: {'; '.join(diff)})")
            else:
                matches.append(run_dir)
        if matches and _running_elsewhere(folder, cell.name):
            passed.append(f"not reused for {cell.name}: {RUNNING_ELSEWHERE}")
        elif matches:
            found[cell.name] = max(matches, key=_finished_at)
    return found, passed


def _run_identity(src: Path) -> tuple[str, int, int | None] | None:
    """(task, seed, label budget; None for true reward) of ``src``, a finished ``prefrl train`` run folder, the
    cell it may stand for if its settings match (so seeds run one by one join a grid); None for a bench folder
    or a run not finished."""
    if (src / "cells").is_dir() or not (src / "result.json").exists():
        return None
    cfg = load_run_config(src).resolved()
    return cfg.env, cfg.seed, None if cfg.reward == "true" else cfg.labels


def _finished_at(run_dir: Path) -> float:
    """When the finished run in ``run_dir`` ended (seconds since the epoch): as its result.json records it, or,
    for runs older than that record, the file's modification time (kept by ``--reuse``'s copies)."""
    result = run_dir / "result.json"
    return float(json.loads(result.read_text()).get("finished") or result.stat().st_mtime)


def reuse_cells(cells: list[Cell], base: TrainConfig, folder: Path, sources: list[Path]) -> list[str]:
    """Copy into ``folder`` each finished cell of the bench folders ``sources`` (e.g. true-reward
    baselines), or finished run folder among them, that has the name (a run: the task, seed, reward and
    budget) and the settings of one of ``cells`` not finished here. Returns one line per cell copied or
    passed over."""
    found, passed = _reuse_sources(cells, base, folder, sources)
    copied = []
    for name, run_dir in found.items():
        lock = _claim_cell(folder, name)  # held while copying: no other process starts the cell meanwhile
        if lock is None:
            passed.append(f"not reused for {name}: {RUNNING_ELSEWHERE}")
            continue
        with lock:
            if (folder / name / "result.json").exists():  # finished here meanwhile, by another bench process
                continue
            shutil.rmtree(folder / name, ignore_errors=True)  # an unfinished try of this cell
            shutil.copytree(run_dir, folder / name)
        copied.append(f"reused {run_dir}{_provenance(run_dir)}")
    return passed + copied


def _provenance(run_dir: Path) -> str:
    """`` (run DATE, code COMMIT)`` of the finished run in ``run_dir``, as far as its result.json says."""
    result = json.loads((run_dir / "result.json").read_text())
    known = [f"{what} {result[k]}" for k, what in (("date", "run"), ("code", "code")) if result.get(k)]
    return f" ({', '.join(known)})" if known else ""


def plan_suite(cells: list[Cell], base: TrainConfig, out: Path, reuse: list[Path] | None = None) -> list[str]:
    """What ``run_suite`` would do, one line per cell (finished, resumed, reused from one of ``reuse``, or
    run from the start) and a count; nothing is written. Raises ValueError where ``run_suite`` would."""
    folder = out / "cells"
    _refuse_other_settings(cells, base, folder)
    found, passed = _reuse_sources(cells, base, folder, list(reuse or []))
    lines, counts = [], {"finished": 0, "resumes": 0, "reused": 0, "runs": 0, "running": 0}
    for c in cells:
        if (folder / c.name / "result.json").exists():
            state, where = "finished", _provenance(folder / c.name)
        elif c.name in found:
            state, where = "reused", f" from {found[c.name]}{_provenance(found[c.name])}"
        elif _running_elsewhere(folder, c.name):
            progress = describe_progress(folder / c.name, running=True)
            state, where = "running", f" ({RUNNING_ELSEWHERE}: skipped{'; ' + progress if progress else ''})"
        elif (folder / c.name / "checkpoint").exists():
            progress = describe_progress(folder / c.name, running=False)
            state, where = "resumes", f" ({progress})" if progress else ""
        else:
            state, where = "runs", ""
        counts[state] += 1
        lines.append(f"{state:9} {c.name}{where}")
    return [*passed, *lines, f"{_count(len(cells), 'cell')} in {out}: {counts['finished']} finished, "
            f"{counts['reused']} reused, {counts['resumes']} resume from a checkpoint, {counts['runs']} run from the start"
            + (f", {counts['running']} running in another bench process" if counts["running"] else "")]


def _count(n: int, noun: str) -> str:
    """``1 cell``, ``6 cells``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _refuse_other_settings(cells: list[Cell], base: TrainConfig, folder: Path) -> None:
    """Raise ValueError for a cell in ``folder``, finished or checkpointed, run with settings other than the
    cell's under ``base``: its result would stand for runs it is not (a checkpoint would resume on them)."""
    for c in cells:
        finished = (folder / c.name / "result.json").exists()
        if not finished and not (folder / c.name / "checkpoint").exists():
            continue  # never started, or stopped before its first checkpoint: it starts afresh
        if diff := setting_differences(c, base, folder / c.name):
            raise ValueError(f"{folder / c.name} was {'run' if finished else 'started'} with other settings "
                             f"({'; '.join(diff)}); choose another --name")


def _run_cell(cell: Cell, base: TrainConfig, folder: Path) -> dict[str, Any]:
    """Run (or resume) one cell in its own folder; return its result row or its error."""
    from agents.train import resume, train

    run_dir = folder / cell.name
    lock = None
    try:
        if not (run_dir / "result.json").exists():
            lock = _claim_cell(folder, cell.name)
            if lock is None:
                return {"cell": cell.name, **asdict(cell), "status": "running", "error": RUNNING_ELSEWHERE}
        if (run_dir / "result.json").exists():  # also: finished by another bench process just now
            result = json.loads((run_dir / "result.json").read_text())
        elif (run_dir / "checkpoint").exists():
            result = resume(run_dir).result
        else:
            result = train(cell.config(base), run_dir=run_dir, force=True).result
        return {"cell": cell.name, **asdict(cell), **result, "status": "done"}
    except Exception as exc:  # noqa: BLE001 - a failed cell is reported and the rest go on
        if type(exc).__name__ == "Interrupted":  # stopped by a signal: the bench stops, the cell resumes later
            if _IN_POOL_WORKER:
                os._exit(130)  # take no further cell (the bench is stopping or dead)
            raise
        (folder / f"{cell.name}.error.txt").write_text(traceback.format_exc())
        return {"cell": cell.name, **asdict(cell), "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        if lock is not None:
            lock.close()  # releases the claim


RUNNING_ELSEWHERE = "running in another bench process"


def _claim_path(folder: Path, name: str) -> Path:
    """The file whose lock claims cell ``name`` of ``folder``: ``folder/.NAME.running`` (kept after the run)."""
    return folder / f".{name}.running"


def _claim_cell(folder: Path, name: str, patience: float = 1.0) -> IO[str] | None:
    """Claim the right to run cell ``name`` of ``folder``: an exclusive lock on its ``_claim_path``, held
    until the returned file is closed (or its process ends, however it ends); None if another process
    holds it for ``patience`` seconds (a mere look by ``_running_elsewhere`` holds it for microseconds). Two
    bench processes on one folder (parts started side by side) never run one cell twice. Where the file
    system has no locks, a warning, and the cell runs unclaimed."""
    import fcntl

    fh = open(_claim_path(folder, name), "a")
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fh
        except BlockingIOError:
            if time.monotonic() >= deadline:
                fh.close()
                return None
            time.sleep(0.05)
        except OSError as exc:
            print(f"warning: cannot lock {fh.name} ({exc.strerror}): {name} runs unclaimed", flush=True)
            return fh


def _running_elsewhere(folder: Path, name: str) -> bool:
    """Whether another process is running cell ``name`` of ``folder`` now (creates nothing)."""
    import fcntl

    path = _claim_path(folder, name)
    if not path.exists():
        return False
    with open(path, "a") as fh:  # opened for writing: NFS grants an exclusive lock only then
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:  # no locks on this file system: nothing can be known to run
            return False
    return False


def run_suite(cells: list[Cell], base: TrainConfig, out: Path, workers: int, executor: str = "processes",
              address: str | None = None, reuse: list[Path] | None = None) -> list[dict[str, Any]]:
    """Run every unfinished cell with a pool of ``workers`` processes (or on a Ray cluster);
    finished cells are reused, and so are finished cells of the bench folders ``reuse`` with the same
    name and settings. A finished cell run with other settings is refused (ValueError): its result
    would stand for runs it is not. With Ray, ``out`` must be on storage every node sees."""
    folder = out / "cells"
    _refuse_other_settings(cells, base, folder)
    folder.mkdir(parents=True, exist_ok=True)
    for note in reuse_cells(cells, base, folder, list(reuse or [])):
        print(note, flush=True)
    _write_grid(out, cells)
    rows: list[dict[str, Any]] = []
    todo = [c for c in cells if not (folder / c.name / "result.json").exists()]
    rows += [_run_cell(c, base, folder) for c in cells if c not in todo]
    workers = max(1, min(workers, len(todo)))  # no more processes than cells to run
    print(f"{_count(len(cells), 'cell')}: {len(cells) - len(todo)} finished before, {len(todo)} to run with "
          f"{_count(workers, 'worker')}",
          flush=True)
    if executor == "ray":
        rows += _run_on_ray(todo, base, folder, workers, address)
    elif workers == 1:
        for c in todo:
            rows.append(_report_progress(_run_cell(c, base, folder)))
    else:
        try:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                     initializer=_stop_with_parent) as pool:
                futures = [pool.submit(_run_cell, c, base, folder) for c in todo]
                for f in as_completed(futures):
                    rows.append(_report_progress(f.result()))
        except BrokenProcessPool:  # a worker was killed (a signal to it alone, the out-of-memory killer)
            from agents.train import Interrupted
            raise Interrupted("a bench worker stopped before its cell finished (killed by a signal, or out of "
                              "memory); finished cells and checkpoints are kept: run the same command again "
                              "to resume") from None
    return rows


def _write_grid(out: Path, cells: list[Cell]) -> None:
    """Add ``cells`` to the bench's grid.json: every cell ever asked for in the folder, in order, so that a
    bench run in parts (``--tasks``, ``--budgets``) reports all of them."""
    import fcntl

    grid = out / "grid.json"
    with open(out / ".grid.lock", "w") as lock:  # parts of one bench started together: one at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        known = [Cell(**c) for c in json.loads(grid.read_text())] if grid.exists() else []
        asked = {c.name: c for c in cells}  # a cell asked again (say, with other steps) replaces its old entry
        merged = [asked.pop(c.name, c) for c in known] + list(asked.values())
        replace_text(grid, json.dumps([asdict(c) for c in merged], indent=2) + "\n")


_IN_POOL_WORKER = False


def _stop_with_parent() -> None:
    """In a worker: get SIGTERM when the bench process dies (even by SIGKILL), so that the cell
    checkpoints and stops instead of running on as an orphan (Linux; elsewhere a no-op)."""
    global _IN_POOL_WORKER
    _IN_POOL_WORKER = True
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_on_ray(cells: list[Cell], base: TrainConfig, folder: Path, workers: int,
                address: str | None) -> list[dict[str, Any]]:
    """One Ray task per cell (1 CPU each); a local Ray instance with ``workers`` CPUs without ``address``."""
    try:
        import ray
    except ImportError:
        raise ValueError("--executor ray needs Ray: pip install 'prefrl[ray]'") from None
    if address:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    else:
        ray.init(num_cpus=workers, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(_run_cell)
    pending = [remote.remote(c, base, folder) for c in cells]
    rows = []
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        rows.append(_report_progress(ray.get(ready[0])))
    return rows


def _report_progress(row: dict[str, Any]) -> dict[str, Any]:
    if row["status"] == "done":
        print(f"{time.strftime('%H:%M:%S')} done   {row['cell']}: true return {row['true_return_mean']:.1f}",
              flush=True)
    elif row["status"] == "running":
        print(f"{time.strftime('%H:%M:%S')} skip   {row['cell']}: {row['error']}", flush=True)
    else:
        print(f"{time.strftime('%H:%M:%S')} FAILED {row['cell']}: {row['error']}", flush=True)
    return row


# -- reports ---------------------------------------------------------------------------------
CSV_FIELDS = ["cell", "env", "labels", "seed", "selection", "teacher", "true_task", "algo", "status", "timesteps",
              "true_return_mean", "true_return_std", "oracle_return_mean", "learned_return_mean", "reward_val_acc",
              "reward_heldout_corr", "labels_answered", "wall_seconds", "steps_per_sec", "device", "date", "code",
              "error"]


def collect_rows(out: Path) -> list[dict[str, Any]]:
    """Rows for every cell of the grid in ``out`` (finished from result.json, else running/failed/missing)."""
    grid = json.loads((out / "grid.json").read_text())
    rows = []
    for spec in grid:
        cell = Cell(**spec)
        res = out / "cells" / cell.name / "result.json"
        err = out / "cells" / f"{cell.name}.error.txt"
        if res.exists():
            rows.append({"cell": cell.name, **spec, "algo": _algo(res.parent), **json.loads(res.read_text()),
                         "status": "done"})
        elif _running_elsewhere(out / "cells", cell.name):
            rows.append({"cell": cell.name, **spec, "status": "running", "error": ""})
        else:
            last = err.read_text().strip().splitlines()[-1] if err.exists() else ""
            rows.append({"cell": cell.name, **spec, "status": "failed" if err.exists() else "missing", "error": last})
    return rows


def _algo(run_dir: Path) -> str:
    """The RL algorithm the run in ``run_dir`` trained with (its config; runs from before ``--algo`` ran PPO)."""
    try:
        return load_run_config(run_dir).algo
    except ValueError:
        return "ppo"


def _algo_name(rows: list[dict[str, Any]]) -> str:
    """How the report names the RL algorithm of ``rows`` (``PPO``, ``TRPO``, or ``PPO/TRPO`` where mixed)."""
    return "/".join(sorted({str(r["algo"]).upper() for r in rows if r.get("algo")})) or "PPO"


def write_report(out: Path) -> Path:
    """Rebuild results.csv, report.md and the learning-curve PNGs from the finished cells."""
    rows = collect_rows(out)
    table = io.StringIO()
    w = csv.DictWriter(table, fieldnames=CSV_FIELDS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in CSV_FIELDS})
    replace_text(out / "results.csv", table.getvalue())
    algo = _algo_name(rows)
    lines = [f"# Benchmark `{out.name}`", "",
             "Final true return (the unmodified gymnasium task's episodic return, mean +- std over seeds of "
             f"each seed's 10-episode mean) and its ratio to {algo} on the true reward at the same steps.", ""]
    if "/" in algo:
        lines += [f"The cells of this folder trained with different RL algorithms ({algo}): each row's cells "
                  "are listed in results.csv with theirs.", ""]
    by_env: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_env.setdefault(r["env"], []).append(r)
    ratios: dict[str, list[float]] = {}
    lines += [f"| task | steps | labels | selection | teacher | seeds | true return | ratio to true-reward {algo} |",
              "|---|---|---|---|---|---|---|---|"]
    yardsticks = []
    for env, env_rows in by_env.items():
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for r in env_rows:  # a task's baselines: one group per place they trained (harness, gym task)
            where = trained_on(r) if r["labels"] is None else ""
            groups.setdefault((r["labels"], r["selection"], r["teacher"], where), []).append(r)
        base_means = {key: float(np.mean(done)) for key, g in groups.items() if key[0] is None
                      if (done := [r["true_return_mean"] for r in g if r["status"] == "done"])}
        best = max(base_means, key=base_means.__getitem__, default=None)
        base_mean = base_means[best] if best else float("nan")
        if len(base_means) > 1:  # the ratios are to the strongest (each mean over the seeds it has: say how many)
            others = [f"{_baseline_label(groups[k])} {m:.1f} ({_seeds(groups[k])})" for k, m in base_means.items()
                      if k != best]
            yardsticks.append(f"{env}: {_baseline_label(groups[best])}, {base_mean:.1f} ({_seeds(groups[best])}; "
                              f"the other: {', '.join(others)})")
        for (labels, sel, teacher, _), g in sorted(groups.items(),
                                                   key=lambda kv: (kv[0][0] or 0, kv[0][1], kv[0][2], kv[0][3])):
            done = [r["true_return_mean"] for r in g if r["status"] == "done"]
            if not done:
                lines.append(f"| {env} | | {labels or _baseline_label(g)} | {sel} | {teacher} | 0/{len(g)} "
                             "| not run | |")
                continue
            mean, std = float(np.mean(done)), float(np.std(done))
            ratio = return_ratio(mean, base_mean) if labels is not None else None
            if ratio is not None:
                ratios.setdefault(f"{labels}-{sel}-{teacher}", []).append(ratio)
            lines.append(f"| {env} | {g[0]['timesteps']:,} | {labels or _baseline_label(g)} | {sel} | {teacher} | "
                         f"{len(done)}/{len(g)} | {mean:.1f} +- {std:.1f} | "
                         f"{'' if labels is None else format_ratio(mean, base_mean, 2)} |")
    if yardsticks:
        lines += ["", "Where a task has two true-reward baselines, its ratios are to the one with the higher true "
                  "return: " + "; ".join(yardsticks) + "."]
    if ratios:
        lines += ["", "Mean ratio across tasks: " + ", ".join(
            f"{k}: **{np.mean(v):.2f}** ({_count(len(v), 'task')})" for k, v in sorted(ratios.items()))]
    failed = [r for r in rows if r["status"] != "done"]
    if failed:
        lines += ["", "Cells not finished: " + ", ".join(
            f"{r['cell']} ({r['status']}{': ' + r['error'] if r.get('error') else ''})" for r in failed)]
    for env in by_env:
        png = plot_curves(out, env, by_env[env])
        if png is not None:
            lines += ["", f"![{env}]({png.name})"]
    replace_text(out / "report.md", "\n".join(lines) + "\n")
    return out / "report.md"


def _seeds(rows: list[dict[str, Any]]) -> str:
    n = sum(r["status"] == "done" for r in rows)
    return f"{n} seed{'s' * (n != 1)}"


def _baseline_label(rows: list[dict[str, Any]]) -> str:
    """The table's name for the true-reward cells ``rows``."""
    where, algo = trained_on(rows[0]), _algo_name(rows)
    return f"true reward ({algo})" if where == "harness" else f"true reward ({algo}, {where} task)"


def _curve(run_dir: Path) -> tuple[np.ndarray, np.ndarray] | None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not (run_dir / "tb").is_dir():  # logs removed or never copied: the cell has no curve
        return None
    ea = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    ea.Reload()
    if "rollout/ep_rew_mean" not in ea.Tags()["scalars"]:
        return None
    ev = ea.Scalars("rollout/ep_rew_mean")
    return np.array([e.step for e in ev]), np.array([e.value for e in ev])


def plot_curves(out: Path, env: str, rows: list[dict[str, Any]]) -> Path | None:
    """True return against steps, one line per label budget plus the true-reward baseline, shaded across seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for r in rows:
        if r["status"] != "done":
            continue
        curve = _curve(out / "cells" / r["cell"])
        if curve is None:
            continue
        where = trained_on(r)
        baseline = f"{_algo_name([r])}, true reward" + ("" if where == "harness" else f" ({where} task)")
        label = baseline if r["labels"] is None else f"{r['labels']} labels ({r['selection']}, {r['teacher']})"
        groups.setdefault(label, []).append(curve)
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for label, curves in sorted(groups.items()):
        grid = np.linspace(0, min(c[0][-1] for c in curves), 100)
        ys = np.stack([np.interp(grid, s, v) for s, v in curves])
        ax.plot(grid, ys.mean(0), label=f"{label} (n={len(curves)})")
        if len(curves) > 1:
            ax.fill_between(grid, ys.min(0), ys.max(0), alpha=0.2)
    ax.set_xlabel("environment steps")
    if any(r["labels"] is None and trained_on(r) != "harness" for r in rows):
        ax.set_ylabel("true episodic return in training\n(oracle reward; the gym task's for its baseline)")
    else:
        ax.set_ylabel("true episodic return (training, oracle reward)")
    ax.set_title(env)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / f"curves_{env}.png"
    fig.savefig(path)
    plt.close(fig)
    return path
