"""MuJoCo tasks in a form that leaks no reward.

The agent-facing env always returns reward 0 and never terminates early: the true reward (the
only thing the oracle may read) travels in ``info["true_reward"]``, together with the physics
state ``info["physics_state"]`` (qpos ++ qvel) so that any step can be re-rendered later.
"""

from __future__ import annotations

import warnings
from typing import Any, SupportsFloat

import gymnasium as gym
import mujoco
import numpy as np

from envs.registry import DEFAULT_PENALTY, TaskSpec


class MujocoWarning(UserWarning):
    """A warning MuJoCo's C library raised (e.g. about an attribute of gymnasium's model files)."""


def _warn_once(message: str) -> None:
    """MuJoCo's warning handler: a Python warning, shown once per message, instead of a line on stderr
    each time a model compiles (gymnasium's HalfCheetah file trips a deprecation on every env built)."""
    try:
        warnings.warn_explicit(message.strip(), MujocoWarning, "mujoco", 0, registry=_SHOWN)
    except Exception:  # noqa: BLE001  (a filter set to "error" must not raise through MuJoCo's C code)
        pass


_SHOWN: dict[Any, Any] = {}  # warnings' registry of what was shown
mujoco.set_mju_user_warning(_warn_once)


class NoScoreMujoco(gym.Wrapper):
    """Hide the reward and the termination signal of a MuJoCo task.

    True reward = env reward - control cost term - ``unhealthy_penalty`` on every step in a state
    where the gymnasium task would have terminated. The episode runs on to its fixed length.

    With ``restart_after`` = N > 0 (the pendulums, whose fallen pole can never rise again) a fall is
    a lost life, as in Atari: the step that falls earns the task's own reward (no alive bonus); the
    body then stays down for N steps, each taken from the fallen state, charged the penalty and paid
    nothing else; the N-th starts from a fresh start state underneath. No done: the episode keeps its
    fixed length. Every clip shows balancing, not a pole lying still for the rest of the episode, and
    the reward is a sharp function of the observation. N > 1 keeps the restart's start state from being
    the one thing that comes with every fall in a clip (RESULTS.md).

    With ``height_bonus`` = w > 0 (and ``height_qpos``, the index of the torso's height in qpos), every
    step also earns w x (torso height - its start height): a fall signal graded by how low the body is,
    as rl-teacher's Hopper and Walker (height - 1, height - 2 per step), instead of only a cliff at the
    unhealthy boundary. With ``tilt_penalty`` = v > 0 (and ``pitch_qpos``, ``pitch_limit``) every step
    loses v x huber(|torso pitch| / pitch_limit), huber(t) = t^2 up to 1, 1 + s(t - 1) beyond (s =
    ``tilt_slope``, 2 by default: 2t - 1): v at the pitch where gymnasium would end the episode, less
    nearer upright, growing linearly past it.

    Example:
        >>> env = NoScoreMujoco(gym.make("Hopper-v5", terminate_when_unhealthy=False), unhealthy_penalty=1.0)
    """

    def __init__(self, env: gym.Env, unhealthy_penalty: float = DEFAULT_PENALTY, has_termination: bool = False,
                 restart_after: int = 0, height_bonus: float = 0.0, height_qpos: int | None = None,
                 tilt_penalty: float = 0.0, pitch_qpos: int | None = None, pitch_limit: float | None = None,
                 tilt_slope: float = 2.0):
        super().__init__(env)
        if unhealthy_penalty < 0:
            raise ValueError("unhealthy_penalty must be >= 0")
        if restart_after < 0:
            raise ValueError("restart_after must be >= 0")
        if height_bonus < 0 or (height_bonus and height_qpos is None):
            raise ValueError("height_bonus must be >= 0, and needs the torso height's qpos index")
        self.height_bonus, self.height_qpos = float(height_bonus), height_qpos
        if tilt_penalty < 0 or (tilt_penalty and (pitch_qpos is None or not pitch_limit)):
            raise ValueError("tilt_penalty must be >= 0, and needs the torso pitch's qpos index and limit")
        self.tilt_penalty, self.pitch_qpos, self.pitch_limit = float(tilt_penalty), pitch_qpos, pitch_limit
        if tilt_slope < 0:
            raise ValueError("tilt_slope must be >= 0")
        self.tilt_slope = float(tilt_slope)
        self.unhealthy_penalty = float(unhealthy_penalty)
        self.has_termination = has_termination
        self.restart_after = restart_after
        self._down = 0  # steps the body has been down, counting the one that fell (0: up)

    def physics_state(self) -> np.ndarray:
        """Return qpos ++ qvel, shape [nq + nv]."""
        return _physics_state(self.env)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        self._down = 0
        obs, info = self.env.reset(**kwargs)
        info["physics_state"] = self.physics_state()
        return obs, info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        from_down = self._down > 0
        restart = from_down and self._down >= self.restart_after
        if restart:  # reset the physics only (task's start noise), not the wrappers' step count
            self.env.unwrapped.reset()
        obs, reward, terminated, truncated, info = self.env.step(action)
        true_reward = float(reward) - float(info.get("reward_ctrl", 0.0))
        unwrapped = self.env.unwrapped
        if hasattr(unwrapped, "is_healthy"):
            unhealthy_now = not unwrapped.is_healthy
        else:
            unhealthy_now = bool(terminated) and self.has_termination
        if self.restart_after:
            unhealthy = from_down
            if from_down:
                true_reward = -self.unhealthy_penalty
            self._down = self._down + 1 if from_down and not restart else int(unhealthy_now)
        else:
            unhealthy = unhealthy_now
            if unhealthy:
                true_reward -= self.unhealthy_penalty
        if self.height_bonus:
            i = self.height_qpos
            true_reward += self.height_bonus * float(unwrapped.data.qpos[i] - unwrapped.init_qpos[i])
        if self.tilt_penalty:
            t = abs(float(unwrapped.data.qpos[self.pitch_qpos])) / self.pitch_limit
            true_reward -= self.tilt_penalty * float(tilt_charge(t, self.tilt_slope))
        info["true_reward"] = true_reward
        info["unhealthy"] = unhealthy
        info["physics_state"] = self.physics_state()
        return obs, 0.0, False, truncated, info


