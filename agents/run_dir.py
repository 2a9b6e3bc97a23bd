"""Run folders: ``runs/{env}__{exp}__{seed}__{time}/`` (CleanRL's naming)."""

from __future__ import annotations

import functools
import shutil
import time
from pathlib import Path

RUN_MARKER = "config.json"


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
