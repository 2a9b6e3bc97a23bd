"""No answered label is ever lost: concurrent processes, kill -9 of the window and of the trainer."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from agents.config import TrainConfig
from preference.clips import Clip
from preference.store import PreferenceStore

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
       "MUJOCO_GL": "egl", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}


def tiny_clip(i: int) -> Clip:
    return Clip(np.full((4, 3), i, np.float32), np.zeros((4, 2), np.float32), np.full(4, i, np.float32), None, i)


def python(script: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env=ENV, text=True, **kw)


def test_trainer_writes_while_a_window_answers_without_lock_errors(tmp_path):
    PreferenceStore(tmp_path).close()
    writer = python(f"""
        import numpy as np
        from preference.clips import Clip
        from preference.store import PreferenceStore
        s = PreferenceStore({str(tmp_path)!r})
        for i in range(300):
            c = Clip(np.full((4, 3), i, np.float32), np.zeros((4, 2), np.float32), np.ones(4, np.float32), None, i)
            a = s.add_clip(c); b = s.add_clip(c)
            s.add_query(a, b, i, "random")
            s.set_meta("env_step", str(i))
    """)
    answerer = python(f"""
        import time
        from preference.store import PreferenceStore
        s = PreferenceStore({str(tmp_path)!r}, create=False)
        done, t0 = 0, time.time()
        while done < 300 and time.time() - t0 < 120:
            q = s.claim("window", 30)
            if q is None:
                time.sleep(0.001)
                continue
            s.answer(q.id, 1.0, "human", "window", 0.1)
            s.counts()
            done += 1
        print(done)
    """, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert writer.wait(timeout=180) == 0
    out, err = answerer.communicate(timeout=180)
    assert answerer.returncode == 0, err
    assert "locked" not in err and out.strip() == "300"
    assert PreferenceStore(tmp_path).counts() == {"pending": 0, "answered": 300, "dropped": 0}


def test_kill_9_of_the_window_loses_nothing_and_a_new_window_finishes(tmp_path):
    TrainConfig(env="Hopper").save(tmp_path / "config.json")
    store = PreferenceStore(tmp_path / "store")
    ids = [store.add_clip(tiny_clip(i)) for i in range(10)]
    for i in range(40):
        store.add_query(ids[i % 10], ids[(i + 3) % 10], i, "random")
    store.close()
    window = python(f"""
        import numpy as np, pygame
        from ui.window import LabelWindow
        w = LabelWindow({str(tmp_path / 'store')!r}, lambda c: np.full((len(c), 8, 8, 3), 90, np.uint8),
                        fps=500, labeler="victim", frame_size=(8, 8), lease=1.0)
        w.start()
        while True:
            if w.current is not None:
                pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a, mod=0, unicode="", scancode=0))
            n = len(w.session.answered)
            w.tick()
            if len(w.session.answered) > n:
                print(w.session.answered[-1], flush=True)
    """, stdout=subprocess.PIPE)
    confirmed = []
    for line in window.stdout:
        confirmed.append(int(line))
        if len(confirmed) == 15:
            window.send_signal(signal.SIGKILL)
            break
    window.wait()
    store = PreferenceStore(tmp_path / "store", create=False)
    answered = {l.query_id: l for l in store.labels()}
    assert set(confirmed) <= set(answered)
    assert all(l.value == 1.0 and l.labeler == "victim" for l in answered.values())
    time.sleep(1.1)  # the dead window's leases run out
    finished = 0
    while (q := store.claim("second", 30)) is not None:
        store.answer(q.id, 0.0, "human", "second")
        finished += 1
    assert store.counts() == {"pending": 0, "answered": 40, "dropped": 0}
    assert len(answered) + finished == 40  # nothing lost, nothing answered twice


def test_kill_9_of_the_trainer_mid_run_keeps_a_consistent_store(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "agents.cli", "train", "--env", "InvertedPendulum", "--labels", "400",
         "--timesteps", "200000", "--fit-every", "512", "--pretrain-epochs", "50", "--runs-dir", "runs", "--quiet"],
        cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        db = None
        while time.time() < deadline:
            runs = list((tmp_path / "runs").glob("*/store/store.sqlite"))
            if runs:
                db = runs[0]
                counts = PreferenceStore(db.parent, create=False).counts()
                if counts["answered"] > 110:  # past pretraining: labels arrive while PPO and fitting run
                    break
            time.sleep(0.5)
        else:
            raise AssertionError("training never got past its first labels")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    store = PreferenceStore(db.parent, create=False)
    counts = store.counts()
    labels = store.labels(include_dropped=True)
    assert len(labels) == counts["answered"] + counts["dropped"] and counts["answered"] > 110
    assert len({l.query_id for l in labels}) == len(labels)
    for label in labels[-20:]:  # every answered pair's clips are readable
        store.load_clip(label.clip_a)
        store.load_clip(label.clip_b)
