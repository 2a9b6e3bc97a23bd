"""Environments without score access, the task registry, and clip-friendly recording."""

from envs.registry import TASKS, TaskSpec, UnknownTaskError, get_task

__all__ = ["TASKS", "TaskSpec", "UnknownTaskError", "get_task"]
