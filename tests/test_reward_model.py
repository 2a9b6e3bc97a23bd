import numpy as np
import pytest
import torch

from preference.fitting import EnsembleTrainer, FitConfig, preference_loss
from preference.reward_model import RewardEnsemble, resolve_device

OBS, ACT, T = 6, 2, 15


def synthetic_pairs(rng, n, w, scale=1.0, offset=0.0):
    """n pairs of T-step clips of features drawn as scale * N(0, 1) + offset, and which pair wins under the
    known linear reward w of the *standard* features."""
    za = rng.normal(size=(n, T, OBS + ACT))
    zb = rng.normal(size=(n, T, OBS + ACT))
    mu = ((za @ w).sum(1) > (zb @ w).sum(1)).astype(np.float32)
    return (za * scale + offset).astype(np.float32), (zb * scale + offset).astype(np.float32), mu


# Features as raw observations come: scales from hundredths to tens, offsets away from zero.
RAW_SCALE = np.array([0.02, 0.1, 1.0, 5.0, 20.0, 0.5, 3.0, 0.05])
RAW_OFFSET = np.array([1.0, -0.3, 2.0, 10.0, -40.0, 0.0, 1.5, 0.2])


@pytest.mark.parametrize("scale,offset", [(1.0, 0.0), (RAW_SCALE, RAW_OFFSET)], ids=["standard", "raw-scales"])
def test_ensemble_recovers_a_known_linear_reward(scale, offset):
    rng = np.random.default_rng(0)
    w = rng.normal(size=OBS + ACT)
    ens = RewardEnsemble(OBS, ACT, n_members=3, seed=0)
    trainer = EnsembleTrainer(ens, FitConfig(), rng=np.random.default_rng(1))
    for a, b, m in zip(*synthetic_pairs(rng, 400, w, scale, offset)):
        trainer.add(a, b, m)
    for _ in range(10):
        stats = trainer.fit(4 * len(trainer))
    ens.normalize(rng.normal(size=(2000, OBS + ACT)) * scale + offset)
    assert stats.train_acc > 0.9 and stats.val_acc > 0.85
    # Held-out pairs the ensemble never saw: accuracy of its predicted preference, through the same
    # r̂ PPO gets (``predict``), not the trainer's own forward pass.
    xa, xb, mu = synthetic_pairs(rng, 500, w, scale, offset)
    ra = ens.predict(xa[..., :OBS].reshape(-1, OBS), xa[..., OBS:].reshape(-1, ACT)).reshape(500, T).sum(1)
    rb = ens.predict(xb[..., :OBS].reshape(-1, OBS), xb[..., OBS:].reshape(-1, ACT)).reshape(500, T).sum(1)
    assert np.mean((ra > rb) == (mu > 0.5)) > 0.9
    # Per-step r̂ correlates with the true reward.
    z = rng.normal(size=(1000, OBS + ACT))
    x = (z * scale + offset).astype(np.float32)
    assert np.corrcoef(ens.predict(x[:, :OBS], x[:, OBS:]), z @ w)[0, 1] > 0.9


def test_normalized_output_has_target_std_and_numpy_matches_torch():
    ens = RewardEnsemble(OBS, ACT, n_members=3, target_std=0.05, seed=3)
    x = (np.random.default_rng(0).normal(size=(3000, OBS + ACT)) * np.arange(1, OBS + ACT + 1) + 3).astype(np.float32)
    ens.set_input_stats(x)
    ens.normalize(x)
    fast = ens.predict(x[:, :OBS], x[:, OBS:])
    assert fast.std() == pytest.approx(0.05, rel=1e-3) and abs(fast.mean()) < 1e-3
    with torch.no_grad():
        slow = ens(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5)


