import pytest

from preference.schedule import LabelSchedule


def test_initial_share_and_exact_budget():
    s = LabelSchedule(700, 1_000_000)
    assert s.initial == 175
    assert s.target(0) == 175
    assert s.target(1_000_000) == 700
    assert s.target(5_000_000) == 700


@pytest.mark.parametrize("budget,steps,chunk", [(700, 1_000_000, 512), (350, 300_000, 2048), (7, 1000, 64)])
def test_stepping_in_rollouts_spends_exactly_the_budget(budget, steps, chunk):
    s = LabelSchedule(budget, steps)
    asked, prev = 0, 0
    t = 0
    while t < steps:
        t += chunk
        target = s.target(t)
        assert target >= prev
        asked += target - asked
        prev = target
    assert asked == budget


def test_rate_decays_as_in_the_paper():
    s = LabelSchedule(1000, 10_000_000, horizon=2e6)
    assert s.rate(0) / s.rate(2_000_000) == pytest.approx(2.0)
    assert s.target(2_000_000) - s.target(0) > s.target(4_000_000) - s.target(2_000_000)


@pytest.mark.parametrize("budget,steps", [(0, 100), (1, 100), (10, 0), (10, -5)])
def test_bad_budgets_are_refused(budget, steps):
    with pytest.raises(ValueError):
        LabelSchedule(budget, steps)
