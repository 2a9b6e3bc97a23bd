import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from preference.clips import Clip
from preference.store import PreferenceStore, StoreError


def make_clip(seed: int, steps: int = 5) -> Clip:
    rng = np.random.default_rng(seed)
    return Clip(obs=rng.normal(size=(steps, 3)).astype(np.float32), acts=rng.normal(size=(steps, 2)).astype(np.float32),
                true_rewards=rng.normal(size=steps).astype(np.float32), states=rng.normal(size=(steps, 4)),
                env_step=seed)


def test_clips_round_trip_and_queries_get_answered_once(tmp_path):
    store = PreferenceStore(tmp_path)
    a, b = store.add_clip(make_clip(1)), store.add_clip(make_clip(2))
    loaded = store.load_clip(a)
    np.testing.assert_array_equal(loaded.obs, make_clip(1).obs)
    np.testing.assert_array_equal(loaded.states, make_clip(1).states)
    q = store.add_query(a, b, env_step=10, selection="random")
    assert [p.id for p in store.pending()] == [q]
    store.answer(q, 1.0, source="oracle", labeler="perfect")
    with pytest.raises(StoreError, match="already answered"):
        store.answer(q, 0.0, source="human", labeler="x")
    q2 = store.add_query(b, a, env_step=11, selection="random")
    store.answer(q2, None, source="human", labeler="me")  # can't tell: dropped
    assert store.counts() == {"pending": 0, "answered": 1, "dropped": 1}
    assert [(l.clip_a, l.clip_b, l.value) for l in store.labels()] == [(a, b, 1.0)]
    assert len(store.labels(include_dropped=True)) == 2
    with pytest.raises(StoreError):
        store.answer(q2 + 100, 1.0, "oracle", "perfect")
    with pytest.raises(StoreError, match="in \\[0, 1\\]"):
        store.answer(store.add_query(a, b, 12, "random"), 2.0, "oracle", "perfect")


def test_a_second_process_sees_the_answers(tmp_path):
    store = PreferenceStore(tmp_path)
    a, b = store.add_clip(make_clip(1)), store.add_clip(make_clip(2))
    q = store.add_query(a, b, 0, "random")
    other = PreferenceStore(tmp_path, create=False)
    other.answer(q, 0.5, "human", "alice", seconds=3.2)
    (label,) = store.labels()
    assert (label.value, label.source, label.labeler, label.seconds) == (0.5, "human", "alice", 3.2)


def test_every_answer_survives_a_kill_9(tmp_path):
    store = PreferenceStore(tmp_path)
    ids = [store.add_clip(make_clip(i)) for i in range(4)]
    queries = [store.add_query(ids[i % 4], ids[(i + 1) % 4], i, "random") for i in range(200)]
    store.close()
    script = textwrap.dedent(f"""
        import sys, time
        from preference.store import PreferenceStore
        s = PreferenceStore({str(tmp_path)!r}, create=False)
        for q in s.pending():
            s.answer(q.id, 1.0, "human", "child")
            print(q.id, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(__file__)))
    confirmed = []
    for line in proc.stdout:
        confirmed.append(int(line))
        if len(confirmed) == 120:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    reopened = PreferenceStore(tmp_path, create=False)
    answered = {l.query_id for l in reopened.labels()}
    assert set(confirmed) <= answered
    counts = reopened.counts()
    assert counts["answered"] == len(answered) and counts["answered"] + counts["pending"] == len(queries)


def test_missing_or_corrupt_files_give_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no preference store"):
        PreferenceStore(tmp_path / "nothing", create=False)
    store = PreferenceStore(tmp_path / "s")
    cid = store.add_clip(make_clip(0))
    (tmp_path / "s" / "clips" / f"{cid:08d}.npz").write_bytes(b"garbage")
    with pytest.raises(StoreError, match="unreadable clip file"):
        store.load_clip(cid)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "store.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a valid preference store"):
        PreferenceStore(bad)


def test_undo_reclaims_for_the_same_window_and_the_oracle_never_takes_held_pairs(tmp_path):
    store = PreferenceStore(tmp_path)
    a, b = store.add_clip(make_clip(1)), store.add_clip(make_clip(2))
    q1, q2 = store.add_query(a, b, 0, "random"), store.add_query(b, a, 0, "random")
    assert store.claim("alice:1", 30).id == q1
    store.answer(q1, 1.0, "human", "alice")
    assert store.undo(q1, "alice", holder="alice:1", lease_seconds=30)
    assert store.claim("bob:2", 30).id == q2  # the undone pair stays with alice's window
    assert store.claim("bob:2", 30, skip=[q2]) is None
    assert not store.answer_if_free(q1, 0.0, "oracle", "oracle")  # held by a person
    assert store.claim("alice:1", 30, query_id=q1).id == q1  # her window gets it back
    store.renew([q1], "alice:1", 0.0)  # the lease runs out: now the oracle may answer
    assert store.answer_if_free(q1, 0.0, "oracle", "oracle")
    assert not store.answer_if_free(q1, 1.0, "oracle", "oracle")  # never twice