def test_new_input_statistics_leave_the_learned_function_unchanged():
    rng = np.random.default_rng(0)
    ens = RewardEnsemble(OBS, ACT, n_members=2, seed=1)
    x = (rng.normal(size=(500, OBS + ACT)) * 4 + 2).astype(np.float32)
    ens.set_input_stats(x)  # first statistics: a fresh net, nothing to preserve
    with torch.no_grad():
        before = ens.member_rewards(torch.as_tensor(x)).numpy()
    ens.set_input_stats(x[:100] * 3 - 5)  # the data moved: standardize on the new data
    assert not np.allclose(ens.in_mean.numpy(), 0)
    with torch.no_grad():
        after = ens.member_rewards(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-4)


def test_loss_includes_ten_percent_random_answers():
    big = torch.tensor([100.0])
    loss = preference_loss(big, torch.tensor([0.0]), torch.tensor([0.0]), noise=0.1)
    assert float(loss) == pytest.approx(-np.log(0.05), rel=1e-5)  # capped: never certain


def test_loss_matches_its_formula_and_stays_finite_without_noise():
    gaps = torch.tensor([-200.0, -3.0, 0.0, 2.0, 200.0])
    mu = torch.tensor([0.0, 1.0, 0.5, 1.0, 1.0])
    for noise in (0.0, 0.1):
        p = (1 - noise) * torch.sigmoid(gaps.double()) + noise / 2
        expected = -(mu * torch.log(p) + (1 - mu) * torch.log1p(-p))
        loss = preference_loss(gaps, torch.zeros(5), mu, noise=noise)
        assert torch.isfinite(loss).all()
        known = torch.isfinite(expected)  # the plain formula itself fails at a gap of 200 without noise
        assert int(known.sum()) >= 4
        np.testing.assert_allclose(loss.double()[known].numpy(), expected[known].numpy(), rtol=1e-5, atol=1e-6)
    # Without noise a confident right answer costs nothing and a confident wrong one its full gap.
    assert float(loss_at(200.0, 1.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(loss_at(-200.0, 1.0)) == pytest.approx(200.0, rel=1e-5)


def loss_at(gap: float, mu: float) -> torch.Tensor:
    return preference_loss(torch.tensor([gap]), torch.tensor([0.0]), torch.tensor([mu]), noise=0.0)


def test_l2_grows_when_validation_loss_runs_away():
    rng = np.random.default_rng(0)
    ens = RewardEnsemble(OBS, ACT, n_members=2, seed=0, init_l2=1e-6)
    trainer = EnsembleTrainer(ens, FitConfig(), rng=np.random.default_rng(0))
    for a, b, _ in zip(*synthetic_pairs(rng, 60, np.zeros(OBS + ACT))):
        trainer.add(a, b, float(rng.random() < 0.5))  # pure noise labels: memorization only
    before = ens.l2_coef.clone()
    for _ in range(5):
        stats = trainer.fit(40 * len(trainer))
    assert stats.val_loss > stats.train_loss
    assert torch.all(ens.l2_coef > before)


def test_out_of_bag_validation_holds_out_exactly_what_each_members_sample_leaves_out():
    # One reading of the paper's 1/e: what a draw of |D| with replacement leaves out. A member then
    # trains on the ~63% in its bootstrap sample and is validated on the rest, not a further split.
    rng = np.random.default_rng(0)
    ens = RewardEnsemble(OBS, ACT, n_members=3, seed=0)
    trainer = EnsembleTrainer(ens, FitConfig(validation="out-of-bag"), rng=np.random.default_rng(2))
    x = np.zeros((T, OBS + ACT), np.float32)
    for _ in range(3000):
        trainer.add(x, x, float(rng.random() < 0.5))
    window = np.arange(3000)
    for k in range(3):
        val = trainer.is_val[k]
        np.testing.assert_array_equal(val, trainer.boot[k] == 0)
        assert abs(val.mean() - 1 / np.e) < 0.03
        trained = (trainer.boot[k] > 0) & ~val
        assert not (trained & val).any() and (trained | val).all()
    stats = trainer.evaluate()  # every comparison is a tie of identical clips: loss log 2 on both sides
    assert stats.train_loss == pytest.approx(np.log(2), rel=1e-4)
    assert stats.val_loss == pytest.approx(np.log(2), rel=1e-4)
    assert stats.n_labels == len(window)


def test_save_and_load_give_the_same_predictions(tmp_path):
    ens = RewardEnsemble(OBS, ACT, seed=5)
    x = np.random.default_rng(1).normal(size=(100, OBS + ACT)).astype(np.float32)
    ens.normalize(x)
    ens.save(tmp_path / "e.pt")
    back = RewardEnsemble.load(tmp_path / "e.pt")
    np.testing.assert_allclose(back.predict(x[:, :OBS], x[:, OBS:]), ens.predict(x[:, :OBS], x[:, OBS:]))


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


def test_observation_only_ensemble_ignores_actions_and_learns_the_reward():
    rng = np.random.default_rng(2)
    w = rng.normal(size=OBS)
    ens = RewardEnsemble(OBS, 0, n_members=2, seed=0)
    trainer = EnsembleTrainer(ens, FitConfig(), rng=np.random.default_rng(3))
    obs_a, obs_b = rng.normal(size=(2, 300, T, OBS)).astype(np.float32)
    acts = rng.normal(size=(T, ACT)).astype(np.float32)
    for a, b in zip(obs_a, obs_b):
        trainer.add(ens.inputs(a, acts), ens.inputs(b, acts), float((a @ w).sum() > (b @ w).sum()))
    for _ in range(8):
        trainer.fit(4 * len(trainer))
    x = rng.normal(size=(1000, OBS)).astype(np.float32)
    ens.normalize(x)
    r = ens.predict(x, rng.normal(size=(1000, ACT)))
    np.testing.assert_array_equal(r, ens.predict(x, rng.normal(size=(1000, ACT))))
    assert np.corrcoef(r, x @ w)[0, 1] > 0.9


def test_pessimism_lowers_r_hat_by_k_member_standard_deviations():
    ens = RewardEnsemble(OBS, ACT, n_members=3, target_std=1.0, seed=4)
    x = (np.random.default_rng(1).normal(size=(500, OBS + ACT)) * 2 + 1).astype(np.float32)
    ens.set_input_stats(x)
    ens.normalize(x)
    with torch.no_grad():  # the slow torch path, computed here on its own
        raw = ens.member_rewards(torch.as_tensor(x)).double().numpy()
    z = (raw - ens.member_mean.double().numpy()[:, None]) / ens.member_std.double().numpy()[:, None]
    scale = float(ens.scale)
    obs, acts = x[:, :OBS], x[:, OBS:]
    np.testing.assert_allclose(ens.predict(obs, acts, pessimism=0.0), ens.predict(obs, acts))
    np.testing.assert_allclose(ens.predict(obs, acts, pessimism=1.5), scale * (z.mean(0) - 1.5 * z.std(0)),
                               rtol=1e-4, atol=1e-4)
    assert np.all(ens.predict(obs, acts, pessimism=1.5) <= ens.predict(obs, acts) + 1e-5)


def test_pessimism_charges_more_far_from_the_labeled_clips():
    rng = np.random.default_rng(0)
    w = rng.normal(size=OBS + ACT)
    ens = RewardEnsemble(OBS, ACT, n_members=3, seed=0)
    trainer = EnsembleTrainer(ens, FitConfig(), rng=np.random.default_rng(1))
    for a, b, m in zip(*synthetic_pairs(rng, 300, w)):
        trainer.add(a, b, m)
    for _ in range(5):
        trainer.fit(4 * len(trainer))
    ens.normalize(rng.normal(size=(2000, OBS + ACT)))
    near = rng.normal(size=(1000, OBS + ACT)).astype(np.float32)  # where the labeled clips were
    far = near * 8  # far outside them
    penalty = [float(np.mean(ens.predict(v[:, :OBS], v[:, OBS:]) - ens.predict(v[:, :OBS], v[:, OBS:], 1.0)))
               for v in (near, far)]
    assert 0 < penalty[0] and penalty[1] > 3 * penalty[0]
