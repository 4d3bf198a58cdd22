"""Executors: what runs a prepared task (see :mod:`kubeline.engine.executors.base`)."""

from kubeline.engine.executors.base import Executor, Outcome, TaskError

__all__ = ["Executor", "Outcome", "TaskError"]
