"""The tasks section of the store: the task instances of runs, and the executions list."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from kubeline.store.database import Database
from kubeline.store.filters import contains, runs_matching, where
from kubeline.store.records import TaskRecord
from kubeline.store.schema import tasks

__all__ = ["Tasks"]

# The kinds that execute something, not the DAGs, loops and iterations around them.
EXECUTING = ("executor", "importer")


class Tasks:
    """Task instances (``store.tasks``): executors, importers, DAGs, loops, iterations."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, task: TaskRecord) -> None:
        """Add a task; its run, and its parent task if it has one, must exist."""
        self._db.insert(tasks, task)

    def update(self, task_id: str, /, **fields: Any) -> bool:
        """Set some fields of a task; the rules of :meth:`Runs.update` apply."""
        return self._db.update(tasks, TaskRecord, task_id, fields)

    def get(self, task_id: str) -> TaskRecord | None:
        return self._db.get(tasks, TaskRecord, task_id)

    def get_many(self, task_ids: Sequence[str]) -> list[TaskRecord]:
        """The tasks of these ids that exist, in no particular order (one query for the
        producers and consumers a page links to)."""
        if not task_ids:
            return []
        query = sa.select(tasks).where(tasks.c.task_id.in_(list(task_ids)))
        return self._db.all(TaskRecord, query)

    def list(self, run_id: str) -> list[TaskRecord]:
        """A run's tasks, by creation time (tasks without one last), then path."""
        query = (
            sa.select(tasks)
            .where(tasks.c.run_id == run_id)
            .order_by(tasks.c.created_at.asc().nulls_last(), tasks.c.path)
        )
        return self._db.all(TaskRecord, query)

    def search(
        self,
        *,
        kinds: Sequence[str] | None = EXECUTING,
        state: str | None = None,
        name_contains: str | None = None,
        run_id: str | None = None,
        run_contains: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[TaskRecord]:
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
        conditions = _task_where(kinds, state, name_contains, run_id, run_contains)
        return self._db.page(tasks, TaskRecord, conditions, "created_at", True, limit, offset)

    def count(
        self,
        *,
        kinds: Sequence[str] | None = EXECUTING,
        state: str | None = None,
        name_contains: str | None = None,
        run_id: str | None = None,
        run_contains: str | None = None,
    ) -> int:
        """How many tasks :meth:`search` pages through with the same filters."""
        conditions = _task_where(kinds, state, name_contains, run_id, run_contains)
        return self._db.count(tasks, conditions)

    def delete_of_run(self, run_id: str) -> int:
        """Delete a run's tasks (and their artifacts), for running it again under the same
        id; returns how many tasks there were. Cache entries stay."""
        with self._db.write() as conn:
            return int(conn.execute(tasks.delete().where(tasks.c.run_id == run_id)).rowcount)


def _task_where(
    kinds: Sequence[str] | None,
    state: str | None,
    name_contains: str | None,
    run_id: str | None,
    run_contains: str | None,
) -> list[sa.ColumnElement[bool]]:
    conditions = where(tasks, None, run_id=run_id)
    if kinds is not None:
        conditions.append(tasks.c.kind.in_(list(kinds)))
    if state == "CACHED":
        # CACHED is how older kubelines spelled a cache hit's state.
        conditions.append(sa.or_(tasks.c.cache_hit.is_(True), tasks.c.state == "CACHED"))
    elif state:
        conditions.append(tasks.c.state == state)
    if name_contains:
        conditions.append(
            sa.or_(
                contains(tasks.c.name, name_contains),
                contains(tasks.c.display_name, name_contains),
            )
        )
    if run_contains:
        conditions.append(tasks.c.run_id.in_(runs_matching(run_contains)))
    return conditions
