"""The runs section of the store: pipeline runs, and failing those whose process died."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from kubeline.store.database import Database
from kubeline.store.filters import Filter, where
from kubeline.store.records import RunRecord
from kubeline.store.schema import runs, tasks

__all__ = ["Runs"]

_ACTIVE_RUN_STATES = ("RUNNING", "PENDING", "CANCELING")
_ACTIVE_TASK_STATES = ("RUNNING", "PENDING")


class Runs:
    """Pipeline runs (``store.runs``); deleting one deletes its tasks and artifacts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, run: RunRecord) -> None:
        self._db.insert(runs, run)

    def update(self, run_id: str, /, **fields: Any) -> bool:
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
        return self._db.update(runs, RunRecord, run_id, fields)

    def get(self, run_id: str) -> RunRecord | None:
        return self._db.get(runs, RunRecord, run_id)

    def list(
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
        filters: Sequence[Filter] | None = None,
    ) -> list[RunRecord]:
        """One page of runs, filtered by the fields given (``None`` means any).

        Args:
            state: Only runs in this state; likewise ``pipeline_name``, ``experiment_id``
                and ``storage_state``.
            order_by: The column to sort by: any but the JSON ones (``spec``,
                ``arguments``, ``outputs``, ``events``). Runs without a value in it come
                last in both directions, the same on every database; ties are broken by
                creation time, then id, so pages never overlap.
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
        conditions = where(
            runs,
            filters,
            state=state,
            pipeline_name=pipeline_name,
            experiment_id=experiment_id,
            storage_state=storage_state,
        )
        return self._db.page(runs, RunRecord, conditions, order_by, descending, limit, offset)

    def count(
        self,
        *,
        state: str | None = None,
        pipeline_name: str | None = None,
        experiment_id: str | None = None,
        storage_state: str | None = None,
        filters: Sequence[Filter] | None = None,
    ) -> int:
        """How many runs :meth:`list` would page through with the same filters."""
        conditions = where(
            runs,
            filters,
            state=state,
            pipeline_name=pipeline_name,
            experiment_id=experiment_id,
            storage_state=storage_state,
        )
        return self._db.count(runs, conditions)

    def pipeline_names(self, *, storage_state: str | None = None) -> builtins.list[str]:
        """The pipeline names runs carry, sorted: the choices of the runs list's filter,
        which must reach runs of ``kubeline run`` (no pipeline record) too."""
        query = sa.select(runs.c.pipeline_name).distinct().order_by(runs.c.pipeline_name)
        if storage_state is not None:
            query = query.where(runs.c.storage_state == storage_state)
        with self._db.read() as conn:
            return [row.pipeline_name for row in conn.execute(query)]

    def delete(self, run_id: str) -> bool:
        """Delete a run with its tasks, artifacts and consumers; return whether it existed.

        The files under ``run.root`` are the caller's to remove.
        """
        return self._db.delete(runs, run_id)

    def find(self, prefix: str) -> builtins.list[RunRecord]:
        """Runs whose id starts with ``prefix``, newest first: the CLI's short ids."""
        query = (
            sa.select(runs)
            .where(runs.c.run_id.startswith(prefix, autoescape=True))
            .order_by(runs.c.created_at.desc(), runs.c.run_id)
        )
        return self._db.all(RunRecord, query)

    def fail_orphaned(
        self, is_alive: Callable[[RunRecord], bool], reason: str
    ) -> builtins.list[str]:
        """Fail the unfinished runs whose process is gone, with their unfinished tasks.

        A run whose process crashed stays RUNNING forever unless someone notices; the CLI
        and the server call this at start-up.

        Args:
            is_alive: Whether the process behind a run still lives, e.g.
                :func:`~kubeline.store.processes.process_alive`. Called outside any
                transaction, so it may be slow.
            reason: The error message the failed runs and tasks get.

        Returns:
            The ids of the runs that were failed.
        """
        active = sa.select(runs).where(runs.c.state.in_(_ACTIVE_RUN_STATES))
        dead = [run.run_id for run in self._db.all(RunRecord, active) if not is_alive(run)]
        failed = {"state": "FAILED", "error": reason, "finished_at": datetime.now(timezone.utc)}
        changed = []
        with self._db.write() as conn:
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
