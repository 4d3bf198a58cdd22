"""RunStore: runs, tasks, artifacts and cache entries in one SQL database.

Every write is one transaction, so a crash never leaves half of one. On SQLite the store
is shared by the threads of a process and by several processes (the CLI and the server on
one file): WAL lets readers go on while one writer writes, and writers take the lock up
front (``BEGIN IMMEDIATE``) so that they queue for ``busy_timeout`` instead of failing.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kubeline.store.records import ArtifactRecord, CacheRecord, RunRecord, TaskRecord
from kubeline.store.schema import (
    artifact_consumers,
    artifacts,
    cache_entries,
    metadata,
    runs,
    tasks,
)

__all__ = ["RunStore", "process_alive"]

_Record = TypeVar("_Record", RunRecord, TaskRecord, ArtifactRecord, CacheRecord)

_ACTIVE_RUN_STATES = ("RUNNING", "PENDING", "CANCELING")
_ACTIVE_TASK_STATES = ("RUNNING", "PENDING")
_RUN_ORDERS = ("created_at", "finished_at", "display_name", "state", "pipeline_name")
# Execution option that marks a connection as a writer (see _begin_sqlite).
_WRITE = "kubeline_write"


class RunStore:
    """Runs, tasks, artifacts and cache entries, read and written as plain records.

    Only the engine's parent process and the server write here; workers send their results
    back to the parent. Methods are safe to call from several threads at once.

    Args:
        url: A SQLAlchemy database URL, e.g. ``sqlite:///path/to/kubeline.db`` or
            ``postgresql://user@host/db``. Missing tables are created.
    """

    def __init__(self, url: str | sa.URL) -> None:
        url = sa.make_url(url)
        if url.get_backend_name() == "sqlite":
            engine = sa.create_engine(url, connect_args={"check_same_thread": False})
            sa.event.listen(engine, "connect", _connect_sqlite)
            sa.event.listen(engine, "begin", _begin_sqlite)
        else:
            engine = sa.create_engine(url, pool_pre_ping=True)
        self._engine = engine
        self._writer = engine.execution_options(**{_WRITE: True})
        with self._writer.begin() as conn:
            metadata.create_all(conn)

    @classmethod
    def for_home(cls, home: Path) -> RunStore:
        """Open the SQLite store ``home / "kubeline.db"``, creating ``home`` if missing."""
        home.mkdir(parents=True, exist_ok=True)
        # URL.create, not an f-string: a path may hold characters a URL would misread.
        return cls(sa.URL.create("sqlite", database=str(home / "kubeline.db")))

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({self._engine.url.render_as_string(hide_password=True)!r})"

    # runs

    def add_run(self, run: RunRecord) -> None:
        self._insert(runs, run)

    def update_run(self, run_id: str, /, **fields: Any) -> bool:
        """Set some fields of a run.

        Args:
            run_id: The run to change. Positional only, so that ``run_id=...`` lands in
                ``fields`` and is refused rather than silently taken as the key.
            **fields: New values, by ``RunRecord`` field name.

        Returns:
            Whether the run exists (and so was changed).

        Raises:
            ValueError: A name is not a ``RunRecord`` field, or is ``run_id``.
        """
        return self._update(runs, RunRecord, run_id, fields)

    def get_run(self, run_id: str) -> RunRecord | None:
        return self._get(runs, RunRecord, run_id)

    def list_runs(
        self,
        *,
        state: str | None = None,
        pipeline_name: str | None = None,
        experiment_id: str | None = None,
        storage_state: str | None = None,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RunRecord]:
        """One page of runs, filtered by the fields given (``None`` means any).

        Runs without a value in the ``order_by`` column come last in both directions, the
        same on every database; ties are broken by creation time, then id, so pages never
        overlap.

        Raises:
            ValueError: ``order_by`` is not a column one can sort by, or ``limit`` or
                ``offset`` is negative.
        """
        if order_by not in _RUN_ORDERS:
            raise ValueError(
                f"cannot order runs by {order_by!r}; expected one of {', '.join(_RUN_ORDERS)}"
            )
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must be >= 0, got {limit} and {offset}")
        keys = [runs.c[order_by], runs.c.created_at, runs.c.run_id]
        query = (
            sa.select(runs)
            .where(*_run_filters(state, pipeline_name, experiment_id, storage_state))
            .order_by(*((k.desc() if descending else k.asc()).nulls_last() for k in keys))
            .limit(limit)
            .offset(offset)
        )
        return self._all(RunRecord, query)

    def count_runs(
        self,
        *,
        state: str | None = None,
        pipeline_name: str | None = None,
        experiment_id: str | None = None,
        storage_state: str | None = None,
    ) -> int:
        """How many runs ``list_runs`` would page through with the same filters."""
        query = (
            sa.select(sa.func.count())
            .select_from(runs)
            .where(*_run_filters(state, pipeline_name, experiment_id, storage_state))
        )
        with self._engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def delete_run(self, run_id: str) -> bool:
        """Delete a run with its tasks, artifacts and consumers; return whether it existed.

        The files under ``run.root`` are the caller's to remove.
        """
        with self._writer.begin() as conn:
            return conn.execute(runs.delete().where(runs.c.run_id == run_id)).rowcount > 0

    def find_runs(self, prefix: str) -> list[RunRecord]:
        """Runs whose id starts with ``prefix``, newest first: the CLI's short ids."""
        query = (
            sa.select(runs)
            .where(runs.c.run_id.startswith(prefix, autoescape=True))
            .order_by(runs.c.created_at.desc(), runs.c.run_id)
        )
        return self._all(RunRecord, query)

    # tasks

    def add_task(self, task: TaskRecord) -> None:
        """Add a task; its run, and its parent task if it has one, must exist."""
        self._insert(tasks, task)

    def update_task(self, task_id: str, /, **fields: Any) -> bool:
        """Set some fields of a task; the rules of :meth:`update_run` apply."""
        return self._update(tasks, TaskRecord, task_id, fields)

    def get_task(self, task_id: str) -> TaskRecord | None:
        return self._get(tasks, TaskRecord, task_id)

    def list_tasks(self, run_id: str) -> list[TaskRecord]:
        """A run's tasks, by creation time (tasks without one last), then path."""
        query = (
            sa.select(tasks)
            .where(tasks.c.run_id == run_id)
            .order_by(tasks.c.created_at.asc().nulls_last(), tasks.c.path)
        )
        return self._all(TaskRecord, query)

    # artifacts

    def add_artifact(self, artifact: ArtifactRecord) -> None:
        self._insert(artifacts, artifact)

    def get_artifact(self, artifact_id: str) -> ArtifactRecord | None:
        return self._get(artifacts, ArtifactRecord, artifact_id)

    def list_artifacts(
        self, *, run_id: str | None = None, producer_task_id: str | None = None
    ) -> list[ArtifactRecord]:
        """Artifacts, filtered by the fields given, in the order they were made."""
        query = sa.select(artifacts).order_by(
            artifacts.c.created_at.asc().nulls_last(),
            artifacts.c.output_name,
            artifacts.c.artifact_id,
        )
        if run_id is not None:
            query = query.where(artifacts.c.run_id == run_id)
        if producer_task_id is not None:
            query = query.where(artifacts.c.producer_task_id == producer_task_id)
        return self._all(ArtifactRecord, query)

    def add_consumer(self, artifact_id: str, task_id: str, input_name: str) -> None:
        """Record that a task reads an artifact as one of its inputs.

        Recording the same fact twice (a retried task) is not an error.
        """
        values = {"artifact_id": artifact_id, "task_id": task_id, "input_name": input_name}
        with self._writer.begin() as conn:
            _upsert(conn, artifact_consumers, values, replace=False)

    def consumers(self, artifact_id: str) -> list[tuple[str, str]]:
        """The ``(task_id, input_name)`` pairs that read an artifact."""
        query = (
            sa.select(artifact_consumers.c.task_id, artifact_consumers.c.input_name)
            .where(artifact_consumers.c.artifact_id == artifact_id)
            .order_by(artifact_consumers.c.task_id, artifact_consumers.c.input_name)
        )
        with self._engine.connect() as conn:
            return [(row.task_id, row.input_name) for row in conn.execute(query)]

    # cache

    def get_cache(self, key: str) -> CacheRecord | None:
        return self._get(cache_entries, CacheRecord, key)

    def put_cache(self, record: CacheRecord) -> None:
        """Insert a cache entry, replacing any entry with the same key."""
        with self._writer.begin() as conn:
            _upsert(conn, cache_entries, _values(record), replace=True)

    def delete_cache(self, key: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(cache_entries.delete().where(cache_entries.c.key == key))

    # recovery

    def fail_orphaned_runs(self, is_alive: Callable[[RunRecord], bool], reason: str) -> list[str]:
        """Fail the unfinished runs whose process is gone, with their unfinished tasks.

        A run whose process crashed stays RUNNING forever unless someone notices; the CLI
        and the server call this at start-up.

        Args:
            is_alive: Whether the process behind a run still lives, e.g.
                :func:`process_alive`. Called outside any transaction, so it may be slow.
            reason: The error message the failed runs and tasks get.

        Returns:
            The ids of the runs that were failed.
        """
        candidates = self._all(
            RunRecord, sa.select(runs).where(runs.c.state.in_(_ACTIVE_RUN_STATES))
        )
        dead = [run.run_id for run in candidates if not is_alive(run)]
        failed = {"state": "FAILED", "error": reason, "finished_at": datetime.now(timezone.utc)}
        changed = []
        with self._writer.begin() as conn:
            for run_id in dead:
                # The state test again: the run may have finished since it was read.
                update = runs.update().where(
                    runs.c.run_id == run_id, runs.c.state.in_(_ACTIVE_RUN_STATES)
                )
                if conn.execute(update.values(failed)).rowcount == 0:
                    continue
                conn.execute(
                    tasks.update()
                    .where(tasks.c.run_id == run_id, tasks.c.state.in_(_ACTIVE_TASK_STATES))
                    .values(failed)
                )
                changed.append(run_id)
        return changed

    # helpers

    def _insert(self, table: sa.Table, record: Any) -> None:
        with self._writer.begin() as conn:
            conn.execute(table.insert().values(_values(record)))

    def _update(self, table: sa.Table, record_type: type, key: str, values: dict[str, Any]) -> bool:
        (key_column,) = table.primary_key.columns
        allowed = {f.name for f in fields(record_type)} - {key_column.name}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ValueError(
                f"cannot update {record_type.__name__} field(s) {', '.join(map(repr, unknown))}; "
                f"expected any of {', '.join(sorted(allowed))}"
            )
        if not values:
            return self._get(table, record_type, key) is not None
        _check_aware(values)
        with self._writer.begin() as conn:
            return conn.execute(table.update().where(key_column == key).values(values)).rowcount > 0

    def _get(self, table: sa.Table, record_type: type[_Record], key: str) -> _Record | None:
        (key_column,) = table.primary_key.columns
        records = self._all(record_type, sa.select(table).where(key_column == key))
        return records[0] if records else None

    def _all(self, record_type: type[_Record], query: sa.Select[Any]) -> list[_Record]:
        with self._engine.connect() as conn:
            return [record_type(**row._mapping) for row in conn.execute(query)]


def process_alive(run: RunRecord) -> bool:
    """Whether the process that runs ``run`` still lives.

    Only this host's processes can be checked: a run of another host (or with no host, as
    on a cluster) counts as alive. A run on this host with no pid counts as dead. A pid the
    system has since given to another process counts as alive: rare, and the safe mistake.
    """
    if run.host != socket.gethostname():
        return True
    if run.pid is None:
        return False
    return _pid_alive(run.pid)


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    _PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
    _ERROR_ACCESS_DENIED = 5
    _STILL_ACTIVE = 259

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    _kernel32.OpenProcess.restype = wintypes.HANDLE
    _kernel32.GetExitCodeProcess.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
    _kernel32.GetExitCodeProcess.restype = wintypes.BOOL
    _kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
    _kernel32.CloseHandle.restype = wintypes.BOOL

    def _pid_alive(pid: int) -> bool:
        # os.kill on Windows terminates the process whatever the signal, so ask the kernel.
        if pid <= 0:
            return False
        handle = _kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            # Access denied: it exists but belongs to someone else. Anything else: gone.
            return ctypes.get_last_error() == _ERROR_ACCESS_DENIED
        try:
            code = wintypes.DWORD()
            if not _kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True  # cannot tell; failing a live run is the worse mistake
            return code.value == _STILL_ACTIVE
        finally:
            _kernel32.CloseHandle(handle)

else:

    def _pid_alive(pid: int) -> bool:
        if pid <= 0:
            return False  # 0 and negative pids name process groups, not a process
        try:
            os.kill(pid, 0)  # signal 0: checks the pid, delivers nothing
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # it exists, owned by another user
        except OverflowError:
            return False  # larger than any pid
        return True


def _values(record: Any) -> dict[str, Any]:
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    _check_aware(values)
    return values


def _check_aware(values: dict[str, Any]) -> None:
    # Checked here, not only in UTCDateTime, so the caller gets a plain ValueError rather
    # than one wrapped in SQLAlchemy's StatementError.
    for name, value in values.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(
                f"{name}={value.isoformat()} is a naive datetime; "
                "pass a timezone-aware one, e.g. datetime.now(timezone.utc)"
            )


def _run_filters(
    state: str | None,
    pipeline_name: str | None,
    experiment_id: str | None,
    storage_state: str | None,
) -> Iterable[sa.ColumnElement[bool]]:
    given = {
        "state": state,
        "pipeline_name": pipeline_name,
        "experiment_id": experiment_id,
        "storage_state": storage_state,
    }
    return [runs.c[name] == value for name, value in given.items() if value is not None]


def _upsert(conn: sa.Connection, table: sa.Table, values: dict[str, Any], *, replace: bool) -> None:
    """Insert a row, replacing (or keeping) a row with the same primary key.

    SQLite and PostgreSQL do this in one statement, which no concurrent writer can split.
    """
    key = [column.name for column in table.primary_key.columns]
    dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(conn.dialect.name)
    if dialect is not None:
        insert = dialect.insert(table).values(values)
        if replace:
            rest = {name: insert.excluded[name] for name in values if name not in key}
            conn.execute(insert.on_conflict_do_update(index_elements=key, set_=rest))
        else:
            conn.execute(insert.on_conflict_do_nothing(index_elements=key))
        return
    # Other databases: two statements in the caller's transaction.
    match = sa.and_(*(table.c[name] == values[name] for name in key))
    if replace:
        conn.execute(table.delete().where(match))
    elif conn.execute(sa.select(sa.literal(1)).select_from(table).where(match)).first():
        return
    conn.execute(table.insert().values(values))


def _connect_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    # Leave BEGIN to _begin_sqlite: the sqlite3 module would otherwise open transactions
    # lazily, and a reader that turns writer mid-transaction fails at once with "database is
    # locked" instead of waiting for busy_timeout.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _begin_sqlite(conn: sa.Connection) -> None:
    # Writers take the write lock at BEGIN, where busy_timeout applies; readers take none.
    mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")
