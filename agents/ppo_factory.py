"""Build the run's RL algorithm (SB3 PPO, or sb3-contrib's TRPO, the paper's) from a task's settings
(rl-zoo's tuned values) plus user overrides."""

from __future__ import annotations

import inspect
from typing import Any

from sb3_contrib import TRPO
from stable_baselines3 import PPO
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

ALGOS: dict[str, type[OnPolicyAlgorithm]] = {"ppo": PPO, "trpo": TRPO}
"""What ``--algo`` names: both are on-policy, so r̂ reaches either through the same rollout buffer."""

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


def algo_class(algo: str) -> type[OnPolicyAlgorithm]:
    """The class ``algo`` names (``ppo`` or ``trpo``); ValueError for any other."""
    if algo not in ALGOS:
        raise ValueError(f"--algo must be one of {', '.join(ALGOS)}, got {algo!r}")
    return ALGOS[algo]


def _kind_error(value: Any, default: Any) -> str | None:
    """What is wrong with ``value`` for a setting whose default is ``default`` (None: nothing we can tell).
    A number's default asks for a number (an int's for a whole one); a schedule (callable) is a number."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "expected True or False"
    if not isinstance(default, (int, float)):  # None, text, a dict: any value may be meant
        return None
    if isinstance(default, int):
        return None if isinstance(value, int) and not isinstance(value, bool) else "expected a whole number"
    if isinstance(value, bool) or not (isinstance(value, (int, float)) or callable(value)):
        return "expected a number"
    return None


def check_kwargs(kwargs: dict[str, Any], algo: str = "ppo") -> None:
    """Raise ValueError naming any keyword that ``algo``'s class does not take, or a value of the wrong
    kind for it (text where its default is a number, say)."""
    params = inspect.signature(algo_class(algo).__init__).parameters
    accepted = set(params) - {"self", "env"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ValueError(f"unknown {algo.upper()} setting(s): {', '.join(unknown)}")
    for key, value in kwargs.items():
        problem = _kind_error(value, params[key].default)
        if problem:
            raise ValueError(f"--ppo {key}={value!r}: {problem}")
    if algo == "trpo" and kwargs.get("target_kl", 0.01) is None:
        raise ValueError("TRPO needs a target_kl (its trust region's size); target_kl=None is for PPO")


def make_ppo(venv: VecEnv, kwargs: dict[str, Any], seed: int, device: str, algo: str = "ppo") -> OnPolicyAlgorithm:
    """A PPO, or the on-policy algorithm ``algo`` names, (MlpPolicy unless ``kwargs["policy"]`` names
    another, e.g. CnnPolicy for Atari) on ``venv``; raises ValueError on an unknown setting."""
    kwargs = dict(kwargs)
    policy = kwargs.pop("policy", "MlpPolicy")
    try:
        return algo_class(algo)(policy, venv, seed=seed, device=device, verbose=0, **kwargs)
    except TypeError as exc:
        raise ValueError(f"bad {algo.upper()} setting: {exc}") from None
