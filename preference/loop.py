"""The preference side of training: queries on schedule, labels through the store, reward fitting.

``PreferenceLoop`` knows nothing of the RL algorithm: the trainer calls ``step(env_steps)``
between PPO rollouts, and the loop asks for the labels the schedule wants, lets the synthetic
oracle answer pending queries through the store (a person would answer through the same store
from another process), folds new answers into the ensemble's data set, and refits.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from preference.clips import Clip, ClipRecorder
from preference.fidelity import clip_agreement
from preference.fitting import EnsembleTrainer, FitStats
from preference.oracle import PerfectOracle
from preference.reward_model import RewardEnsemble
from preference.schedule import LabelSchedule
from preference.teachers import SimulatedTeacher
from preference.selection import clip_features, preference_variance, random_pairs, select_pairs
from preference.store import PreferenceStore

Labeler = PerfectOracle | SimulatedTeacher


@dataclass
class LoopConfig:
    selection: str = "random"
    fit_every: int = 10_000
    fit_epochs: float = 2.0
    pretrain_epochs: int = 200
    candidate_clips: int = 200
    label_per_steps: float = 0.1
    """At least this many comparisons are trained on per env step (paper: about 1 per 10)."""
    labeler: str = "oracle"
    """`oracle`: the oracle answers every query at once; `human`: a person answers through the
    store (the oracle only shadows, to log agreement); `human+oracle`: the person answers, and
    the oracle takes queries nobody answered within ``oracle_after`` seconds."""
    oracle_after: float = 60.0
    normalize_on: str = "labeled"
    """Which steps r̂ is normalized on after each fit: `labeled` clips or `recent` clips."""
    async_fit: bool = False
    """Fit in a background thread (the paper's asynchronous design) while RL goes on with the
    previous r̂; the new r̂ is swapped in atomically when the fit ends."""
    clip_cache: int | None = None
    """Keep at most this many stored clips in memory (older ones are reloaded from the store when
    needed); None: all (Atari: bounded, a clip of frames is 0.7 MB)."""
    heldout_clips: int | None = None
    """Held-out metrics use at most this many of the most recent unlabeled clips; None: all candidates."""
    norm_clips: int = 300
    """r̂ is normalized on up to this many labeled clips."""
    pessimism: float = 0.0
    """The agent is paid r̂ minus this many standard deviations of the normalized members (0: r̂ itself)."""
    optimism: float = 0.0
    """The agent is paid r̂ plus this many standard deviations of the normalized members at env step 0, an upper
    confidence bound that pays more where the members disagree (RUNE, Liang et al. 2022); it fades linearly to
    nothing at ``optimism_steps``. 0: off."""
    optimism_steps: int = 0
    """Env step at which ``optimism`` has faded to nothing (0: it never fades)."""


class PreferenceLoop:
    """Schedule -> queries in the store -> labeler -> comparisons -> fitted ensemble."""

    def __init__(self, ensemble: RewardEnsemble, trainer: EnsembleTrainer, store: PreferenceStore,
                 schedule: LabelSchedule, recorder: ClipRecorder, config: LoopConfig,
                 rng: np.random.Generator, oracle: Labeler | None = None):
        self.ens = ensemble
        self.trainer = trainer
        self.store = store
        self.schedule = schedule
        self.recorder = recorder
        self.cfg = config
        self.rng = rng
        self.oracle = oracle
        self.truth = PerfectOracle()  # only for logging how often a person agrees with the true reward
        self._clips: dict[int, Clip] = {}
        self._ingested: dict[int, tuple[int, int | None]] = {}  # query -> (index, label id)
        self._pair_of: dict[int, tuple[int, int]] = {}  # query -> (clip a, clip b)
        self._features: dict[int, np.ndarray] = {}  # stored clip -> clip_features, for coverage selection
        self.last_fit_step = 0
        self._unfitted = 0
        self.fit_seconds = 0.0
        self.last_disagreement = float("nan")
        self.metrics: dict[str, float] = {}
        self.fitted = False
        self._fit_thread: threading.Thread | None = None
        self._answers: dict[int, tuple[str, float]] = {}  # query -> (source, value), current answers
        self._truth: dict[int, float] = {}  # query -> the perfect oracle's label, for agreement only
        self._fresh: deque[float] = deque(maxlen=100)
        self.heldout: tuple[np.ndarray, np.ndarray] | None = None  # (predicted, true) clip returns
        self._fit_error: BaseException | None = None
        self.env_steps = 0  # as of the last ``step``: where ``optimism`` has faded to

    def faded_optimism(self) -> float:
        """``optimism`` at the current env step, faded linearly to nothing at ``optimism_steps``."""
        k = self.cfg.optimism
        if k and self.cfg.optimism_steps:
            k *= max(0.0, 1.0 - self.env_steps / self.cfg.optimism_steps)
        return k

    def bound(self) -> float:
        """Member standard deviations taken off r̂ at the current env step: ``pessimism`` minus the faded
        ``optimism`` (negative: added)."""
        return self.cfg.pessimism - self.faded_optimism()

    def reward(self, obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
        """r̂ for a batch of steps [B]; zero until the ensemble has been fitted on some answer."""
        if not self.fitted:
            return np.zeros(len(obs), dtype=np.float32)
        return self.ens.predict(obs, acts, self.bound())

    # -- queries -------------------------------------------------------------------------
    def asked(self) -> int:
        """Queries that count against the budget: answered or still pending (dropped ones don't)."""
        c = self.store.counts()
        return c["answered"] + c["pending"]

    def _store_clip(self, clip: Clip) -> int:
        if clip.store_id is None:
            clip.store_id = self.store.add_clip(clip)
            self._cache(clip.store_id, clip)
        return clip.store_id

    def _cache(self, clip_id: int, clip: Clip) -> None:
        self._clips[clip_id] = clip
        limit = self.cfg.clip_cache
        while limit is not None and len(self._clips) > limit:
            del self._clips[next(iter(self._clips))]  # the oldest first

    def request(self, n: int, clips: list[Clip], env_step: int) -> int:
        """Put ``n`` new queries over ``clips`` into the store; return how many were added."""
        if n <= 0 or len(clips) < 2:
            return 0
        # An ensemble not yet fitted on any answer disagrees at random: its queries are random pairs.
        # Coverage needs no ensemble.
        method = self.cfg.selection if self.fitted or self.cfg.selection == "coverage" else "random"
        member_returns = self.member_returns_fn(clips) if method not in ("random", "coverage") else None
        coverage = None
        if method == "coverage":
            coverage = (np.stack([clip_features(c.obs) for c in clips]), self._asked_features())
        pairs, var = select_pairs(len(clips), n, method, self.rng, member_returns, coverage=coverage)
        if not np.all(np.isnan(var)):
            self.last_disagreement = float(np.nanmean(var))
        for a, b in pairs:
            ids = self._store_clip(clips[a]), self._store_clip(clips[b])
            self.store.add_query(*ids, env_step, method)
            if method == "coverage":
                for i, clip_id in zip((a, b), ids):
                    self._features[clip_id] = coverage[0][i]
        return len(pairs)

    def _asked_features(self) -> np.ndarray:
        """clip_features of every clip asked about so far, [K, F] (K may be 0; after a resume, the
        answered ones are read back from the store)."""
        for pair in self._pair_of.values():
            for clip_id in pair:
                if clip_id not in self._features:
                    self._features[clip_id] = clip_features(self.clip(clip_id).obs)
        return np.stack(list(self._features.values())) if self._features else np.empty((0, 0))

    def member_returns_fn(self, clips: list[Clip]):
        def fn(idx: np.ndarray) -> np.ndarray:
            x = np.stack([self.ens.inputs(clips[i].obs, clips[i].acts) for i in idx])  # [n, T, *in]
            flat = self.ens.predict_members(x.reshape(-1, *x.shape[2:]))  # [M, n*T]
            return flat.reshape(self.ens.n_members, len(idx), -1).sum(-1)
        return fn

    # -- labels --------------------------------------------------------------------------
    def clip(self, clip_id: int) -> Clip:
        clip = self._clips.get(clip_id)
        if clip is None:
            clip = self.store.load_clip(clip_id)
            self._cache(clip_id, clip)
        return clip

    def answer_with_oracle(self) -> int:
        """The synthetic oracle answers pending queries through the store, as the labeler mode says."""
        if self.oracle is None or self.cfg.labeler == "human":
            return 0
        if self.cfg.labeler == "oracle":
            todo = self.store.pending()
        else:
            todo = self.store.pending(older_than=time.time() - self.cfg.oracle_after, unclaimed=True)
        n = 0
        for q in todo:
            value = self.oracle.label(self.clip(q.clip_a), self.clip(q.clip_b))
            # Never take a pair a person holds or has just answered: skip it on any conflict.
            n += self.store.answer_if_free(q.id, value, source="oracle", labeler=self.oracle.name)
        return n

    def ingest(self) -> int:
        """Bring the trainer's data set in line with the store's answers; return how many changed.

        New answers are added; an answer that was undone is retired; a re-answer replaces the old.
        """
        n = 0
        current = {label.query_id: label for label in self.store.labels()}
        for qid, label in current.items():
            seen = self._ingested.get(qid)
            if seen is None:
                a, b = self.clip(label.clip_a), self.clip(label.clip_b)
                self._score_fresh(a, b, label.value)
                index = self.trainer.add(self.ens.inputs(a.obs, a.acts), self.ens.inputs(b.obs, b.acts), label.value)
                self._ingested[qid] = (index, label.id)
                self._pair_of[qid] = (label.clip_a, label.clip_b)
                self._truth[qid] = self.truth.label(a, b)
                self._count_source(qid, label.source, label.value)
                n += 1
            elif seen[1] != label.id:
                self.trainer.set_label(seen[0], label.value)
                self._ingested[qid] = (seen[0], label.id)
                self._count_source(qid, label.source, label.value)
                n += 1
        for qid, (index, label_id) in self._ingested.items():
            if qid not in current and label_id is not None:
                self.trainer.set_label(index, None)
                self._ingested[qid] = (index, None)
                self._answers.pop(qid, None)
                n += 1
        return n

    def _score_fresh(self, a: Clip, b: Clip, value: float) -> None:
        """Accuracy on a label before it is trained on: generalization to the policy's new behaviour."""
        if not self.fitted or value == 0.5:
            return
        self._fresh.append(float((self.predicted_preference(a, b) > 0.5) == (value > 0.5)))

    def predicted_preference(self, a: Clip, b: Clip) -> float:
        """The ensemble's P(a better than b) from summed r̂ (0.5 before any fit)."""
        if not self.fitted:
            return 0.5
        d = float(self.reward(a.obs, a.acts).sum() - self.reward(b.obs, b.acts).sum())
        return float(1.0 / (1.0 + np.exp(-np.clip(d, -50, 50))))

    def _count_source(self, qid: int, source: str, value: float) -> None:
        self._answers[qid] = (source, value)

    @property
    def source_counts(self) -> dict[str, int]:
        """Current answers per source (undone and replaced answers no longer count)."""
        out: dict[str, int] = {}
        for source, _ in self._answers.values():
            out[source] = out.get(source, 0) + 1
        return out

    def human_oracle_agreement(self) -> float:
        """Fraction of current human answers that the perfect oracle would have given (NaN before any)."""
        agree = [float(self._truth[q] == v) for q, (src, v) in self._answers.items() if src == "human"]
        return float(np.mean(agree)) if agree else float("nan")

    def wait_for_labels(self, env_steps: int, max_behind: int, poll: float = 1.0,
                        on_wait: Callable[[int], None] | None = None,
                        stop: Callable[[], bool] | None = None) -> None:
        """Block while the answered labels trail the schedule's target by more than ``max_behind``
        (asking again for dropped pairs), until ``stop()`` says to give up."""
        clips = self.recorder.recent(self.cfg.candidate_clips)
        while stop is None or not stop():
            self.request(self.schedule.target(env_steps) - self.asked(), clips, env_steps)
            self.answer_with_oracle()
            self._unfitted += self.ingest()
            behind = self.schedule.target(env_steps) - self.store.counts()["answered"]
            if behind <= max_behind:
                return
            if on_wait is not None:
                on_wait(behind)
            time.sleep(poll)

    # -- fitting -------------------------------------------------------------------------
    def _norm_inputs(self, clips: list[Clip]) -> np.ndarray | None:
        """Inputs [N, in_dim] on which r̂ is normalized (mean 0, set std).

        ``labeled`` (default): every labeled clip (up to 300, evenly spaced), a distribution that
        changes slowly, so r̂'s offset and scale don't jump at each refit; ``recent``: the 50
        most recent clips (the policy's current behaviour has mean r̂ 0 after every fit).
        """
        if self.cfg.normalize_on == "labeled":
            ids = sorted({c for pair in self._pair_of.values() for c in pair})
            if ids:
                picks = np.linspace(0, len(ids) - 1, min(self.cfg.norm_clips, len(ids))).round().astype(int)
                clips = [self._clips[ids[i]] for i in sorted(set(picks)) if ids[i] in self._clips]
        else:
            clips = clips[-50:]
        if not clips:
            return None
        return np.concatenate([self.ens.inputs(c.obs, c.acts) for c in clips])

    def fit(self, n_samples: int, norm_clips: list[Clip]) -> FitStats:
        """Fit synchronously, then renormalize r̂ on ``norm_clips``."""
        return self._fit(n_samples, self._norm_inputs(norm_clips))

    def _fit(self, n_samples: int, norm_x: np.ndarray | None) -> FitStats:
        t0 = time.perf_counter()
        stats = self.trainer.fit(n_samples)
        if norm_x is not None:
            self.ens.normalize(norm_x)
        else:
            self.ens.refresh()
        self.fitted = self.fitted or len(self.trainer) >= 2
        self.fit_seconds += time.perf_counter() - t0
        return stats

    def _fit_in_background(self, n_samples: int, norm_x: np.ndarray | None) -> None:
        def run() -> None:
            try:
                self._fit(n_samples, norm_x)
            except BaseException as exc:  # surfaced in the main thread by _join_fit
                self._fit_error = exc
        self._fit_thread = threading.Thread(target=run, name="reward-fit", daemon=True)
        self._fit_thread.start()

    def _join_fit(self, block: bool) -> bool:
        """Collect a finished background fit; True if one finished since the last call."""
        t = self._fit_thread
        if t is None or (t.is_alive() and not block):
            return False
        t.join()
        self._fit_thread = None
        if self._fit_error is not None:
            err, self._fit_error = self._fit_error, None
            raise RuntimeError(f"reward fitting failed: {err}") from err
        return True

    def wait(self) -> None:
        """Block until a background fit in flight has finished."""
        self._join_fit(block=True)

    def pretrain(self, random_clips: list[Clip]) -> FitStats:
        """Before RL: ask the initial share of the budget over random-policy clips and fit on the
        answers there are (a person may not have answered any yet: training does not wait)."""
        self.request(self.schedule.initial - self.asked(), random_clips, env_step=0)
        self.answer_with_oracle()
        self.ingest()

        # Several rounds, so that the adaptive l2 can react to overfitting during pretraining.
        rounds = max(1, min(10, self.cfg.pretrain_epochs))
        for _ in range(rounds):
            stats = self.fit(int(self.cfg.pretrain_epochs / rounds * len(self.trainer)), random_clips)
        self._update_metrics(0, random_clips)
        return stats

    def step(self, env_steps: int, force_fit: bool = False) -> bool:
        """Called between rollouts: query on schedule, collect answers, refit when due.

        With ``force_fit`` (end of training) any background fit is awaited and a final
        synchronous fit covers every label. Returns True when a fit was started or finished.
        """
        self.env_steps = env_steps
        clips = self.recorder.recent(self.cfg.candidate_clips)
        finished = self._join_fit(block=force_fit)
        if finished:
            self._update_metrics(env_steps, clips)
        want = self.schedule.target(env_steps) - self.asked()
        self.request(want, clips, env_steps)
        self.answer_with_oracle()
        self._unfitted += self.ingest()
        self._update_label_metrics(env_steps)
        due = env_steps - self.last_fit_step >= self.cfg.fit_every
        busy = self._fit_thread is not None
        if busy or not ((due and len(self.trainer) > 0) or (force_fit and self._unfitted)):
            return finished
        since = env_steps - self.last_fit_step
        n_samples = max(int(self.cfg.fit_epochs * len(self.trainer)), int(self.cfg.label_per_steps * since))
        self._unfitted = 0
        self.last_fit_step = env_steps
        if self.cfg.async_fit and not force_fit:
            self._fit_in_background(n_samples, self._norm_inputs(clips))
        else:
            self.fit(n_samples, clips)
            self._update_metrics(env_steps, clips)
        return True

    def finish(self, env_steps: int, rounds: int = 50) -> None:
        """End of training: ask again for pairs the labeler dropped until the budget is answered
        (or nothing more gets answered), then fit once more on every label."""
        clips = self.recorder.recent(self.cfg.candidate_clips)
        for _ in range(rounds):
            self.request(self.schedule.target(env_steps) - self.asked(), clips, env_steps)
            if self.answer_with_oracle() == 0:
                break
        self.step(env_steps, force_fit=True)

    # -- metrics -------------------------------------------------------------------------
    def _update_label_metrics(self, env_steps: int) -> None:
        c = self.store.counts()
        self.metrics.update({
            "labels/answered": c["answered"], "labels/pending": c["pending"], "labels/dropped": c["dropped"],
            "labels/target": self.schedule.target(env_steps), "labels/budget": self.schedule.budget,
            **{f"labels/from_{src}": n for src, n in self.source_counts.items()},
        })
        agreement = self.human_oracle_agreement()
        if agreement == agreement:
            self.metrics["labels/human_oracle_agreement"] = agreement
        if self._fresh:
            self.metrics["reward/fresh_acc"] = float(np.mean(self._fresh))
        self.store.set_meta("env_step", str(env_steps))

    def _update_metrics(self, env_steps: int, clips: list[Clip]) -> None:
        s = self.trainer.stats
        self._update_label_metrics(env_steps)
        m = {
            "reward/train_loss": s.train_loss, "reward/val_loss": s.val_loss,
            "reward/train_acc": s.train_acc, "reward/val_acc": s.val_acc, "reward/l2": s.l2,
            "perf/fit_seconds": self.fit_seconds,
        }
        held = [cl for cl in clips if cl.store_id is None]
        if self.cfg.heldout_clips is not None:
            held = held[-self.cfg.heldout_clips:]
        if len(held) >= 3:
            steps = [self.ens.predict(cl.obs, cl.acts) for cl in held]  # r̂ per step of each clip
            pred = np.array([float(r.sum()) for r in steps])
            true = np.array([cl.true_return for cl in held])
            self.heldout = (pred, true)
            fid = clip_agreement(pred, true)  # pair_acc: every held-out pair the oracle would not tie
            for key in ("corr", "spearman", "pair_acc"):
                if not math.isnan(fid[key]):
                    m[f"reward/heldout_{key}"] = fid[key]
            pairs = random_pairs(len(held), min(200, len(held) * 2), self.rng)
            returns = self.member_returns_fn(held)(np.arange(len(held)))
            m["reward/disagreement"] = float(preference_variance(returns, pairs).mean())
            if self.cfg.pessimism or self.cfg.optimism:  # what the bound adds to r̂, per step, on these clips
                shift = float(np.mean(np.concatenate([self.reward(cl.obs, cl.acts) - r for r, cl in zip(steps, held)])))
                if self.cfg.pessimism:
                    m["reward/pessimism_penalty"] = -shift
                if self.cfg.optimism:
                    m["reward/optimism_k"], m["reward/optimism_bonus"] = self.faded_optimism(), shift
        if not math.isnan(self.last_disagreement):
            m["reward/query_disagreement"] = self.last_disagreement
        self.metrics.update(m)

    # -- checkpoints ---------------------------------------------------------------------
    def state(self) -> dict:
        """Everything needed to continue this loop later (the store holds the labels themselves)."""
        self.wait()
        t = self.trainer
        order = sorted(self._ingested.items(), key=lambda kv: kv[1][0])
        return {
            "ingested": [(qid, index, label_id) for qid, (index, label_id) in order],
            "pairs": [(self._pair_of[qid]) for qid, _ in order],
            "mu": list(t.mu), "active": t.active.copy(), "is_val": t.is_val.copy(), "boot": t.boot.copy(),
            "opts": [o.state_dict() for o in t.opts], "trainer_rng": t.rng.bit_generator.state,
            "fit_rng": t.fit_rng.bit_generator.state, "ensemble": self.ens.state_dict(),
            "rng": self.rng.bit_generator.state, "last_fit_step": self.last_fit_step,
            "fit_seconds": self.fit_seconds,
            "answers": dict(self._answers), "truth": dict(self._truth), "fitted": self.fitted,
            "unfitted": self._unfitted, "teacher": _teacher_state(self.oracle), "env_steps": self.env_steps,
        }

    def restore(self, state: dict) -> None:
        """Undo ``state()``: rebuild the comparison data set from the store's clips, then reconcile."""
        t = self.trainer
        self.ens.load_state_dict(state["ensemble"])
        self.ens.refresh()
        keep_from = t.keep_from(len(state["ingested"]))  # a buffered data set holds only the recent inputs
        for (qid, index, label_id), (clip_a, clip_b) in zip(state["ingested"], state["pairs"]):
            if index < keep_from:
                t.xa.append(None)
                t.xb.append(None)
            else:
                a, b = self.clip(clip_a), self.clip(clip_b)
                t.xa.append(t.keep(self.ens.inputs(a.obs, a.acts)))
                t.xb.append(t.keep(self.ens.inputs(b.obs, b.acts)))
            self._ingested[qid] = (index, label_id)
            self._pair_of[qid] = (clip_a, clip_b)
        t.mu = list(state["mu"])
        t.evicted = keep_from
        t.active, t.is_val, t.boot = state["active"], state["is_val"], state["boot"]
        for opt, opt_state in zip(t.opts, state["opts"]):
            opt.load_state_dict(opt_state)
        t.rng.bit_generator.state = state["trainer_rng"]
        t.fit_rng.bit_generator.state = state["fit_rng"]
        self.rng.bit_generator.state = state["rng"]
        self.last_fit_step, self.fit_seconds = state["last_fit_step"], state["fit_seconds"]
        self._answers, self._truth = dict(state["answers"]), dict(state["truth"])
        if state.get("teacher") is not None and self.oracle is not None:
            self.oracle.rng.bit_generator.state = state["teacher"]["rng"]
            self.oracle.recent_returns.extend(state["teacher"].get("recent_returns", []))  # older: a max instead
        self.fitted, self._unfitted = state["fitted"], state["unfitted"]
        self.env_steps = state.get("env_steps", self.last_fit_step)  # older checkpoints: the last fit's step
        t.stats = t.evaluate() if len(t) else t.stats


def _teacher_state(teacher) -> dict | None:
    if teacher is None or not hasattr(teacher, "rng"):
        return None
    return {"rng": teacher.rng.bit_generator.state, "recent_returns": list(teacher.recent_returns)}
