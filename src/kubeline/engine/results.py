"""What a run reports: progress events while it runs, and a result when it ends.

Plain data, so that the CLI, the server and tests read a run the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeline.store.records import RunRecord, TaskRecord

__all__ = ["FINAL_STATES", "RunResult", "TaskEvent"]

# What a user error's text starts with, in rows recorded before errors were data.
_USER_ERRORS = (
    "kubeline.errors.DataError",
    "kubeline.errors.DataValidationError",
    "kubeline.errors.ConfigError",
    "kubeline.errors.UserError",
)

#: KFP's final run and task states.
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"})


@dataclass(frozen=True)
class TaskEvent:
    """A task ``started``, ``finished``, was answered from the cache (``cached``), or
    failed and will be tried again (``retrying``); or the process's admission of tasks
    decided about it (``admission``, node kind ``admission``: ``detail`` says what)."""

    kind: str
    task: str  # its path in the run, e.g. for-loop-2/iteration-0/run-trial
    state: str
    node_kind: str = "executor"  # executor, importer, dag, loop, iteration (or admission)
    seconds: float | None = None
    error: str | None = None
    detail: str | None = None


@dataclass
class RunResult:
    """A finished (or interrupted) run: its record, its tasks, and where its files are."""

    run: RunRecord
    tasks: list[TaskRecord]
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        # One line (the default dataclass repr prints every record, spec and all).
        timing = f"in {self.seconds:.1f} s" if self.run.finished_at else "not finished"
        return f"<RunResult {self.run_id} {self.state} {timing}, {len(self.tasks)} tasks>"

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def state(self) -> str:
        return self.run.state

    @property
    def outputs(self) -> dict[str, Any]:
        return self.run.outputs

    @property
    def error(self) -> str | None:
        return self.run.error

    @property
    def root(self) -> Path:
        return Path(self.run.root)

    @property
    def seconds(self) -> float:
        if self.run.started_at and self.run.finished_at:
            return (self.run.finished_at - self.run.started_at).total_seconds()
        return 0.0

    @property
    def failed_task(self) -> TaskRecord | None:
        """The first leaf task that failed (not the groups around it)."""
        failed = [
            t for t in self.tasks if t.state == "FAILED" and t.kind in ("executor", "importer")
        ]
        return failed[0] if failed else None

    @property
    def user_error(self) -> bool:
        """The failure is kubeline's word on the user's input (a kubeline UserError), as
        the failed task's structured error says."""
        task = self.failed_task
        if task is None:
            return False
        if task.error_type is None and task.error:
            # A row recorded before errors were data: its text is all there is.
            return task.error.startswith(_USER_ERRORS)
        return task.user_error

    @property
    def error_message(self) -> str | None:
        """The failed task's error without its type: what a user error says to fix."""
        task = self.failed_task
        if task is None or not task.error:
            return None
        kind = task.error_type or task.error.split(": ", 1)[0]
        return task.error.removeprefix(f"{kind}: ")

    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``kubeline run --output json`` prints."""
        failed = self.failed_task
        return {
            "run_id": self.run_id,
            "pipeline": self.run.pipeline_name,
            "state": self.state,
            "outputs": self.outputs,
            "tasks": [
                {
                    "name": t.name,
                    "path": t.path,
                    "kind": t.kind,
                    "state": t.state,
                    "cached": t.cache_hit,
                    "attempts": t.attempts,
                    "seconds": (t.finished_at - t.started_at).total_seconds()
                    if t.finished_at and t.started_at
                    else None,
                    "error": t.error,
                }
                for t in self.tasks
            ],
            "error": self.error,
            "failed_task": failed.path if failed else None,
            "notes": self.notes,
            "root": self.run.root,
            "started": self.run.started_at.isoformat() if self.run.started_at else None,
            "ended": self.run.finished_at.isoformat() if self.run.finished_at else None,
            "seconds": self.seconds,
        }
