"""The recurring runs of the KFP API: schedules (cron or every N seconds) that start runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kubeline.store.database import Database
from kubeline.store.filters import Filter, check_aware, where
from kubeline.store.records import RecurringRunRecord
from kubeline.store.schema import recurring_runs

__all__ = ["RecurringRuns"]


class RecurringRuns:
    """Recurring runs (``store.recurring_runs``); deleting one leaves the runs it started."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, recurring_run: RecurringRunRecord) -> None:
        """Add a recurring run.

        Raises:
            AlreadyExistsError: Its id is taken.
        """
        self._db.add(recurring_runs, recurring_run)

    def get(self, recurring_run_id: str) -> RecurringRunRecord | None:
        return self._db.get(recurring_runs, RecurringRunRecord, recurring_run_id)

    def update(self, recurring_run_id: str, /, **fields: Any) -> bool:
        """Set some fields of a recurring run; the rules of :meth:`Runs.update` apply.

        ``updated_at`` changes only when given, so the scheduler can move ``next_fire_at``
        without it.
        """
        return self._db.update(recurring_runs, RecurringRunRecord, recurring_run_id, fields)

    def claim(self, recurring_run_id: str, due_at: datetime, /, **fields: Any) -> bool:
        """Set ``fields`` only if the recurring run is still due at ``due_at``; whether it
        was. Two servers on one database both see a schedule due: only the one whose claim
        moves ``next_fire_at`` on fires it.

        Raises:
            ValueError: as :meth:`update`, or ``due_at`` is naive.
        """
        check_aware({"due_at": due_at, **fields})
        allowed = {f.name for f in dataclasses.fields(RecurringRunRecord)}
        unknown = sorted(set(fields) - allowed - {"recurring_run_id"})
        if unknown or "recurring_run_id" in fields:
            raise ValueError(f"cannot claim with field(s) {', '.join(map(repr, unknown))}")
        table = recurring_runs.c
        claim = (
            recurring_runs.update()
            .where(table.recurring_run_id == recurring_run_id, table.next_fire_at == due_at)
            .values(fields)
        )
        with self._db.write() as conn:
            return bool(conn.execute(claim).rowcount == 1)

    def delete(self, recurring_run_id: str) -> bool:
        return self._db.delete(recurring_runs, recurring_run_id)

    def due(self, now: datetime) -> list[RecurringRunRecord]:
        """The enabled recurring runs whose ``next_fire_at`` has come (is at or before
        ``now``) and is not past their ``end_time``, earliest first.

        Raises:
            ValueError: ``now`` is a naive datetime.
        """
        check_aware({"now": now})
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
        return self._db.all(RecurringRunRecord, query)

    def count(
        self,
        *,
        experiment_id: str | None = None,
        enabled: bool | None = None,
        filters: Sequence[Filter] | None = None,
    ) -> int:
        conditions = where(recurring_runs, filters, experiment_id=experiment_id, enabled=enabled)
        return self._db.count(recurring_runs, conditions)

    def list(
        self,
        *,
        experiment_id: str | None = None,
        enabled: bool | None = None,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        filters: Sequence[Filter] | None = None,
    ) -> list[RecurringRunRecord]:
        """One page of recurring runs, paged and filtered as :meth:`Runs.list` pages runs."""
        conditions = where(recurring_runs, filters, experiment_id=experiment_id, enabled=enabled)
        return self._db.page(
            recurring_runs, RecurringRunRecord, conditions, order_by, descending, limit, offset
        )
