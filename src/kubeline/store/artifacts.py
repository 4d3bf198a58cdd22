"""The artifacts section of the store: what tasks produced, and which tasks read it (the
lineage the UI walks both ways)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import sqlalchemy as sa

from kubeline.store.database import Database, upsert
from kubeline.store.filters import contains, runs_matching, where
from kubeline.store.records import ArtifactRecord, TaskRecord
from kubeline.store.schema import artifact_consumers, artifacts, tasks
from kubeline.store.tasks import EXECUTING

__all__ = ["Artifacts"]


class Artifacts:
    """Artifacts and their consumers (``store.artifacts``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, artifact: ArtifactRecord) -> None:
        self._db.insert(artifacts, artifact)

    def get(self, artifact_id: str) -> ArtifactRecord | None:
        return self._db.get(artifacts, ArtifactRecord, artifact_id)

    def list(
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
        return self._db.all(ArtifactRecord, query)

    def search(
        self,
        *,
        schema_title: str | None = None,
        name_contains: str | None = None,
        run_id: str | None = None,
        run_contains: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[ArtifactRecord]:
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
        conditions = _artifact_where(schema_title, name_contains, run_id, run_contains)
        return self._db.page(
            artifacts, ArtifactRecord, conditions, "created_at", True, limit, offset
        )

    def count(
        self,
        *,
        schema_title: str | None = None,
        name_contains: str | None = None,
        run_id: str | None = None,
        run_contains: str | None = None,
    ) -> int:
        """How many artifacts :meth:`search` pages through with the same filters."""
        conditions = _artifact_where(schema_title, name_contains, run_id, run_contains)
        return self._db.count(artifacts, conditions)

    def types(self) -> builtins.list[str]:
        """Every artifact type (``schema_title``) recorded, sorted: the choices of a filter."""
        query = sa.select(artifacts.c.schema_title).distinct().order_by(artifacts.c.schema_title)
        with self._db.read() as conn:
            return [row.schema_title for row in conn.execute(query)]

    def add_consumer(self, artifact_id: str, task_id: str, input_name: str) -> None:
        """Record that a task reads an artifact as one of its inputs.

        Recording the same fact twice (a retried task) is not an error.
        """
        values = {"artifact_id": artifact_id, "task_id": task_id, "input_name": input_name}
        with self._db.write() as conn:
            upsert(conn, artifact_consumers, values, replace=False)

    def consumers(self, artifact_id: str) -> builtins.list[tuple[str, str]]:
        """The ``(task_id, input_name)`` pairs that read an artifact."""
        query = (
            sa.select(artifact_consumers.c.task_id, artifact_consumers.c.input_name)
            .where(artifact_consumers.c.artifact_id == artifact_id)
            .order_by(artifact_consumers.c.task_id, artifact_consumers.c.input_name)
        )
        with self._db.read() as conn:
            return [(row.task_id, row.input_name) for row in conn.execute(query)]

    def readers(
        self,
        artifact_id: str,
        *,
        kinds: Sequence[str] | None = EXECUTING,
        limit: int | None = None,
    ) -> builtins.list[tuple[TaskRecord, str]]:
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
        with self._db.read() as conn:
            return [
                (TaskRecord(**{name: row._mapping[name] for name in names}), row.input_name)
                for row in conn.execute(query)
            ]

    def count_readers(self, artifact_id: str, *, kinds: Sequence[str] | None = EXECUTING) -> int:
        """How many tasks :meth:`readers` finds (a task reading it twice counts once)."""
        query = (
            sa.select(sa.func.count(sa.distinct(artifact_consumers.c.task_id)))
            .select_from(artifact_consumers)
            .join(tasks, artifact_consumers.c.task_id == tasks.c.task_id)
            .where(artifact_consumers.c.artifact_id == artifact_id)
        )
        if kinds is not None:
            query = query.where(tasks.c.kind.in_(list(kinds)))
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def inputs_of(self, task_id: str) -> builtins.list[tuple[str, str]]:
        """The ``(artifact_id, input_name)`` pairs a task read: lineage the other way."""
        query = (
            sa.select(artifact_consumers.c.artifact_id, artifact_consumers.c.input_name)
            .where(artifact_consumers.c.task_id == task_id)
            .order_by(artifact_consumers.c.input_name, artifact_consumers.c.artifact_id)
        )
        with self._db.read() as conn:
            return [(row.artifact_id, row.input_name) for row in conn.execute(query)]


def _artifact_where(
    schema_title: str | None,
    name_contains: str | None,
    run_id: str | None,
    run_contains: str | None,
) -> list[sa.ColumnElement[bool]]:
    conditions = where(artifacts, None, schema_title=schema_title, run_id=run_id)
    if name_contains:
        conditions.append(
            sa.or_(
                contains(artifacts.c.name, name_contains),
                contains(artifacts.c.output_name, name_contains),
            )
        )
    if run_contains:
        conditions.append(artifacts.c.run_id.in_(runs_matching(run_contains)))
    return conditions
