"""Run folders: ``runs/{env}__{exp}__{seed}__{time}/`` (CleanRL's naming)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

RUN_MARKER = "config.json"
PROGRESS = "progress.json"


def new_run_dir(root: Path, env: str, exp: str, seed: int) -> Path:
    """Create and return a fresh run folder; never reuses an existing one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / f"{env}__{exp}__{seed}__{stamp}"
    path, k = base, 1
    while path.exists():
        path = base.with_name(f"{base.name}-{k}")
        k += 1
    path.mkdir(parents=True)
    return path


def is_run_dir(path: Path) -> bool:
    return (path / RUN_MARKER).is_file()


def claim_run_dir(path: Path, force: bool) -> None:
    """Create ``path`` for a new run; an existing folder is refused unless ``force`` (then replaced)."""
    if path.exists():
        if not force:
            raise ValueError(f"{path} already exists; use --resume to continue it or --force to replace it")
        if path.is_dir() and not is_run_dir(path) and any(path.iterdir()):
            raise ValueError(f"{path} exists and is not a run folder; refusing to replace it")
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    path.mkdir(parents=True)


CODE_PATHS = ("envs", "preference", "agents", "ui", "pyproject.toml")
"""What a run executes: a change elsewhere (README.md, RESULTS.md, tests) does not mark its code changed."""


@functools.cache
def code_version() -> str | None:
    """The prefrl commit the running code is from (short hash, ``+changes`` when files under ``CODE_PATHS``
    differ from it, new files included), for a run's result.json; None outside a git checkout. Asked once
    per process, at its first run's start (``train.prepare``): a later commit does not change the code a
    process has loaded."""
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--",
                                  *CODE_PATHS], capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+changes" if changed else "") if head else None


def replace_text(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (a reader in another process never sees half of it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_progress(run_dir: Path, steps: int, total: int, steps_per_sec: float, checkpoint_steps: int) -> None:
    """Record how far the run in ``run_dir`` is (``progress.json``, replaced after every rollout), so that
    another process (``prefrl bench --plan``) can say so: steps done of ``total``, this process's steps/s,
    the step of the last checkpoint (where a resume would start), and when."""
    record = {"steps": steps, "total": total, "steps_per_sec": steps_per_sec, "checkpoint_steps": checkpoint_steps,
              "updated": time.time()}
    replace_text(run_dir / PROGRESS, json.dumps(record) + "\n")


def read_progress(run_dir: Path) -> dict[str, Any] | None:
    """``run_dir``'s progress record (see ``write_progress``); None where there is none or it is unreadable."""
    try:
        record = json.loads((run_dir / PROGRESS).read_text())
    except (OSError, ValueError):
        return None
    keys = ("steps", "total", "steps_per_sec", "checkpoint_steps", "updated")
    return record if isinstance(record, dict) and all(isinstance(record.get(k), (int, float)) for k in keys) else None


def describe_progress(run_dir: Path, running: bool, now: float | None = None) -> str:
    """How far the run in ``run_dir`` is, for a plan line: while ``running``, ``step 48,128 of 300,000 (16%),
    1,702 steps/s, about 3 min left``; else where a resume starts, ``from step 40,960 of 300,000``. Empty
    where the run left no progress record (it stopped before its first rollout, or predates the record)."""
    p = read_progress(run_dir)
    if p is None:
        return ""
    total = int(p["total"])
    if not running:
        return f"from step {int(p['checkpoint_steps']):,} of {total:,}"
    steps, rate = int(p["steps"]), float(p["steps_per_sec"])
    text = f"step {steps:,} of {total:,} ({100 * steps / max(total, 1):.0f}%)"
    if rate > 0:
        text += f", {rate:,.0f} steps/s, about {_duration(max(total - steps, 0) / rate)} left"
    age = (time.time() if now is None else now) - float(p["updated"])
    return text + (f" (as of {_duration(age)} ago)" if age >= 120 else "")


def _duration(seconds: float) -> str:
    """``40 s``, ``12 min``, ``2.5 h``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"