def tilt_charge(t: np.ndarray | float, slope: float) -> np.ndarray:
    """The tilt charge per unit of ``tilt_penalty`` at t = |pitch| / pitch limit (any shape): t^2 up to the limit,
    1 + slope x (t - 1) past it."""
    t = np.asarray(t, dtype=float)
    return np.where(t <= 1, t * t, 1 + slope * (t - 1))


class RandomEpisodeLength(gym.Wrapper):
    """End each episode (a truncation, never a termination) after a length drawn uniformly from
    ``low`` to ``high`` steps at its reset. The lengths come from their own generator, seeded by
    ``reset(seed=...)``, so they do not change the env's own start states.

    Example:
        >>> env = RandomEpisodeLength(make_mujoco_env(spec), low=240, high=1000)
    """

    def __init__(self, env: gym.Env, low: int, high: int):
        super().__init__(env)
        if not 1 <= low <= high:
            raise ValueError(f"episode lengths need 1 <= low <= high, got {low} and {high}")
        self.low, self.high = low, high
        self._rng = np.random.default_rng()
        self.length = high  # this episode's length
        self._t = 0

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        if kwargs.get("seed") is not None:
            self._rng = np.random.default_rng([kwargs["seed"], 0x5EED])
        self.length = int(self._rng.integers(self.low, self.high + 1))
        self._t = 0
        return self.env.reset(**kwargs)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._t += 1
        return obs, reward, terminated, truncated or self._t >= self.length, info


def make_mujoco_env(spec: TaskSpec, render_mode: str | None = None) -> gym.Env:
    """Build the agent-facing env for ``spec``: fixed-length episodes (or lengths drawn from
    ``spec.min_episode_steps`` to ``spec.episode_steps``), reward 0, truth in info (priced as ``spec``
    says: a run's spec is ``TrainConfig.task()``, with the run's penalty, height and tilt)."""
    env = gym.make(spec.gym_id, max_episode_steps=spec.episode_steps, render_mode=render_mode,
                   disable_env_checker=True, **spec.env_kwargs)
    env = NoScoreMujoco(env, unhealthy_penalty=spec.unhealthy_penalty, has_termination=spec.has_termination,
                        restart_after=spec.restart_after, height_bonus=spec.height_bonus,
                        height_qpos=spec.height_qpos, tilt_penalty=spec.tilt_penalty,
                        pitch_qpos=spec.pitch_qpos, pitch_limit=spec.pitch_limit, tilt_slope=spec.tilt_slope)
    if spec.min_episode_steps and spec.min_episode_steps < spec.episode_steps:
        env = RandomEpisodeLength(env, spec.min_episode_steps, spec.episode_steps)
    return env


class GymTaskTruth(gym.Wrapper):
    """The unmodified gymnasium task, for true-reward PPO trained where rl-zoo trains: its own reward
    (control cost included) and termination. ``info`` carries what prefrl's harness puts there
    (``true_reward``: the task's reward; ``unhealthy``: the step ended the episode; ``physics_state``)."""

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        info["physics_state"] = _physics_state(self.env)
        return obs, info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["true_reward"] = float(reward)
        info["unhealthy"] = bool(terminated)
        info["physics_state"] = _physics_state(self.env)
        return obs, reward, terminated, truncated, info


def _physics_state(env: gym.Env) -> np.ndarray:
    """qpos ++ qvel of ``env``'s MuJoCo model, shape [nq + nv]."""
    data = env.unwrapped.data
    return np.concatenate([data.qpos, data.qvel]).astype(np.float64)


def make_gym_task_env(spec: TaskSpec) -> gym.Env:
    """``make_standard_env`` with the harness's ``info`` keys: where a gym-task baseline trains."""
    return GymTaskTruth(make_standard_env(spec))


def make_standard_env(spec: TaskSpec) -> gym.Env:
    """The unmodified gymnasium task, whose episodic return is the published 'true return'."""
    return gym.make(spec.gym_id)
