"""The contract between the scheduler and whatever runs a prepared task.

The scheduler decides *what* runs and *when*; an :class:`Executor` runs one prepared
:class:`~kubeline.engine.leaf.LeafJob` and reports how it ended. Forked, spawned and
host-command executors sit behind this interface today; a container executor is the next.
Every executor passes the same contract tests (``tests/engine/executors/``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubeline.engine.leaf import LeafJob

__all__ = ["Executor", "Outcome", "TaskError"]


@dataclass(frozen=True)
class TaskError:
    """Why a task failed, as data: written by the task's process (or by the executor when
    the task could not start), carried by the task record, read by the CLI and the API."""

    type: str  # the exception's qualified name, e.g. "kubeline.errors.DataError"
    message: str
    user_error: bool = False  # the user can fix it by changing an input (CLI exit 2)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.type else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "user_error": self.user_error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskError:
        return cls(
            type=str(data.get("type", "")),
            message=str(data.get("message", "")),
            user_error=bool(data.get("user_error", False)),
        )


@dataclass(frozen=True)
class Outcome:
    """How one submitted job ended."""

    exit_code: int  # 0 succeeded; < 0 killed by that signal
    error: TaskError | None = None
    started_at: datetime | None = None  # when it really started (it may have queued)


class Executor(ABC):
    """Runs prepared jobs concurrently. One per run; shared helpers (a fork server, the
    process-wide admission of tasks) are passed in, not owned."""

    #: How many jobs may usefully be queued at once: the scheduler prepares about twice
    #: this many before it waits for one to finish.
    capacity: int = 1

    @abstractmethod
    def submit(self, job: LeafJob) -> Future[Outcome]:
        """Start (or queue) ``job``; never blocks on the job itself."""

    def wait(
        self, futures: Iterable[Future[Outcome]], timeout: float | None = None
    ) -> set[Future[Outcome]]:
        """The futures that are done, waiting at most ``timeout`` for the first."""
        done, _ = wait(list(futures), timeout=timeout, return_when=FIRST_COMPLETED)
        return done

    @abstractmethod
    def cancel(self, force: bool = False) -> None:
        """Stop every job of this executor (Ctrl-C, terminate): each job's process tree
        is asked to end and killed after the grace period, or at once with ``force`` (a
        second Ctrl-C); jobs submitted later end at once as canceled."""

    def close(self) -> None:
        """Release what the executor holds; waits for running jobs."""
        return None
