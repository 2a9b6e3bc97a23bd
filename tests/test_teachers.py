"""B-Pref teachers: each preset's labels have the statistics it promises, on synthetic returns."""

import numpy as np
import pytest

from preference.clips import Clip
from preference.oracle import PerfectOracle
from preference.teachers import PRESETS, SimulatedTeacher


def clip(rewards):
    r = np.asarray(rewards, dtype=np.float32)
    return Clip(np.zeros((len(r), 1)), np.zeros((len(r), 1)), r, None, 0)


def pairs(n=4000, seed=0, steps=10, mean=1.0):
    rng = np.random.default_rng(seed)
    return [(clip(rng.normal(mean, 1.0, steps)), clip(rng.normal(mean, 1.0, steps))) for _ in range(n)]


def labels(preset, data, seed=1):
    t = SimulatedTeacher(preset, np.random.default_rng(seed))
    t.max_abs_return = max(max(abs(a.true_return), abs(b.true_return)) for a, b in data)
    return np.array([np.nan if (v := t.label(a, b)) is None else v for a, b in data])


def test_oracle_preset_matches_the_perfect_oracle():
    data = pairs(500)
    assert np.array_equal(labels("oracle", data), [PerfectOracle().label(a, b) for a, b in data])


def test_mistake_flips_about_ten_percent():
    data = pairs()
    flipped = np.mean(labels("mistake", data) != labels("oracle", data))
    assert 0.085 < flipped < 0.115


def test_skip_and_equal_thresholds():
    data = pairs(mean=0.3)
    scale = max(max(abs(a.true_return), abs(b.true_return)) for a, b in data)
    sk = labels("skip", data)
    expected_skip = [a.true_return < 0.1 * scale and b.true_return < 0.1 * scale for a, b in data]
    assert np.array_equal(np.isnan(sk), expected_skip) and 0 < np.mean(expected_skip) < 0.5
    eq = labels("equal", data)
    expected_eq = [abs(a.true_return - b.true_return) < 0.1 * scale for a, b in data]
    assert np.array_equal(eq == 0.5, expected_eq) and np.mean(expected_eq) > 0.05


def test_stochastic_teacher_follows_the_boltzmann_probability():
    a, b = clip([0.5] * 10), clip([0.0] * 10)  # return gap 5 -> P(a) = sigmoid(5)
    t = SimulatedTeacher("stoch", np.random.default_rng(0))
    frac = np.mean([t.label(a, b) for _ in range(20000)])
    assert frac == pytest.approx(1 / (1 + np.exp(-5)), abs=0.01)


def test_myopic_teacher_prefers_the_recent_rewards():
    early, late = clip([1.0] * 5 + [0.0] * 5), clip([0.0] * 5 + [0.9] * 5)  # early has the larger sum
    assert SimulatedTeacher("oracle").label(early, late) == 1.0
    assert SimulatedTeacher("myopic").label(early, late) == 0.0


def test_presets_and_unknown_name():
    assert set(PRESETS) == {"oracle", "stoch", "mistake", "skip", "equal", "myopic"}
    with pytest.raises(ValueError, match="unknown teacher"):
        SimulatedTeacher("lazy")
