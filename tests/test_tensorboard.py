"""TensorBoard inspection: the reward-hacking alarm, on synthetic runs with known answers."""

from collections import deque
from types import SimpleNamespace

import numpy as np

from agents.callbacks import PreferenceCallback
from agents.tb import HackingAlarm, config_table, gif_bytes


def fake_wrapper():
    return SimpleNamespace(learned_returns=deque(maxlen=100), true_returns=deque(maxlen=100), episodes=0,
                           recent_rewards=deque())


def run_episodes(learned, true, capsys):
    """Feed episode returns through the callback's alarm, 4 episodes per rollout."""
    w = fake_wrapper()
    cb = PreferenceCallback(w, loop=SimpleNamespace(), alarm=HackingAlarm(window=10))
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
    flat = HackingAlarm(window=10)
    for _ in range(20):  # pure noise, no trend
        flat.add(rng.normal(), rng.normal())
    assert not flat.check()[0]


def test_helpers_write_real_gifs_and_tables():
    frames = np.random.default_rng(0).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    data = gif_bytes(frames, fps=10)
    assert data[:6] == b"GIF89a"
    table = config_table({"env": "Hopper", "labels": 700})
    assert "| env | `Hopper` |" in table and "| labels | `700` |" in table
