"""What a run reports: progress events while it runs, and a result when it ends.

Plain data, so that the CLI, the server and tests read a run the same way whatever
executes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["FINAL_STATES", "RunResult", "TaskEvent", "TaskRecord"]

#: KFP's final run and task states.
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"})


@dataclass(frozen=True)
class TaskEvent:
    """A task started, finished, or was answered from the cache (``kind``)."""

    kind: str
    task: str
    state: str


@dataclass
class TaskRecord:
    name: str
    state: str
    started: datetime | None = None
    ended: datetime | None = None
    cached: bool = False
    log_lines: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        if self.started and self.ended:
            return (self.ended - self.started).total_seconds()
        return None


@dataclass
class RunResult:
    run_id: str
    pipeline_name: str
    state: str
    outputs: dict[str, Any]
    tasks: list[TaskRecord]
    root: Path
    log_path: Path
    started: datetime
    ended: datetime
    error: str | None = None
    user_error: bool = False
    failed_task: str | None = None

    @property
    def seconds(self) -> float:
        return (self.ended - self.started).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``kubeline run --output json`` prints."""
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline_name,
            "state": self.state,
            "outputs": self.outputs,
            "tasks": [
                {"name": t.name, "state": t.state, "cached": t.cached, "seconds": t.seconds}
                for t in self.tasks
            ],
            "error": self.error,
            "failed_task": self.failed_task,
            "root": str(self.root),
            "log": str(self.log_path),
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
            "seconds": self.seconds,
        }
