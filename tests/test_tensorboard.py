"""TensorBoard inspection: the reward-hacking alarm, on synthetic runs with known answers."""

from collections import deque
from types import SimpleNamespace

import numpy as np

from agents.callbacks import PreferenceCallback
from agents.tb import HackingAlarm, config_table, gif_bytes


def fake_wrapper():
    return SimpleNamespace(learned_returns=deque(maxlen=100), true_returns=deque(maxlen=100), episodes=0,
                           recent_rewards=deque())


def run_episodes(learned, true, capsys, alarm=None):
    """Feed episode returns through the callback's alarm, 4 episodes per rollout."""
    w = fake_wrapper()
    cb = PreferenceCallback(w, loop=SimpleNamespace(), alarm=alarm or HackingAlarm(window=10))
    cb.writer = None
    records = []
    for i in range(0, len(true), 4):
        for lr, tr in zip(learned[i:i + 4], true[i:i + 4]):
            w.learned_returns.append(lr)
            w.true_returns.append(tr)
            w.episodes += 1
        cb._check_alarm(lambda k, v: records.append((k, v)))
    flags = [v for k, v in records if k == "charts/reward_hacking"]
    return cb, flags, capsys.readouterr().out


def test_anti_correlated_learned_reward_raises_the_alarm_once(capsys):
    rng = np.random.default_rng(0)
    t = np.arange(60)
    learned = 10 * t + rng.normal(0, 20, 60)   # the learned return climbs...
    true = 1000 - 8 * t + rng.normal(0, 20, 60)  # ...while the true return falls
    cb, flags, out = run_episodes(learned, true, capsys)
    assert cb.alarm_raised and max(flags) == 1.0 and flags[0] == 0.0
    assert out.count("reward hacking suspected") == 1


def test_healthy_run_does_not_raise_it(capsys):
    rng = np.random.default_rng(1)
    t = np.arange(60)
    learned = 10 * t + rng.normal(0, 20, 60)
    true = 5 * t + rng.normal(0, 20, 60)  # both improve
    cb, flags, out = run_episodes(learned, true, capsys)
    assert not cb.alarm_raised and max(flags) == 0.0 and "reward hacking" not in out


def test_trendless_noise_never_raises_it_over_a_long_run(capsys):
    """1,000 episodes of independent noise, checked every 4: the defaults stay quiet (the first rule,
    0.5 sd between halves of 20 episodes, fired in every such simulated run)."""
    rng = np.random.default_rng(2)
    for _ in range(5):
        cb, flags, out = run_episodes(rng.normal(0, 20, 1000), rng.normal(500, 20, 1000), capsys, HackingAlarm())
        assert not cb.alarm_raised and max(flags) == 0.0 and "reward hacking" not in out


def test_the_alarm_waits_until_the_decoupling_has_persisted():
    alarm = HackingAlarm(window=10, threshold=3.0, persist=5)
    ons = []
    for i in range(30):  # learned climbs, true falls, from the first episode on
        alarm.add(i + 0.3 * (i % 3), -i + 0.3 * (i % 2))
        on, lt, tt = alarm.check()
        ons.append(on)
        if i >= 19:
            assert lt > 3 and tt < -3
    assert ons.index(True) == 24 and all(ons[24:])  # trends hold from episode 20; 5 episodes later, on


def test_helpers_write_real_gifs_and_tables():
    frames = np.random.default_rng(0).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    data = gif_bytes(frames, fps=10)
    assert data[:6] == b"GIF89a"
    table = config_table({"env": "Hopper", "labels": 700})
    assert "| env | `Hopper` |" in table and "| labels | `700` |" in table
