"""`prefrl label`: open the labeling window on a run's store, or export its answers."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np

from agents.config import load_run_config
from envs.registry import TaskSpec
from preference.clips import Clip
from preference.store import PreferenceStore

MAX_DISPLAY_FPS = 40.0


def _run_spec(run_dir: Path) -> TaskSpec:
    return load_run_config(run_dir).task()


def playback(spec: TaskSpec) -> tuple[int, float]:
    """(state stride, frames per second) that play a clip at real-time speed, at most ~40 fps."""
    stride = max(1, math.ceil((1.0 / spec.dt) / MAX_DISPLAY_FPS))
    return stride, 1.0 / (spec.dt * stride)


def mujoco_frames_for(spec: TaskSpec, stride: int, size: int = 200):
    """A frames_for(clip) that renders MuJoCo clips from their physics states.

    The renderer is created on first use, in the calling thread (EGL contexts are per thread).
    """
    holder: dict[str, object] = {}

    def frames_for(clip: Clip) -> np.ndarray:
        if clip.states is None:
            raise ValueError("clip has no physics states to render")
        if "r" not in holder:
            from envs.render import MujocoClipRenderer
            holder["r"] = MujocoClipRenderer(spec, width=size, height=size)
        return holder["r"].render(clip.states[::stride])

    return frames_for


def atari_clip_frames(clip: Clip, spec: TaskSpec, original: bool = False, scale: int = 3) -> np.ndarray:
    """What a person is shown of an Atari clip: the masked newest frame of each step (what the agent and
    the reward model see), upscaled, [T, 84*scale, 84*scale, 3] uint8; ``original`` puts the recorded
    HUD rows (score, counters) back."""
    from envs.atari import GAMES, restore_hud

    frames = np.asarray(clip.obs)[:, -1]
    if original and clip.states is not None:
        frames = restore_hud(frames, np.asarray(clip.states), GAMES[spec.name])
    frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    return np.repeat(frames[..., None], 3, axis=-1)


def open_window(run_dir: Path, labeler: str = "human", max_answers: int | None = None,
                max_seconds: float | None = None, original: bool = False):
    """Open the window on ``run_dir``'s store until the person quits; return the session.

    ``original``: Atari clips are shown with their score area (the agent never sees it)."""
    from ui.window import LabelWindow

    spec = _run_spec(run_dir)
    PreferenceStore(run_dir / "store", create=False).close()
    stride, fps = playback(spec)
    if spec.kind == "atari":
        def frames_for(clip: Clip) -> np.ndarray:
            return atari_clip_frames(clip, spec, original)
    else:
        frames_for = mujoco_frames_for(spec, stride)
    window = LabelWindow(run_dir / "store", frames_for, fps, labeler=labeler,
                         title=f"prefrl: {run_dir.name}")
    return window.run(max_answers=max_answers, max_seconds=max_seconds)


def export_labels(run_dir: Path, out: Path) -> int:
    """Write every answer (dropped and undone ones included, flagged) as JSON lines; return how many."""
    if not out.parent.is_dir():
        raise ValueError(f"--export {out}: folder {out.parent} does not exist")
    _run_spec(run_dir)
    store = PreferenceStore(run_dir / "store", create=False)
    db = sqlite3.connect(store.db_path)
    rows = db.execute(
        "SELECT l.query_id, q.clip_a, q.clip_b, q.env_step, q.selection, l.value, l.source, l.labeler, "
        "l.seconds, l.created, NULL FROM labels l JOIN queries q ON q.id = l.query_id "
        "UNION ALL SELECT r.query_id, q.clip_a, q.clip_b, q.env_step, q.selection, r.value, r.source, "
        "r.labeler, r.seconds, r.created, r.retracted FROM retracted r JOIN queries q ON q.id = r.query_id "
        "ORDER BY 10").fetchall()
    db.close()
    store.close()
    keys = ("query_id", "clip_a", "clip_b", "env_step", "selection", "value", "source", "labeler",
            "seconds", "created", "undone_at")
    with open(out, "w") as f:
        for row in rows:
            rec = dict(zip(keys, row))
            rec["dropped"] = rec["value"] is None
            f.write(json.dumps(rec) + "\n")
    return len(rows)
