"""The preference loop: schedule, labelers through the store, undo, waiting for a person."""

import threading
import time

import numpy as np
import pytest

from preference.clips import ClipRecorder
from preference.fitting import EnsembleTrainer
from preference.loop import LoopConfig, PreferenceLoop
from preference.oracle import PerfectOracle
from preference.reward_model import RewardEnsemble
from preference.schedule import LabelSchedule
from preference.store import PreferenceStore


def make_loop(tmp_path, labeler="oracle", budget=20, oracle_after=60.0, selection="random", pessimism=0.0,
              optimism=0.0, optimism_steps=0):
    rng = np.random.default_rng(0)
    rec = ClipRecorder(1, clip_steps=5, capacity=100)
    for _ in range(200):  # 40 clips whose true reward is the first observation
        o = rng.normal(size=(1, 3))
        rec.add(o, rng.normal(size=(1, 1)), o[:, 0], None, np.array([False]))
    ens = RewardEnsemble(3, 1, n_members=3)
    store = PreferenceStore(tmp_path)
    loop = PreferenceLoop(ens, EnsembleTrainer(ens), store, LabelSchedule(budget, 1000), rec,
                          LoopConfig(labeler=labeler, oracle_after=oracle_after, fit_every=100, pretrain_epochs=2,
                                     selection=selection, pessimism=pessimism, optimism=optimism,
                                     optimism_steps=optimism_steps),
                          np.random.default_rng(1), PerfectOracle())
    return loop, store, rec


def test_oracle_run_spends_exactly_the_budget(tmp_path):
    loop, store, rec = make_loop(tmp_path)
    loop.pretrain(list(rec.clips))
    assert store.counts()["answered"] == 5 and loop.fitted
    for t in range(100, 1001, 100):
        loop.step(t)
    loop.step(1000, force_fit=True)
    assert store.counts() == {"pending": 0, "answered": 20, "dropped": 0}
    assert len(loop.trainer) == 20 and loop.source_counts == {"oracle": 20}


def test_pessimism_pays_the_agent_the_lower_bound_and_logs_its_charge(tmp_path):
    loop, store, rec = make_loop(tmp_path, pessimism=2.0)
    loop.pretrain(list(rec.clips))
    loop.step(1000, force_fit=True)
    obs, acts = np.random.default_rng(3).normal(size=(50, 3)), np.zeros((50, 1))
    np.testing.assert_allclose(loop.reward(obs, acts), loop.ens.predict(obs, acts, pessimism=2.0))
    assert np.all(loop.reward(obs, acts) < loop.ens.predict(obs, acts))
    assert loop.metrics["reward/pessimism_penalty"] > 0
    plain, _, plain_rec = make_loop(tmp_path / "plain")
    plain.pretrain(list(plain_rec.clips))
    plain.step(1000, force_fit=True)
    assert "reward/heldout_corr" in plain.metrics and "reward/pessimism_penalty" not in plain.metrics


def test_optimism_pays_the_upper_bound_fading_linearly_to_r_hat(tmp_path):
    loop, store, rec = make_loop(tmp_path, optimism=2.0, optimism_steps=2000)
    loop.pretrain(list(rec.clips))
    obs, acts = np.random.default_rng(3).normal(size=(50, 3)), np.zeros((50, 1))
    ens = loop.ens
    z = ens.normalized_members(ens.inputs(obs, acts))
    scale = ens._fast[-1][-1]
    np.testing.assert_allclose(loop.reward(obs, acts), scale * (z.mean(0) + 2.0 * z.std(0)), rtol=1e-4, atol=1e-5)
    loop.step(1000, force_fit=True)  # halfway to 2,000 steps: K = 1
    z = ens.normalized_members(ens.inputs(obs, acts))
    np.testing.assert_allclose(loop.reward(obs, acts), ens._fast[-1][-1] * (z.mean(0) + z.std(0)),
                               rtol=1e-4, atol=1e-5)
    assert np.all(loop.reward(obs, acts) > ens.predict(obs, acts))
    assert loop.metrics["reward/optimism_k"] == pytest.approx(1.0) and loop.metrics["reward/optimism_bonus"] > 0
    loop.step(2000)
    np.testing.assert_allclose(loop.reward(obs, acts), ens.predict(obs, acts), rtol=1e-5, atol=1e-6)
    loop.step(3000)  # past the end it stays r̂, never a lower bound
    np.testing.assert_allclose(loop.reward(obs, acts), ens.predict(obs, acts), rtol=1e-5, atol=1e-6)
    resumed, _, _ = make_loop(tmp_path, optimism=2.0, optimism_steps=4000)  # the same store
    resumed.restore(loop.state())
    assert resumed.env_steps == 3000 and resumed.bound() == pytest.approx(-0.5)


def test_human_mode_never_blocks_and_r_hat_is_zero_until_answers(tmp_path):
    loop, store, rec = make_loop(tmp_path, labeler="human")
    loop.pretrain(list(rec.clips))
    assert store.counts()["pending"] == 5 and not loop.fitted
    assert np.all(loop.reward(np.ones((4, 3)), np.ones((4, 1))) == 0.0)
    for q in store.pending():  # a person answers against the oracle on every pair but the first
        clip_a, clip_b = loop.clip(q.clip_a), loop.clip(q.clip_b)
        truth = PerfectOracle().label(clip_a, clip_b)
        store.answer(q.id, truth if q.id != 1 else 1.0 - truth, "human", "alice")
    loop.step(100)
    assert loop.fitted and loop.source_counts == {"human": 5}
    assert loop.human_oracle_agreement() == pytest.approx(0.8)
    assert loop.metrics["labels/human_oracle_agreement"] == pytest.approx(0.8)


