"""The run store: every run, task, artifact and cache entry kubeline knows of, the
pipelines, experiments and recurring runs of its KFP API, and the registered models.

One handle, :class:`RunStore`, reaches each kind of record through a section:
``store.runs.get(run_id)``, ``store.tasks.list(run_id)``, ``store.artifacts.readers(...)``,
``store.cache``, ``store.pipelines``, ``store.pipeline_versions``, ``store.experiments``,
``store.recurring_runs``, ``store.models``. Close it (``with open_store(url) as store:``).

One SQL database (SQLite at ``$KUBELINE_HOME/kubeline.db`` by default) read by the CLI, the
engine and the server. Its URL is resolved at the edge (the CLI, the server's app factory,
``kubeline.run``) by :func:`database_url` and handed to :func:`open_store`; nothing below
reads the environment. Only the engine's parent process and the server write it: workers
send plain, picklable results back to their parent, which records them. Callers trade in
the plain records of :mod:`kubeline.store.records`, never in database rows or sessions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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
    import sqlalchemy as sa

    from kubeline.store.processes import process_alive
    from kubeline.store.run_store import RunStore

# SQLAlchemy loads only when the store itself is used: the records are plain dataclasses,
# and a task's worker process, which imports them, never opens the database.
_LAZY = {"RunStore": "kubeline.store.run_store", "process_alive": "kubeline.store.processes"}

#: The environment variable :func:`database_url` reads: any SQLAlchemy URL.
DATABASE_URL_VARIABLE = "KUBELINE_DATABASE_URL"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kubeline.store' has no attribute {name!r}")


__all__ = [
    "ArtifactRecord",
    "CacheRecord",
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
    "database_url",
    "open_store",
    "process_alive",
]


def open_store(url: str | sa.URL) -> RunStore:
    """The store at ``url`` (any SQLAlchemy URL; :func:`database_url` gives kubeline's).

    Close it when done, e.g. ``with open_store(url) as store:``.
    """
    from kubeline.store.run_store import RunStore

    return RunStore(url)


def database_url(home: Path, environ: Mapping[str, str] | None = None) -> str | sa.URL:
    """The store's URL, resolved at the edge: ``$KUBELINE_DATABASE_URL`` when set (e.g.
    PostgreSQL), else the SQLite file ``home/kubeline.db``.

    Args:
        home: kubeline's home folder (``$KUBELINE_HOME``, resolved by the caller).
        environ: The environment to read; the process's when ``None``.
    """
    url = (os.environ if environ is None else environ).get(DATABASE_URL_VARIABLE)
    if url:
        return url
    from kubeline.store.run_store import sqlite_url

    return sqlite_url(home)
