"""How much does a reward model fitted on a Hopper run's clips charge a lean? (RESULTS.md, fifth session)

Takes the clips of a finished run's label store, holds out 30% of them, and fits a fresh reward MLP
on the rest, either by regression on the per-step true reward (``regress``: what the network can
represent) or by the paper's Bradley-Terry fit on ``n_pairs`` random pairs labeled by the oracle
(``bt``). On the held-out clips of the last 40% of the run it regresses r̂ on the true forward
reward v and an indicator of a charged (unhealthy) step: r̂ ~ a + b v + c lean. -c/b is what a lean
costs in r̂'s eyes, in units of forward reward; the truth is 1 + the unhealthy penalty (6).

    python results/scripts/lean_fit.py RUN regress
    python results/scripts/lean_fit.py RUN regress_sum                  # regression on clip returns only
    python results/scripts/lean_fit.py RUN bt 700 '{"extra_pen": 15}'   # oracle with penalty 20
    python results/scripts/lean_fit.py RUN bt 700 '{"obs_only": true}'  # r̂ of observations only
    python results/scripts/lean_fit.py RUN bt 3000 '{"beta": 0.1}'      # Boltzmann-rational labels
    python results/scripts/lean_fit.py RUN bt 700 '{"segment": 20}'     # pairs of 20-step pieces
    python results/scripts/lean_fit.py RUN bt 700 '{"window": 20}'     # pairs at most 20 clips apart in time
    python results/scripts/lean_fit.py RUN bt 700 '{"equal": 0.1}'      # "equal" (0.5) within 0.1 x mean |clip return|
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from preference.fitting import EnsembleTrainer, FitConfig
from preference.reward_model import RewardEnsemble
from preference.store import PreferenceStore

CHARGED = -1.5  # per-step true reward below this: a charged step (healthy steps earn 1 + v > 0 here)


def main() -> None:
    torch.set_num_threads(1)
    run, mode = Path(sys.argv[1]), sys.argv[2]
    n_pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    var = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    init_l2, rounds, extra_pen = var.pop("init_l2", 1e-2), var.pop("rounds", 20), var.pop("extra_pen", 0.0)
    obs_only = var.pop("obs_only", False)
    segment = var.pop("segment", 0)  # compare pieces of this many steps cut from the clips (0: whole clips)
    equal = var.pop("equal", 0.0)  # label 0.5 when the returns differ by less than this x mean |clip return|
    window = var.pop("window", 0)  # pair each clip with one at most this many clips away in time (0: any)
    beta = var.pop("beta", None)  # Boltzmann-rational labels: P(a wins) = sigmoid(beta (return a - return b))
    st = PreferenceStore(run / "store", create=False)
    labs = [lab for lab in st.labels() if lab.value is not None]
    ids = sorted({lab.clip_a for lab in labs} | {lab.clip_b for lab in labs})
    clips = [st.load_clip(i) for i in ids]
    late = np.arange(len(ids)) >= len(ids) * 0.6
    ens = RewardEnsemble(clips[0].obs.shape[-1], 0 if obs_only else clips[0].acts.shape[-1], 3, init_l2=init_l2, seed=0)
    xs = [ens.inputs(c.obs, c.acts) for c in clips]
    ts = [c.true_rewards for c in clips]
    rng = np.random.default_rng(0)
    test = rng.random(len(clips)) < 0.3
    train = np.flatnonzero(~test)
    if mode in ("regress", "regress_sum"):
        allx, ally = np.concatenate([xs[i] for i in train]), np.concatenate([ts[i] for i in train])
        ens.set_input_stats(allx)
        if mode == "regress":  # on each step's reward
            x, y = torch.as_tensor(allx, dtype=torch.float32), torch.as_tensor(ally, dtype=torch.float32)
        else:  # on each clip's return only: x [clips, steps, in_dim], y [clips]
            x = torch.as_tensor(np.stack([xs[i] for i in train]), dtype=torch.float32)
            y = torch.as_tensor(np.stack([ts[i] for i in train]).sum(1), dtype=torch.float32)
        opt = torch.optim.Adam(ens.members[0].parameters(), 1e-3)
        for _ in range(3000):
            j = torch.randint(0, len(x), (256 if mode == "regress" else 32,))
            out = ens.member_reward(0, x[j])
            loss = ((out - y[j]) ** 2).mean() if mode == "regress" else ((out.sum(1) - y[j]) ** 2).mean() / x.shape[1] ** 2
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            pred = [ens.member_reward(0, torch.as_tensor(xi, dtype=torch.float32)).numpy() for xi in xs]
    else:
        trainer = EnsembleTrainer(ens, FitConfig(**var), rng=np.random.default_rng(0))
        seg_x, seg_t = [xs[i] for i in train], [ts[i] for i in train]
        if segment:
            cut = [(i, k) for i in train for k in range(0, len(ts[i]) - segment + 1, segment)]
            seg_x = [xs[i][k:k + segment] for i, k in cut]
            seg_t = [ts[i][k:k + segment] for i, k in cut]
        within = equal * float(np.mean([abs(t.sum()) for t in seg_t]))
        for _ in range(n_pairs):
            a, b = rng.choice(len(seg_x), 2, replace=False)
            if window:
                a = int(rng.integers(len(seg_x)))
                b = int(np.clip(a + rng.integers(-window, window + 1), 0, len(seg_x) - 1))
                if a == b:
                    continue
            sa = (seg_t[a] - extra_pen * (seg_t[a] < CHARGED)).sum()
            sb = (seg_t[b] - extra_pen * (seg_t[b] < CHARGED)).sum()
            if abs(sa - sb) < within:
                trainer.add(seg_x[a], seg_x[b], 0.5)
            elif beta is None:
                trainer.add(seg_x[a], seg_x[b], 0.5 if sa == sb else float(sa > sb))
            else:
                trainer.add(seg_x[a], seg_x[b], float(rng.random() < 1 / (1 + np.exp(-beta * (sa - sb)))))
        for _ in range(rounds):
            trainer.fit(4 * len(trainer))
        ens.normalize(np.concatenate([xs[i] for i in train]))
        pred = [ens.predict(c.obs, c.acts) for c in clips]
    held = np.flatnonzero(test & late)
    r, t = np.concatenate([pred[i] for i in held]), np.concatenate([ts[i] for i in held])
    lean = t < CHARGED
    v = np.where(lean, t + 6, t - 1)
    coef = np.linalg.lstsq(np.stack([np.ones_like(v), v, lean.astype(float)], 1), r, rcond=None)[0]
    clip_corr = np.corrcoef([pred[i].sum() for i in held], [ts[i].sum() for i in held])[0, 1]
    print(f"{mode} {n_pairs} {sys.argv[4:]}: held-out late clips: step corr {np.corrcoef(r, t)[0, 1]:.3f}, "
          f"clip corr {clip_corr:.3f}; r̂ ~ {coef[0]:.2f} + {coef[1]:.2f} v {coef[2]:+.2f} lean -> a lean costs "
          f"{-coef[2] / coef[1]:.1f} units of forward reward (truth: {6 + extra_pen:.0f})")


if __name__ == "__main__":
    main()
