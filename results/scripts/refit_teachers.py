"""Refit r̂ offline on the clips that runs' labelers saw, labeled by other teachers: how it prices a fall.

The labeled pairs of the given run folders are pooled and shuffled (seed 0); 700 pairs are relabeled
by each teacher (by default the perfect oracle, and B-Pref's `equal` at several thresholds; `--teachers` takes
any names `prefrl train --teacher` takes, e.g. oracle,tie:30,stoch:0.05) and fitted as a run's
pretraining would (10 rounds of 20 passes, r̂ normalized on the clips of 150 pairs). Scored on the clips
of the remaining pairs, by their true reward: per-step correlation among healthy steps, the fall's
price (healthy mean minus down mean of r̂, in r̂'s own healthy standard deviations, beside the truth's),
and pair accuracy overall and among pairs of two healthy clips.

    python results/scripts/refit_teachers.py RUN[,RUN ...] [obs] [--teachers A,B,...] [--down-below X]

A step is down (fallen) where its true reward is below X (default -2.5: the default penalty is 5 per step).
"""
import argparse
import json

import numpy as np

from preference.fitting import EnsembleTrainer, FitConfig
from preference.reward_model import RewardEnsemble
from preference.store import PreferenceStore
from preference.teachers import SimulatedTeacher, TeacherConfig

parser = argparse.ArgumentParser()
parser.add_argument("runs")
parser.add_argument("inputs", nargs="?", choices=["obs"])
parser.add_argument("--teachers", default=None)
parser.add_argument("--down-below", type=float, default=-2.5)
args = parser.parse_args()
DOWN_BELOW = args.down_below

pairs = []
for cell in args.runs.split(","):
    store = PreferenceStore(cell + "/store", create=False)
    pairs += [(store.load_clip(lab.clip_a), store.load_clip(lab.clip_b)) for lab in store.labels()]
    store.close()
order = np.random.default_rng(0).permutation(len(pairs))
train, test = [pairs[i] for i in order[:700]], [pairs[i] for i in order[700:]]
test_clips = [c for p in test for c in p]
true = np.concatenate([c.true_rewards for c in test_clips])
healthy = true > DOWN_BELOW
print(f"{len(pairs)} pairs; {len(test_clips)} test clips; healthy share {healthy.mean():.3f}")


def fall_price(x: np.ndarray) -> float:
    return float((x[healthy].mean() - x[~healthy].mean()) / x[healthy].std())


def measure(ens: RewardEnsemble) -> dict:
    r = np.concatenate([ens.predict(c.obs, c.acts) for c in test_clips])
    ra = np.array([ens.predict(a.obs, a.acts).sum() for a, _ in test])
    rb = np.array([ens.predict(b.obs, b.acts).sum() for _, b in test])
    ta, tb = np.array([a.true_return for a, _ in test]), np.array([b.true_return for _, b in test])
    decided = ta != tb
    both_healthy = decided & np.array([(a.true_rewards > DOWN_BELOW).all() and (b.true_rewards > DOWN_BELOW).all()
                                       for a, b in test])
    agree = (ra > rb) == (ta > tb)
    return {"corr_healthy": float(np.corrcoef(r[healthy], true[healthy])[0, 1]),
            "fall_price_rhat": fall_price(r), "fall_price_true": fall_price(true),
            "test_acc": float(agree[decided].mean()), "test_acc_healthy_pairs": float(agree[both_healthy].mean()),
            "healthy_pairs": int(both_healthy.sum())}


obs_dim = train[0][0].obs.shape[-1]
act_dim = 0 if args.inputs == "obs" else train[0][0].acts.shape[-1]
teachers = ([("oracle", TeacherConfig()), ("equal0.02", TeacherConfig(eps_equal=0.02)),
             ("equal0.05", TeacherConfig(eps_equal=0.05)), ("equal0.1", TeacherConfig(eps_equal=0.1))]
            if args.teachers is None else [(n, n) for n in args.teachers.split(",")])
for name, cfg in teachers:
    teacher = SimulatedTeacher(cfg, np.random.default_rng(1))
    ens = RewardEnsemble(obs_dim, act_dim, 3, seed=0)
    trainer = EnsembleTrainer(ens, FitConfig(), np.random.default_rng(2))
    equal = 0
    for a, b in train:
        mu = teacher.label(a, b)
        if mu is not None:
            equal += mu == 0.5
            trainer.add(ens.inputs(a.obs, a.acts), ens.inputs(b.obs, b.acts), mu)
    norm_x = np.concatenate([ens.inputs(c.obs, c.acts) for p in train[:150] for c in p])
    for _ in range(10):
        stats = trainer.fit(20 * len(trainer))
        ens.normalize(norm_x)
    row = {"teacher": name, "equal_labels": int(equal), "val_acc": stats.val_acc, **measure(ens)}
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
