"""Build an SB3 PPO from a task's settings (rl-zoo's tuned values) plus user overrides."""

from __future__ import annotations

import inspect
from typing import Any

from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
_POLICY_KEYS = ("net", "activation", "log_std_init", "ortho_init")


def linear_schedule(text: Any) -> Any:
    """rl-zoo's ``"lin_2.5e-4"``: a value decayed linearly to 0 over training (SB3 calls it with the
    remaining progress, 1 -> 0); anything else is returned unchanged."""
    if not (isinstance(text, str) and text.startswith("lin_")):
        return text
    try:
        start = float(text[4:])
    except ValueError:
        raise ValueError(f"bad schedule {text!r}: expected lin_<number>") from None

    def schedule(progress_remaining: float) -> float:
        return progress_remaining * start
    return schedule


def split_settings(settings: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Split registry settings into (n_envs, PPO keyword arguments with policy_kwargs)."""
    s = dict(settings)
    n_envs = int(s.pop("n_envs", 1))
    for key in ("learning_rate", "clip_range"):
        if key in s:
            s[key] = linear_schedule(s[key])
    policy_kwargs: dict[str, Any] = {}
    if "net" in s:
        net = list(s.pop("net"))
        policy_kwargs["net_arch"] = dict(pi=net, vf=net)
    if "activation" in s:
        name = s.pop("activation")
        if name not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; choose from {', '.join(_ACTIVATIONS)}")
        policy_kwargs["activation_fn"] = _ACTIVATIONS[name]
    for key in ("log_std_init", "ortho_init"):
        if key in s:
            policy_kwargs[key] = s.pop(key)
    if policy_kwargs:
        s["policy_kwargs"] = policy_kwargs
    return n_envs, s


def check_kwargs(kwargs: dict[str, Any]) -> None:
    """Raise ValueError naming any keyword that SB3's PPO does not take."""
    accepted = set(inspect.signature(PPO.__init__).parameters) - {"self", "env"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ValueError(f"unknown PPO setting(s): {', '.join(unknown)}")


def make_ppo(venv: VecEnv, kwargs: dict[str, Any], seed: int, device: str) -> PPO:
    """A PPO (MlpPolicy unless ``kwargs["policy"]`` names another, e.g. CnnPolicy for Atari) on
    ``venv``; raises ValueError on an unknown PPO setting."""
    kwargs = dict(kwargs)
    policy = kwargs.pop("policy", "MlpPolicy")
    try:
        return PPO(policy, venv, seed=seed, device=device, verbose=0, **kwargs)
    except TypeError as exc:
        raise ValueError(f"bad PPO setting: {exc}") from None
