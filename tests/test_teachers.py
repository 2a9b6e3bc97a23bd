"""B-Pref teachers: each preset's labels have the statistics it promises, on synthetic returns."""

import numpy as np
import pytest

from preference.clips import Clip
from preference.oracle import PerfectOracle
from preference.teachers import PRESETS, SimulatedTeacher, teacher_config


def clip(rewards):
    r = np.asarray(rewards, dtype=np.float32)
    return Clip(np.zeros((len(r), 1)), np.zeros((len(r), 1)), r, None, 0)


def pairs(n=4000, seed=0, steps=10, mean=1.0):
    rng = np.random.default_rng(seed)
    return [(clip(rng.normal(mean, 1.0, steps)), clip(rng.normal(mean, 1.0, steps))) for _ in range(n)]


def labels(preset, data, seed=1):
    t = SimulatedTeacher(preset, np.random.default_rng(seed))
    return np.array([np.nan if (v := t.label(a, b)) is None else v for a, b in data])


def test_oracle_preset_matches_the_perfect_oracle():
    data = pairs(500)
    assert np.array_equal(labels("oracle", data), [PerfectOracle().label(a, b) for a, b in data])


def test_mistake_flips_about_ten_percent():
    data = pairs()
    flipped = np.mean(labels("mistake", data) != labels("oracle", data))
    assert 0.085 < flipped < 0.115


def shown(teacher, returns, times):
    """Show ``teacher`` ``times`` pairs of clips with these two returns (filling its margin window)."""
    for _ in range(times):
        teacher.label(clip([returns[0] / 10] * 10), clip([returns[1] / 10] * 10))


@pytest.mark.parametrize("preset,pair,expected", [
    ("skip", (0.5, 0.9), None),   # margin ~9.8 -> skip unless a return exceeds ~0.98
    ("skip", (0.5, 1.5), 0.0),
    ("equal", (5.0, 5.9), 0.5),   # equal within ~0.99
    ("equal", (5.0, 6.5), 0.0),
])
def test_skip_and_equal_thresholds_are_tenths_of_b_prefs_margin(preset, pair, expected):
    t = SimulatedTeacher(preset)
    shown(t, (10.0, 10.0), 50)  # the margin, the mean return of the last 100 clips: 10
    assert t.margin == pytest.approx(10.0)
    assert t.label(clip([pair[0] / 10] * 10), clip([pair[1] / 10] * 10)) == expected


def test_a_negative_margin_never_skips_and_never_calls_a_pair_equal():
    for preset in ("skip", "equal"):
        t = SimulatedTeacher(preset)
        shown(t, (-10.0, -10.0), 50)
        assert t.label(clip([-2.0] * 10), clip([-3.0] * 10)) == 1.0
        assert t.label(clip([-0.5] * 10), clip([-0.51] * 10)) == 1.0


def test_skip_and_equal_rates_on_synthetic_returns():
    data = pairs(mean=0.3)  # clip returns ~ N(3, 3.2): margin ~3, thresholds ~0.3
    sk, eq = labels("skip", data), labels("equal", data)
    returns = np.array([(a.true_return, b.true_return) for a, b in data])
    assert 0.02 < np.mean(np.isnan(sk)) < 0.07  # P(both returns <= 0.3) ~ 0.04
    assert np.all(returns[np.isnan(sk)].max(1) <= 0.4)
    assert 0.03 < np.mean(eq == 0.5) < 0.08  # P(|difference| < 0.3) ~ 0.05
    assert np.all(np.abs(np.diff(returns[eq == 0.5], axis=1)) < 0.4)


def test_stochastic_teacher_follows_the_boltzmann_probability():
    a, b = clip([0.5] * 10), clip([0.0] * 10)  # return gap 5 -> P(a) = sigmoid(5)
    t = SimulatedTeacher("stoch", np.random.default_rng(0))
    frac = np.mean([t.label(a, b) for _ in range(20000)])
    assert frac == pytest.approx(1 / (1 + np.exp(-5)), abs=0.01)


@pytest.mark.parametrize("beta", [0.05, 0.2])
def test_stoch_beta_sets_the_boltzmann_rationality(beta):
    a, b = clip([0.5] * 10), clip([0.0] * 10)  # return gap 5 -> P(a) = sigmoid(5 beta)
    t = SimulatedTeacher(f"stoch:{beta}", np.random.default_rng(0))
    frac = np.mean([t.label(a, b) for _ in range(20000)])
    assert frac == pytest.approx(1 / (1 + np.exp(-5 * beta)), abs=0.01)


@pytest.mark.parametrize("name,message", [("stoch:0", "stoch:BETA"), ("stoch:-1", "stoch:BETA"),
                                          ("stoch:x", "stoch:BETA"), ("stoch:inf", "stoch:BETA"),
                                          ("stoch:", "stoch:BETA"), ("mistake:0.2", "unknown teacher"),
                                          ("tie:0", "TAU in tie:TAU"), ("tie:nan", "TAU in tie:TAU")])
def test_a_teacher_parameter_must_be_a_positive_number(name, message):
    with pytest.raises(ValueError, match=message):
        SimulatedTeacher(name)


def test_tie_answers_equal_below_tau_and_as_the_oracle_above_it():
    data = pairs(mean=0.3)  # clip returns ~ N(3, 3.2)
    tie, oracle = labels("tie:1.5", data), labels("oracle", data)
    gaps = np.array([abs(a.true_return - b.true_return) for a, b in data])
    assert np.all(tie[gaps < 1.5] == 0.5) and np.array_equal(tie[gaps >= 1.5], oracle[gaps >= 1.5])
    assert 0.2 < np.mean(tie == 0.5) < 0.4  # P(|N(0, 4.5^2)| < 1.5) ~ 0.26
    assert SimulatedTeacher("tie:1.5").label(clip([-5.0] * 10), clip([-5.1] * 10)) == 0.5  # negative returns too


def test_near_drops_the_pairs_below_tau_and_answers_as_the_oracle_above_it():
    data = pairs(mean=0.3)
    near, oracle = labels("near:1.5", data), labels("oracle", data)
    gaps = np.array([abs(a.true_return - b.true_return) for a, b in data])
    assert np.all(np.isnan(near[gaps < 1.5])) and np.array_equal(near[gaps >= 1.5], oracle[gaps >= 1.5])
    assert 0.2 < np.mean(np.isnan(near)) < 0.4  # the same pairs tie:1.5 answers 0.5 on
    assert SimulatedTeacher("near:1.5").label(clip([-5.0] * 10), clip([-5.1] * 10)) is None


def test_myopic_teacher_prefers_the_recent_rewards():
    early, late = clip([1.0] * 5 + [0.0] * 5), clip([0.0] * 5 + [0.9] * 5)  # early has the larger sum
    assert SimulatedTeacher("oracle").label(early, late) == 1.0
    assert SimulatedTeacher("myopic").label(early, late) == 0.0


def test_presets_and_unknown_name():
    assert teacher_config("stoch:1") == PRESETS["stoch"]
    assert set(PRESETS) == {"oracle", "stoch", "mistake", "skip", "equal", "myopic"}
    with pytest.raises(ValueError, match="unknown teacher"):
        SimulatedTeacher("lazy")