def test_human_plus_oracle_oracle_takes_only_stale_queries(tmp_path):
    loop, store, rec = make_loop(tmp_path, labeler="human+oracle", oracle_after=0.3)
    loop.pretrain(list(rec.clips))
    held = store.claim("alice", lease_seconds=30)  # a window holds one query
    assert store.counts()["pending"] == 5
    time.sleep(0.35)
    loop.step(100)
    pending = {q.id for q in store.pending()}
    assert held.id in pending and all(qid > 5 for qid in pending - {held.id})  # only fresh ones left
    store.answer(held.id, 1.0, "human", "alice")
    loop.step(200)
    assert loop.source_counts == {"oracle": 4, "human": 1}


def test_undo_and_reanswer_reach_the_trainer(tmp_path):
    loop, store, rec = make_loop(tmp_path, labeler="human")
    loop.pretrain(list(rec.clips))
    q = store.pending()[0]
    store.answer(q.id, 1.0, "human", "alice")
    loop.ingest()
    index = loop._ingested[q.id][0]
    assert len(loop.trainer) == 1 and loop.trainer.mu[index] == 1.0
    store.undo(q.id, "alice")
    loop.ingest()
    assert len(loop.trainer) == 0
    store.answer(q.id, 0.0, "human", "alice")
    loop.ingest()
    assert len(loop.trainer) == 1 and loop.trainer.mu[index] == 0.0


def test_wait_for_labels_blocks_until_a_person_catches_up(tmp_path):
    loop, store, rec = make_loop(tmp_path, labeler="human")
    loop.pretrain(list(rec.clips))

    def person():
        time.sleep(0.5)
        other = PreferenceStore(tmp_path, create=False)
        for q in other.pending()[:3]:
            other.answer(q.id, 0.5, "human", "bob")

    threading.Thread(target=person).start()
    t0 = time.time()
    loop.wait_for_labels(0, max_behind=2, poll=0.05)  # target 5, so 3 answers are needed
    assert time.time() - t0 >= 0.4 and store.counts()["answered"] == 3


def test_dropped_pairs_are_asked_again_while_waiting_and_at_the_end(tmp_path):
    loop, store, rec = make_loop(tmp_path, labeler="human")
    loop.pretrain(list(rec.clips))
    for q in store.pending():
        store.answer(q.id, None, "human", "carol")  # can't tell: every pair dropped
    stop_after = iter([False, False, True])
    loop.wait_for_labels(0, max_behind=0, poll=0.01, stop=lambda: next(stop_after))
    assert store.counts()["pending"] == 5  # asked again instead of waiting forever

    loop2, store2, rec2 = make_loop(tmp_path / "skip", labeler="oracle")
    from preference.teachers import SimulatedTeacher, TeacherConfig
    loop2.oracle = SimulatedTeacher(TeacherConfig(eps_skip=0.3), np.random.default_rng(0))
    loop2.oracle.recent_returns.extend([10.0] * 100)  # a margin of 10: clips returning ~N(0, 2.2) get skipped
    loop2.pretrain(list(rec2.clips))
    loop2.finish(1000)
    assert store2.counts()["answered"] == 20 and store2.counts()["dropped"] > 0


def test_coverage_asks_about_the_rare_clip_and_remembers_what_was_asked_after_a_restart(tmp_path):
    loop, store, rec = make_loop(tmp_path, labeler="human", selection="coverage")
    loop.pretrain(list(rec.clips))  # coverage needs no fitted ensemble: the initial queries use it
    first = store.pending()
    assert [q.selection for q in first] == ["coverage"] * 5
    for q in first:
        store.answer(q.id, PerfectOracle().label(loop.clip(q.clip_a), loop.clip(q.clip_b)), "human", "alice")
    loop.ingest()
    rng = np.random.default_rng(5)
    for t in range(60):  # 12 new clips; the 7th lies far from every clip recorded before
        o = rng.normal(size=(1, 3)) + (25.0 if 30 <= t < 35 else 0.0)
        rec.add(o, rng.normal(size=(1, 1)), o[:, 0], None, np.array([False]))
    rare = rec.recent(100)[-6]
    assert loop.request(1, rec.recent(100), env_step=100) == 1
    (q,) = store.pending()
    assert rare.env_step in {loop.clip(q.clip_a).env_step, loop.clip(q.clip_b).env_step}
    # A fresh loop on the same store (a resumed run) counts every answered clip as asked about.
    loop2, _, _ = make_loop(tmp_path, labeler="human", selection="coverage")
    loop2.ingest()
    answered = {c for pair in loop2._pair_of.values() for c in pair}
    assert len(answered) >= 5 and len(loop2._asked_features()) == len(answered)


def test_disagreement_starts_with_random_pairs_until_the_ensemble_is_fitted(tmp_path):
    loop, store, rec = make_loop(tmp_path, labeler="human", selection="disagreement")
    loop.pretrain(list(rec.clips))  # the initial queries: nothing is fitted yet, so they are random pairs
    first = store.pending()
    assert [q.selection for q in first] == ["random"] * 5 and not loop.fitted
    for q in first:
        store.answer(q.id, PerfectOracle().label(loop.clip(q.clip_a), loop.clip(q.clip_b)), "human", "alice")
    for t in range(100, 401, 100):
        loop.step(t)
    later = [q for q in store.pending() if q.env_step > 100]  # asked after the first fit (at step 100)
    assert loop.fitted and later and {q.selection for q in later} == {"disagreement"}
    assert loop.last_disagreement > 0
