"""RunStore: runs, tasks, artifacts and cache entries, and the pipelines, experiments and
recurring runs of the KFP API, in one SQL database.

Every write is one transaction, so a crash never leaves half of one. On SQLite the store
is shared by the threads of a process and by several processes (the CLI and the server on
one file): WAL lets readers go on while one writer writes, and writers take the lock up
front (``BEGIN IMMEDIATE``) so that they queue for ``busy_timeout`` instead of failing.

The ``list_*`` methods page the way KFP's API does: a list of ``(field, op, value)`` filters
(``filters=[("state", "IN", ["FAILED", "CANCELED"])]``), one field to sort by with ties broken
by creation time and then id, and ``limit`` / ``offset``. Fields are columns, checked against
the table, and values are bound parameters, so a filter cannot inject SQL.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from kubeline.store.migrations import (
    DEFAULT_EXPERIMENT,
    DEFAULT_EXPERIMENT_DESCRIPTION,
    migrate,
)
from kubeline.store.model_registry import ModelRegistryStore
from kubeline.store.records import (
    ArtifactRecord,
    CacheRecord,
    ExperimentRecord,
    PipelineRecord,
    PipelineVersionRecord,
    RecurringRunRecord,
    RunRecord,
    TaskRecord,
)
from kubeline.store.schema import (
    artifact_consumers,
    artifacts,
    cache_entries,
    experiments,
    metadata,
    pipeline_versions,
    pipelines,
    recurring_runs,
    runs,
    tasks,
)

__all__ = ["DuplicateError", "RunStore", "process_alive"]

_Record = TypeVar(
    "_Record",
    RunRecord,
    TaskRecord,
    ArtifactRecord,
    CacheRecord,
    PipelineRecord,
    PipelineVersionRecord,
    ExperimentRecord,
    RecurringRunRecord,
)
# One list filter: (field, op, value), e.g. ("state", "IN", ["FAILED", "CANCELED"]).
_Filter = tuple[str, str, Any]

_ACTIVE_RUN_STATES = ("RUNNING", "PENDING", "CANCELING")
_ACTIVE_TASK_STATES = ("RUNNING", "PENDING")
# KFP's filter predicates (v2beta1 Predicate.Operation), by the names KFP gives them.
_FILTER_OPS = (
    "EQUALS",
    "NOT_EQUALS",
    "GREATER_THAN",
    "GREATER_THAN_EQUALS",
    "LESS_THAN",
    "LESS_THAN_EQUALS",
    "IN",
    "IS_SUBSTRING",
)
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "GREATER_THAN": lambda column, value: column > value,
    "GREATER_THAN_EQUALS": lambda column, value: column >= value,
    "LESS_THAN": lambda column, value: column < value,
    "LESS_THAN_EQUALS": lambda column, value: column <= value,
}
_DEFAULT_EXPERIMENT = DEFAULT_EXPERIMENT
# Execution option that marks a connection as a writer (see _begin_sqlite).
_WRITE = "kubeline_write"


class DuplicateError(ValueError):
    """A record's id, or its name where names are unique, is taken (KFP's ALREADY_EXISTS)."""


class RunStore(ModelRegistryStore):
    """Runs, tasks, artifacts, cache entries, pipelines and their versions, experiments and
    recurring runs, read and written as plain records.

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
            # create_all skips the indexes of tables that already exist, so a database made
            # by an older kubeline would miss those added since (the runs' pipeline ids).
            for table in metadata.sorted_tables:
                for index in table.indexes:
                    index.create(conn, checkfirst=True)
            # A database made by an older kubeline gets its data moved to today's rules.
            migrate(conn)

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
        filters: Sequence[_Filter] | None = None,
    ) -> list[RunRecord]:
        """One page of runs, filtered by the fields given (``None`` means any).

        Args:
            state: Only runs in this state; likewise ``pipeline_name``, ``experiment_id``
                and ``storage_state``.
            order_by: The column to sort by: any but the JSON ones (``spec``,
                ``arguments``, ``outputs``). Runs without a value in it come last in both
                directions, the same on every database; ties are broken by creation time,
                then id, so pages never overlap.
            descending: Sort largest first.
            limit: At most this many runs.
            offset: Skip this many first.
            filters: ``(field, op, value)`` conditions, all of which a run must meet, on
                the columns ``order_by`` accepts. ``op`` is one of KFP's ``EQUALS``,
                ``NOT_EQUALS``, ``GREATER_THAN``, ``GREATER_THAN_EQUALS``, ``LESS_THAN``,
                ``LESS_THAN_EQUALS``, ``IN`` (``value`` a list) and ``IS_SUBSTRING``
                (case-sensitive, on text columns). A ``None`` value stands for NULL, and
                ``NOT_EQUALS`` keeps the rows where the field is NULL.

        Raises:
            ValueError: ``order_by`` or a filter names no such column, a filter's op or
                value does not fit, or ``limit`` or ``offset`` is negative.
        """
        where = _where(
            runs,
            filters,
            state=state,
            pipeline_name=pipeline_name,
            experiment_id=experiment_id,
            storage_state=storage_state,
        )
        return self._page(runs, RunRecord, where, order_by, descending, limit, offset)

    def count_runs(
        self,
        *,
        state: str | None = None,
        pipeline_name: str | None = None,
        experiment_id: str | None = None,
        storage_state: str | None = None,
        filters: Sequence[_Filter] | None = None,
    ) -> int:
        """How many runs ``list_runs`` would page through with the same filters."""
        where = _where(
            runs,
            filters,
            state=state,
            pipeline_name=pipeline_name,
            experiment_id=experiment_id,
            storage_state=storage_state,
        )
        return self._count(runs, where)

    def run_pipeline_names(self, *, storage_state: str | None = None) -> list[str]:
        """The pipeline names runs carry, sorted: the choices of the runs list's filter,
        which must reach runs of ``kubeline run`` (no pipeline record) too."""
        query = sa.select(runs.c.pipeline_name).distinct().order_by(runs.c.pipeline_name)
        if storage_state is not None:
            query = query.where(runs.c.storage_state == storage_state)
        with self._engine.connect() as conn:
            return [row.pipeline_name for row in conn.execute(query)]

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

    def delete_tasks(self, run_id: str) -> int:
        """Delete a run's tasks (and their artifacts), for running it again under the same
        id; returns how many tasks there were. Cache entries stay."""
        with self._writer.begin() as conn:
            return conn.execute(tasks.delete().where(tasks.c.run_id == run_id)).rowcount

    def add_task(self, task: TaskRecord) -> None:
        """Add a task; its run, and its parent task if it has one, must exist."""
        self._insert(tasks, task)

    def update_task(self, task_id: str, /, **fields: Any) -> bool:
        """Set some fields of a task; the rules of :meth:`update_run` apply."""
        return self._update(tasks, TaskRecord, task_id, fields)

    def get_task(self, task_id: str) -> TaskRecord | None:
        return self._get(tasks, TaskRecord, task_id)

    def get_tasks(self, task_ids: Sequence[str]) -> list[TaskRecord]:
        """The tasks of these ids that exist, in no particular order (one query for the
        producers and consumers a page links to)."""
        if not task_ids:
            return []
        return self._all(TaskRecord, sa.select(tasks).where(tasks.c.task_id.in_(list(task_ids))))

    def search_tasks(
        self,
        *,
        kinds: Sequence[str] | None = ("executor", "importer"),
        state: str | None = None,
        name_contains: str | None = None,
        run_id: str | None = None,
        run_contains: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[TaskRecord]:
        """One page of the tasks of every run, newest first (the UI's executions list).

        Args:
            kinds: Only tasks of these kinds; by default those that execute something,
                not the DAGs, loops and iterations around them. ``None``: every kind.
            state: Only tasks in this state; ``CACHED`` means the tasks answered from the
                cache (whose state is ``SUCCEEDED``).
            name_contains: Only tasks whose name holds this text, in any case.
            run_id: Only the tasks of this run.
            run_contains: Only those of runs whose id, name or pipeline name holds this
                text, in any case.
            limit: At most this many.
            offset: Skip this many first.

        Raises:
            ValueError: ``limit`` or ``offset`` is negative.
        """
        where = _task_where(kinds, state, name_contains, run_id, run_contains)
        return self._page(tasks, TaskRecord, where, "created_at", True, limit, offset)

    def count_tasks(
        self,
        *,
        kinds: Sequence[str] | None = ("executor", "importer"),
        state: str | None = None,
        name_contains: str | None = None,
        run_id: str | None = None,
        run_contains: str | None = None,
    ) -> int:
        """How many tasks :meth:`search_tasks` pages through with the same filters."""
        return self._count(tasks, _task_where(kinds, state, name_contains, run_id, run_contains))

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
        self,
        *,
        run_id: str | None = None,
        producer_task_id: str | None = None,
        run_ids: Sequence[str] | None = None,
        schema_title: str | None = None,
        artifact_ids: Sequence[str] | None = None,
        producer_task_ids: Sequence[str] | None = None,
    ) -> list[ArtifactRecord]:
        """Artifacts, filtered by the fields given, in the order they were made.

        ``run_ids``, ``artifact_ids`` and ``producer_task_ids`` keep those matching any of
        the ids (one query for a page of runs or tasks, instead of one per row).
        """
        query = sa.select(artifacts).order_by(
            artifacts.c.created_at.asc().nulls_last(),
            artifacts.c.output_name,
            artifacts.c.artifact_id,
        )
        if run_id is not None:
            query = query.where(artifacts.c.run_id == run_id)
        if run_ids is not None:
            query = query.where(artifacts.c.run_id.in_(list(run_ids)))
        if artifact_ids is not None:
            query = query.where(artifacts.c.artifact_id.in_(list(artifact_ids)))
        if producer_task_id is not None:
            query = query.where(artifacts.c.producer_task_id == producer_task_id)
        if producer_task_ids is not None:
            query = query.where(artifacts.c.producer_task_id.in_(list(producer_task_ids)))
        if schema_title is not None:
            query = query.where(artifacts.c.schema_title == schema_title)
        return self._all(ArtifactRecord, query)

    def search_artifacts(
        self,
        *,
        schema_title: str | None = None,
        name_contains: str | None = None,
        run_id: str | None = None,
        run_contains: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[ArtifactRecord]:
        """One page of the artifacts of every run, newest first (the UI's artifacts list).

        Args:
            schema_title: Only artifacts of this type, e.g. ``system.Model``.
            name_contains: Only those whose name or output name holds this text, in any
                case.
            run_id: Only those of this run.
            run_contains: Only those of runs whose id, name or pipeline name holds this
                text, in any case.
            limit: At most this many.
            offset: Skip this many first.

        Raises:
            ValueError: ``limit`` or ``offset`` is negative.
        """
        where = _artifact_where(schema_title, name_contains, run_id, run_contains)
        return self._page(artifacts, ArtifactRecord, where, "created_at", True, limit, offset)

    def count_artifacts(
        self,
        *,
        schema_title: str | None = None,
        name_contains: str | None = None,
        run_id: str | None = None,
        run_contains: str | None = None,
    ) -> int:
        """How many artifacts :meth:`search_artifacts` pages through with the same filters."""
        where = _artifact_where(schema_title, name_contains, run_id, run_contains)
        return self._count(artifacts, where)

    def artifact_types(self) -> list[str]:
        """Every artifact type (``schema_title``) recorded, sorted: the choices of a filter."""
        query = sa.select(artifacts.c.schema_title).distinct().order_by(artifacts.c.schema_title)
        with self._engine.connect() as conn:
            return [row.schema_title for row in conn.execute(query)]

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

    def readers(
        self,
        artifact_id: str,
        *,
        kinds: Sequence[str] | None = ("executor", "importer"),
        limit: int | None = None,
    ) -> list[tuple[TaskRecord, str]]:
        """The tasks that read an artifact, each with the input it read it as, in the order
        the tasks were made: its lineage downstream.

        Args:
            kinds: Only tasks of these kinds; by default those that execute something,
                not the DAGs and loop iterations that pass the artifact on to them.
                ``None``: every kind.
            limit: At most this many (task, input) pairs.
        """
        query = (
            sa.select(tasks, artifact_consumers.c.input_name)
            .join(artifact_consumers, artifact_consumers.c.task_id == tasks.c.task_id)
            .where(artifact_consumers.c.artifact_id == artifact_id)
            .order_by(
                tasks.c.created_at.asc().nulls_last(),
                tasks.c.task_id,
                artifact_consumers.c.input_name,
            )
        )
        if kinds is not None:
            query = query.where(tasks.c.kind.in_(list(kinds)))
        if limit is not None:
            query = query.limit(limit)
        names = [column.name for column in tasks.columns]
        with self._engine.connect() as conn:
            return [
                (TaskRecord(**{name: row._mapping[name] for name in names}), row.input_name)
                for row in conn.execute(query)
            ]

    def count_readers(
        self, artifact_id: str, *, kinds: Sequence[str] | None = ("executor", "importer")
    ) -> int:
        """How many tasks :meth:`readers` finds (a task reading it twice counts once)."""
        query = (
            sa.select(sa.func.count(sa.distinct(artifact_consumers.c.task_id)))
            .select_from(artifact_consumers)
            .join(tasks, artifact_consumers.c.task_id == tasks.c.task_id)
            .where(artifact_consumers.c.artifact_id == artifact_id)
        )
        if kinds is not None:
            query = query.where(tasks.c.kind.in_(list(kinds)))
        with self._engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def inputs_of(self, task_id: str) -> list[tuple[str, str]]:
        """The ``(artifact_id, input_name)`` pairs a task read: lineage the other way."""
        query = (
            sa.select(artifact_consumers.c.artifact_id, artifact_consumers.c.input_name)
            .where(artifact_consumers.c.task_id == task_id)
            .order_by(artifact_consumers.c.input_name, artifact_consumers.c.artifact_id)
        )
        with self._engine.connect() as conn:
            return [(row.artifact_id, row.input_name) for row in conn.execute(query)]

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

    # pipelines

    def add_pipeline(self, pipeline: PipelineRecord) -> None:
        """Add a pipeline.

        Raises:
            DuplicateError: Its id, or its name in its namespace, is taken.
        """
        self._add(pipelines, pipeline)

    def get_pipeline(self, pipeline_id: str) -> PipelineRecord | None:
        return self._get(pipelines, PipelineRecord, pipeline_id)

    def get_pipeline_by_name(self, name: str, namespace: str = "") -> PipelineRecord | None:
        query = sa.select(pipelines).where(
            pipelines.c.namespace == namespace, pipelines.c.name == name
        )
        found = self._all(PipelineRecord, query)
        return found[0] if found else None

    def update_pipeline(self, pipeline_id: str, /, **fields: Any) -> bool:
        """Set some fields of a pipeline; the rules of :meth:`update_run` apply.

        Raises:
            DuplicateError: The new name is taken in the pipeline's namespace.
        """
        return self._update(pipelines, PipelineRecord, pipeline_id, fields)

    def delete_pipeline(self, pipeline_id: str) -> bool:
        """Delete a pipeline with its versions; return whether it existed.

        Runs and recurring runs of it stay, with its ids, as in KFP.
        """
        return self._delete(pipelines, pipeline_id)

    def list_pipelines(
        self,
        *,
        name_contains: str | None = None,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        filters: Sequence[_Filter] | None = None,
    ) -> list[PipelineRecord]:
        """One page of pipelines, paged and filtered as :meth:`list_runs` pages runs.

        Args:
            name_contains: Only pipelines whose name has this substring (case-sensitive),
                the same as the filter ``("name", "IS_SUBSTRING", name_contains)``.
        """
        where = _pipeline_where(name_contains, filters)
        return self._page(pipelines, PipelineRecord, where, order_by, descending, limit, offset)

    def count_pipelines(
        self, *, name_contains: str | None = None, filters: Sequence[_Filter] | None = None
    ) -> int:
        return self._count(pipelines, _pipeline_where(name_contains, filters))

    # pipeline versions

    def add_pipeline_version(self, version: PipelineVersionRecord) -> None:
        """Add a version of an existing pipeline.

        Raises:
            DuplicateError: Its id, or its name in its pipeline, is taken.
            ValueError: Its pipeline does not exist.
        """
        self._add(pipeline_versions, version)

    def get_pipeline_version(self, pipeline_version_id: str) -> PipelineVersionRecord | None:
        return self._get(pipeline_versions, PipelineVersionRecord, pipeline_version_id)

    def delete_pipeline_version(self, pipeline_version_id: str) -> bool:
        return self._delete(pipeline_versions, pipeline_version_id)

    def list_pipeline_versions(
        self,
        pipeline_id: str,
        *,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        filters: Sequence[_Filter] | None = None,
    ) -> list[PipelineVersionRecord]:
        """One page of a pipeline's versions, paged and filtered as :meth:`list_runs` pages
        runs (``spec`` is JSON: no sorting or filtering by it)."""
        where = _where(pipeline_versions, filters, pipeline_id=pipeline_id)
        return self._page(
            pipeline_versions, PipelineVersionRecord, where, order_by, descending, limit, offset
        )

    def count_pipeline_versions(
        self, pipeline_id: str, *, filters: Sequence[_Filter] | None = None
    ) -> int:
        return self._count(
            pipeline_versions, _where(pipeline_versions, filters, pipeline_id=pipeline_id)
        )

    def latest_pipeline_version(self, pipeline_id: str) -> PipelineVersionRecord | None:
        """The pipeline's newest version (by creation time, then id), or ``None``."""
        found = self.list_pipeline_versions(pipeline_id, limit=1)
        return found[0] if found else None

    # experiments

    def add_experiment(self, experiment: ExperimentRecord) -> None:
        """Add an experiment.

        Raises:
            DuplicateError: Its id, or its name in its namespace, is taken.
        """
        self._add(experiments, experiment)

    def get_experiment(self, experiment_id: str) -> ExperimentRecord | None:
        return self._get(experiments, ExperimentRecord, experiment_id)

    def get_experiment_by_name(self, name: str, namespace: str = "") -> ExperimentRecord | None:
        query = sa.select(experiments).where(
            experiments.c.namespace == namespace, experiments.c.name == name
        )
        found = self._all(ExperimentRecord, query)
        return found[0] if found else None

    def update_experiment(self, experiment_id: str, /, **fields: Any) -> bool:
        """Set some fields of an experiment; the rules of :meth:`update_pipeline` apply."""
        return self._update(experiments, ExperimentRecord, experiment_id, fields)

    def delete_experiment(self, experiment_id: str) -> bool:
        """Delete an experiment alone; return whether it existed.

        As in KFP, its runs and recurring runs stay, with its id.
        """
        return self._delete(experiments, experiment_id)

    def list_experiments(
        self,
        *,
        storage_state: str | None = None,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        filters: Sequence[_Filter] | None = None,
    ) -> list[ExperimentRecord]:
        """One page of experiments, paged and filtered as :meth:`list_runs` pages runs."""
        where = _where(experiments, filters, storage_state=storage_state)
        return self._page(experiments, ExperimentRecord, where, order_by, descending, limit, offset)

    def count_experiments(
        self, *, storage_state: str | None = None, filters: Sequence[_Filter] | None = None
    ) -> int:
        return self._count(experiments, _where(experiments, filters, storage_state=storage_state))

    def ensure_default_experiment(self) -> ExperimentRecord:
        """The experiment ``Default`` of namespace ``""``, created on the first call.

        Safe to call from several threads and processes at once: the unique name lets one
        of them add it, and the others read what that one added.
        """
        existing = self.get_experiment_by_name(_DEFAULT_EXPERIMENT)
        if existing is not None:
            return existing
        default = ExperimentRecord(
            experiment_id=str(uuid.uuid4()),
            name=_DEFAULT_EXPERIMENT,
            created_at=datetime.now(timezone.utc),
            display_name=_DEFAULT_EXPERIMENT,
            description=DEFAULT_EXPERIMENT_DESCRIPTION,
        )
        try:
            self.add_experiment(default)
        except DuplicateError:
            # Another thread or process added it since we looked.
            existing = self.get_experiment_by_name(_DEFAULT_EXPERIMENT)
            if existing is None:  # and someone deleted it again at once
                raise
            return existing
        return default

    # recurring runs

    def add_recurring_run(self, recurring_run: RecurringRunRecord) -> None:
        """Add a recurring run.

        Raises:
            DuplicateError: Its id is taken.
        """
        self._add(recurring_runs, recurring_run)

    def get_recurring_run(self, recurring_run_id: str) -> RecurringRunRecord | None:
        return self._get(recurring_runs, RecurringRunRecord, recurring_run_id)

    def update_recurring_run(self, recurring_run_id: str, /, **fields: Any) -> bool:
        """Set some fields of a recurring run; the rules of :meth:`update_run` apply.

        ``updated_at`` changes only when given, so the scheduler can move ``next_fire_at``
        without it.
        """
        return self._update(recurring_runs, RecurringRunRecord, recurring_run_id, fields)

    def delete_recurring_run(self, recurring_run_id: str) -> bool:
        """Delete a recurring run; the runs it started stay, with its id."""
        return self._delete(recurring_runs, recurring_run_id)

    def list_recurring_runs(
        self,
        *,
        experiment_id: str | None = None,
        enabled: bool | None = None,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        filters: Sequence[_Filter] | None = None,
    ) -> list[RecurringRunRecord]:
        """One page of recurring runs, paged and filtered as :meth:`list_runs` pages runs."""
        where = _where(recurring_runs, filters, experiment_id=experiment_id, enabled=enabled)
        return self._page(
            recurring_runs, RecurringRunRecord, where, order_by, descending, limit, offset
        )

    def count_recurring_runs(
        self,
        *,
        experiment_id: str | None = None,
        enabled: bool | None = None,
        filters: Sequence[_Filter] | None = None,
    ) -> int:
        where = _where(recurring_runs, filters, experiment_id=experiment_id, enabled=enabled)
        return self._count(recurring_runs, where)

    def due_recurring_runs(self, now: datetime) -> list[RecurringRunRecord]:
        """The enabled recurring runs whose ``next_fire_at`` has come (is at or before
        ``now``) and is not past their ``end_time``, earliest first.

        Raises:
            ValueError: ``now`` is a naive datetime.
        """
        _check_aware({"now": now})
        table = recurring_runs.c
        query = (
            sa.select(recurring_runs)
            .where(
                table.enabled.is_(True),
                table.next_fire_at <= now,
                sa.or_(table.end_time.is_(None), table.next_fire_at <= table.end_time),
            )
            .order_by(table.next_fire_at, table.created_at, table.recurring_run_id)
        )
        return self._all(RecurringRunRecord, query)

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

    def _add(self, table: sa.Table, record: Any) -> None:
        """Insert a record, saying which constraint it breaks if it breaks one."""
        values = _values(record)
        try:
            with self._writer.begin() as conn:
                conn.execute(table.insert().values(values))
        except sa.exc.IntegrityError as exc:
            self._explain(exc, table, type(record), values)
            raise

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
        try:
            with self._writer.begin() as conn:
                update = table.update().where(key_column == key).values(values)
                return conn.execute(update).rowcount > 0
        except sa.exc.IntegrityError as exc:
            current = self._get(table, record_type, key)
            if current is not None:
                self._explain(exc, table, record_type, {**_values(current), **values}, key=key)
            raise

    def _explain(
        self,
        exc: sa.exc.IntegrityError,
        table: sa.Table,
        record_type: type,
        row: dict[str, Any],
        *,
        key: str | None = None,
    ) -> None:
        """Turn ``exc``, met writing ``row`` to ``table``, into a DuplicateError or a
        ValueError that names the offending values, if a look at the table shows the cause;
        else return, and the caller re-raises ``exc``. ``key`` is the primary key of an
        updated row, which is no duplicate of itself.

        Looking is simpler than parsing each database's message, and finds a concurrent
        writer that took the name first just the same.
        """
        noun = _noun(record_type)
        (key_column,) = table.primary_key.columns
        unique = [
            table.primary_key,
            *(c for c in table.constraints if isinstance(c, sa.UniqueConstraint)),
        ]
        with self._engine.connect() as conn:
            for constraint in unique:
                columns = list(constraint.columns)
                match = [column == row[column.name] for column in columns]
                if key is not None:
                    match.append(key_column != key)
                if conn.execute(sa.select(key_column).where(*match).limit(1)).first():
                    taken = " and ".join(f"{c.name}={row[c.name]!r}" for c in columns)
                    article = "an" if noun[0] in "aeiou" else "a"
                    raise DuplicateError(
                        f"{article} {noun} with {taken} already exists; "
                        f"choose another {columns[-1].name}"
                    ) from exc
            for foreign_key in table.foreign_keys:
                value = row[foreign_key.parent.name]
                target = foreign_key.column
                query = sa.select(target).where(target == value)
                if value is not None and conn.execute(query).first() is None:
                    raise ValueError(
                        f"{foreign_key.parent.name}={value!r} names no {_noun(target.table)}; "
                        f"add that {_noun(target.table)} before the {noun}"
                    ) from exc

    def _delete(self, table: sa.Table, key: str) -> bool:
        (key_column,) = table.primary_key.columns
        with self._writer.begin() as conn:
            return conn.execute(table.delete().where(key_column == key)).rowcount > 0

    def _page(
        self,
        table: sa.Table,
        record_type: type[_Record],
        where: list[sa.ColumnElement[bool]],
        order_by: str,
        descending: bool,
        limit: int,
        offset: int,
    ) -> list[_Record]:
        columns = _columns(table)
        if order_by not in columns:
            raise ValueError(
                f"cannot order {table.name.replace('_', ' ')} by {order_by!r}; "
                f"expected one of {', '.join(sorted(columns))}"
            )
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must be >= 0, got {limit} and {offset}")
        (key_column,) = table.primary_key.columns
        keys = [
            columns[order_by],
            *(c for c in (table.c.created_at, key_column) if c.name != order_by),
        ]
        query = (
            sa.select(table)
            .where(*where)
            .order_by(*((k.desc() if descending else k.asc()).nulls_last() for k in keys))
            .limit(limit)
            .offset(offset)
        )
        return self._all(record_type, query)

    def _count(self, table: sa.Table, where: list[sa.ColumnElement[bool]]) -> int:
        query = sa.select(sa.func.count()).select_from(table).where(*where)
        with self._engine.connect() as conn:
            return conn.execute(query).scalar_one()

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


def _noun(thing: type | sa.Table) -> str:
    """``PipelineVersionRecord`` or table ``pipeline_versions`` -> "pipeline version"."""
    if isinstance(thing, sa.Table):
        return thing.name.replace("_", " ").removesuffix("s")
    return re.sub(r"(?<!^)(?=[A-Z])", " ", thing.__name__.removesuffix("Record")).lower()


def _columns(table: sa.Table) -> dict[str, sa.Column[Any]]:
    """The columns one may sort and filter by: all but JSON, which databases cannot compare."""
    return {c.name: c for c in table.columns if not isinstance(c.type, sa.JSON)}


def _where(
    table: sa.Table, filters: Sequence[_Filter] | None, **equals: Any
) -> list[sa.ColumnElement[bool]]:
    """The conditions of ``filters`` and of ``equals`` (field=value, ``None`` meaning any)."""
    conditions = [table.c[name] == value for name, value in equals.items() if value is not None]
    for item in filters or ():
        try:
            name, op, value = item
        except (TypeError, ValueError):
            raise ValueError(f"a filter is a (field, op, value) tuple, got {item!r}") from None
        conditions.append(_condition(table, name, op, value))
    return conditions


def _condition(table: sa.Table, name: str, op: str, value: Any) -> sa.ColumnElement[bool]:
    columns = _columns(table)
    if name not in columns:
        raise ValueError(
            f"cannot filter {table.name.replace('_', ' ')} by {name!r}; "
            f"expected one of {', '.join(sorted(columns))}"
        )
    column = columns[name]
    if op not in _FILTER_OPS:
        raise ValueError(
            f"unknown filter op {op!r} on {name!r}; expected one of {', '.join(_FILTER_OPS)}"
        )
    many = isinstance(value, (list, tuple, set, frozenset))
    if op == "IN":
        if not many:
            raise ValueError(f"filter {name} IN needs a list of values, got {value!r}")
        for item in value:
            _check_aware({name: item})
        given = [item for item in value if item is not None]
        if len(given) < len(value):
            return sa.or_(column.in_(given), column.is_(None))
        return column.in_(given)
    if many:
        raise ValueError(f"filter {name} {op} needs one value, got {value!r}; only IN takes a list")
    _check_aware({name: value})
    if op == "EQUALS":
        return column.is_(None) if value is None else column == value
    if op == "NOT_EQUALS":
        # Rows where the field is NULL differ from any value, so they stay.
        return column.is_not(None) if value is None else column.is_distinct_from(value)
    if value is None:
        raise ValueError(f"filter {name} {op} needs a value, got None")
    if op == "IS_SUBSTRING":
        if not isinstance(column.type, sa.String):
            raise ValueError(f"filter {name} IS_SUBSTRING needs a text field; {name} is not one")
        if not isinstance(value, str):
            raise ValueError(f"filter {name} IS_SUBSTRING needs a string, got {value!r}")
        return _position(column, value) > 0
    return _COMPARISONS[op](column, value)


def _contains(column: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    """``column`` holds ``text``, in any case (ASCII case on SQLite)."""
    return _position(sa.func.lower(column), text.lower()) > 0


def _runs_matching(text: str) -> sa.Select[Any]:
    """The ids of the runs whose id, name or pipeline name holds ``text``."""
    return sa.select(runs.c.run_id).where(
        sa.or_(
            _contains(runs.c.run_id, text),
            _contains(runs.c.display_name, text),
            _contains(runs.c.pipeline_name, text),
        )
    )


def _artifact_where(
    schema_title: str | None,
    name_contains: str | None,
    run_id: str | None,
    run_contains: str | None,
) -> list[sa.ColumnElement[bool]]:
    where = _where(artifacts, None, schema_title=schema_title, run_id=run_id)
    if name_contains:
        where.append(
            sa.or_(
                _contains(artifacts.c.name, name_contains),
                _contains(artifacts.c.output_name, name_contains),
            )
        )
    if run_contains:
        where.append(artifacts.c.run_id.in_(_runs_matching(run_contains)))
    return where


def _task_where(
    kinds: Sequence[str] | None,
    state: str | None,
    name_contains: str | None,
    run_id: str | None,
    run_contains: str | None,
) -> list[sa.ColumnElement[bool]]:
    where = _where(tasks, None, run_id=run_id)
    if kinds is not None:
        where.append(tasks.c.kind.in_(list(kinds)))
    if state == "CACHED":
        # CACHED is how older kubelines spelled a cache hit's state.
        where.append(sa.or_(tasks.c.cache_hit.is_(True), tasks.c.state == "CACHED"))
    elif state:
        where.append(tasks.c.state == state)
    if name_contains:
        where.append(
            sa.or_(
                _contains(tasks.c.name, name_contains),
                _contains(tasks.c.display_name, name_contains),
            )
        )
    if run_contains:
        where.append(tasks.c.run_id.in_(_runs_matching(run_contains)))
    return where


def _pipeline_where(
    name_contains: str | None, filters: Sequence[_Filter] | None
) -> list[sa.ColumnElement[bool]]:
    contains = [] if name_contains is None else [("name", "IS_SUBSTRING", name_contains)]
    return _where(pipelines, [*contains, *(filters or ())])


class _position(FunctionElement[int]):
    """``_position(text, part)``: where ``part`` first starts in ``text``, from 1, or 0.

    A substring test without LIKE, which SQLite matches case-insensitively and in which
    ``%`` and ``_`` are wildcards.
    """

    type = sa.Integer()
    inherit_cache = True


@compiles(_position)
def _position_sql(element: _position, compiler: SQLCompiler, **kw: Any) -> str:
    text, part = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"POSITION({part} IN {text})"


@compiles(_position, "sqlite")
def _position_sqlite(element: _position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


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
