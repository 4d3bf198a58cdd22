"""The run store: every run, task, artifact and cache entry kubeline knows of, and the
pipelines, experiments and recurring runs of its KFP API.

One SQL database (SQLite at ``$KUBELINE_HOME/kubeline.db`` by default) read by the CLI, the
engine and the server. Only the engine's parent process and the server write it: workers
send plain, picklable results back to their parent, which records them. Callers trade in
the plain records of :mod:`kubeline.store.records`, never in database rows or sessions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeline.store.records import (
    ArtifactRecord,
    CacheRecord,
    ExperimentRecord,
    ModelAliasRecord,
    ModelRecord,
    ModelVersionRecord,
    PipelineRecord,
    PipelineVersionRecord,
    RecurringRunRecord,
    RunRecord,
    TaskRecord,
)

if TYPE_CHECKING:
    from kubeline.store.run_store import DuplicateError, RunStore, process_alive

# SQLAlchemy loads only when the store itself is used: the records are plain dataclasses,
# and a task's worker process, which imports them, never opens the database.
_LAZY = {"DuplicateError", "RunStore", "process_alive"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from kubeline.store import run_store

        return getattr(run_store, name)
    raise AttributeError(f"module 'kubeline.store' has no attribute {name!r}")


__all__ = [
    "ArtifactRecord",
    "CacheRecord",
    "DuplicateError",
    "ExperimentRecord",
    "ModelAliasRecord",
    "ModelRecord",
    "ModelVersionRecord",
    "PipelineRecord",
    "PipelineVersionRecord",
    "RecurringRunRecord",
    "RunRecord",
    "RunStore",
    "TaskRecord",
    "open_store",
    "process_alive",
]


def open_store(home: Path) -> RunStore:
    """The store for ``home``: ``$KUBELINE_DATABASE_URL`` when set (any SQLAlchemy URL,
    e.g. PostgreSQL), else the SQLite file ``home/kubeline.db``."""
    from kubeline.store.run_store import RunStore

    url = os.environ.get("KUBELINE_DATABASE_URL")
    return RunStore(url) if url else RunStore.for_home(home)
