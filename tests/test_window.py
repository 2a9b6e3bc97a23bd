"""The labeling window, headless: scripted keys answer queries in the store."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pygame
import pytest

from agents.config import TrainConfig
from agents.labeling import export_labels, mujoco_frames_for, playback
from envs.mujoco import make_mujoco_env
from envs.registry import get_task
from preference.clips import Clip
from preference.store import PreferenceStore
from ui.window import LabelWindow

ROOT = Path(__file__).resolve().parents[1]


def hopper_clip(seed: int, steps: int = 30) -> Clip:
    env = make_mujoco_env(get_task("Hopper"))
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    rows = []
    for _ in range(steps):
        act = env.action_space.sample()
        nxt, _, _, _, info = env.step(act)
        rows.append((obs, act, info["true_reward"], info["physics_state"]))
        obs = nxt
    return Clip(np.stack([r[0] for r in rows]).astype(np.float32), np.stack([r[1] for r in rows]).astype(np.float32),
                np.array([r[2] for r in rows], np.float32), np.stack([r[3] for r in rows]), env_step=0)


@pytest.fixture
def run_dir(tmp_path):
    TrainConfig(env="Hopper", labels=10).save(tmp_path / "config.json")
    store = PreferenceStore(tmp_path / "store")
    ids = [store.add_clip(hopper_clip(s)) for s in range(4)]
    for i in range(3):
        store.add_query(ids[i], ids[i + 1], env_step=i, selection="random")
    store.set_meta("label_budget", "10")
    store.close()
    return tmp_path


def solid_frames(clip: Clip) -> np.ndarray:
    """Fast stand-in renderer: colour from the clip's first observation."""
    shade = int(abs(clip.obs[0, 0]) * 1000) % 200 + 40
    return np.full((len(clip), 20, 20, 3), shade, np.uint8)


def press(key: int) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))


def tick_until(window: LabelWindow, cond, limit: float = 20.0) -> None:
    t0 = time.time()
    while not cond():
        assert window.tick()
        assert time.time() - t0 < limit, "window never reached the expected state"


def test_keys_answer_undo_and_export(run_dir, tmp_path):
    w = LabelWindow(run_dir / "store", solid_frames, fps=200, labeler="tester", frame_size=(20, 20))
    w.start()
    try:
        tick_until(w, lambda: w.current is not None)
        first = w.current.query.id
        press(pygame.K_LEFT)
        tick_until(w, lambda: w.current is not None and w.current.query.id != first)
        second = w.current.query.id
        press(pygame.K_d)  # right is better
        tick_until(w, lambda: len(w.session.answered) == 2)
        press(pygame.K_u)  # undo the second answer: it is shown again
        tick_until(w, lambda: w.current is not None and w.current.query.id == second)
        press(pygame.K_e)  # now: equally good
        tick_until(w, lambda: len(w.session.answered) == 2 and w.current is not None)
        press(pygame.K_DOWN)  # third: can't tell
        tick_until(w, lambda: len(w.session.answered) == 3)
        for _ in range(5):
            w.tick()
        w._status_cache = (0.0, "")  # read the store now
        assert w.current is None and "pending 0" in w._status()  # nothing left: the window waits
    finally:
        w.close()
    store = PreferenceStore(run_dir / "store", create=False)
    got = {l.query_id: (l.value, l.source, l.labeler) for l in store.labels(include_dropped=True)}
    assert got == {first: (1.0, "human", "tester"), second: (0.5, "human", "tester"),
                   second + 1: (None, "human", "tester")}
    assert store.counts() == {"pending": 0, "answered": 2, "dropped": 1}
    n = export_labels(run_dir, tmp_path / "labels.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert n == 4 == len(rows)  # three answers plus the undone one, flagged
    assert sum(r["undone_at"] is not None for r in rows) == 1
    assert {r["query_id"] for r in rows if r["undone_at"] is None} == set(got)
    with pytest.raises(ValueError, match="does not exist"):  # one line for the CLI, and no file written
        export_labels(run_dir, tmp_path / "nowhere" / "labels.jsonl")
    assert store.counts() == {"pending": 0, "answered": 2, "dropped": 1}


def test_screenshot_shows_two_different_clips_and_status(run_dir, tmp_path):
    spec = get_task("Hopper")
    stride, fps = playback(spec)
    assert stride == 4 and fps == pytest.approx(31.25)
    w = LabelWindow(run_dir / "store", mujoco_frames_for(spec, 1, size=64), fps=100, frame_size=(64, 64))
    w.start()
    try:
        tick_until(w, lambda: w.current is not None, limit=60)
        w.frame_i = 29
        w.screenshot(tmp_path / "shot.png")
    finally:
        w.close()
    img = pygame.surfarray.array3d(pygame.image.load(str(tmp_path / "shot.png")))  # [W, H, 3]
    width = img.shape[0]
    left, right = img[: width // 2, 40:168], img[width // 2:, 40:168]
    assert left.std() > 5 and right.std() > 5  # both clips drawn
    assert (np.abs(left.astype(int) - right.astype(int)).sum(-1) > 30).sum() > 50  # and they differ
    assert (img[:, -60:] != img[0, -1]).any()  # status text at the bottom


def test_two_windows_never_get_the_same_query_and_leases_expire(run_dir):
    a = PreferenceStore(run_dir / "store", create=False)
    b = PreferenceStore(run_dir / "store", create=False)
    qa = a.claim("alice", lease_seconds=0.3)
    qb = b.claim("bob", lease_seconds=30)
    assert qa.id != qb.id
    time.sleep(0.4)  # alice's window died: her query returns to the pool
    assert b.claim("bob", lease_seconds=30, skip=[qb.id]).id == qa.id


def test_a_broken_clip_is_skipped_with_a_message(run_dir):
    (run_dir / "store" / "clips" / "00000001.npz").write_bytes(b"corrupt")
    w = LabelWindow(run_dir / "store", solid_frames, fps=200, frame_size=(20, 20))
    w.start()
    try:
        tick_until(w, lambda: w.current is not None and w.session.messages)
        assert "skipped query 1" in w.session.messages[0]
        assert w.current.query.id == 2
    finally:
        w.close()
    store = PreferenceStore(run_dir / "store", create=False)
    assert store.counts()["dropped"] == 1


def test_label_command_does_not_import_torch():
    code = "import sys, agents.cli, agents.labeling, ui.window; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "False"


def test_an_undone_pair_claimed_before_its_request_arrives_is_prepared_once(run_dir):
    from ui.window import Prefetcher

    prefetch = Prefetcher(run_dir / "store", "window-1", solid_frames, lease=60.0)  # not started: driven by hand
    store = PreferenceStore(run_dir / "store", create=False)
    first = prefetch._next(store)
    store.answer(first.id, 1.0, source="human", labeler="tester")
    prefetch.held.discard(first.id)
    assert store.undo(first.id, "tester", holder="window-1")  # pending again, and ours
    assert prefetch._next(store).id == first.id  # the ordinary claim finds it before the request
    prefetch.wanted.put(first.id)  # the window's request for it arrives late
    after = prefetch._next(store)
    assert after is not None and after.id != first.id  # not a second copy: the next pair instead
    store.close()
