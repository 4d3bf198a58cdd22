"""The experiments of the KFP API: groups of runs, with ``Default`` for runs named in none."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from kubeline.errors import AlreadyExistsError
from kubeline.store.database import Database
from kubeline.store.filters import Filter, where
from kubeline.store.migrations import DEFAULT_EXPERIMENT, DEFAULT_EXPERIMENT_DESCRIPTION
from kubeline.store.records import ExperimentRecord
from kubeline.store.schema import experiments

__all__ = ["Experiments"]


class Experiments:
    """Experiments (``store.experiments``), unique by name in their namespace. Deleting one
    leaves its runs and recurring runs, with its id, as in KFP."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, experiment: ExperimentRecord) -> None:
        """Add an experiment.

        Raises:
            AlreadyExistsError: Its id, or its name in its namespace, is taken.
        """
        self._db.add(experiments, experiment)

    def get(self, experiment_id: str) -> ExperimentRecord | None:
        return self._db.get(experiments, ExperimentRecord, experiment_id)

    def get_by_name(self, name: str, namespace: str = "") -> ExperimentRecord | None:
        query = sa.select(experiments).where(
            experiments.c.namespace == namespace, experiments.c.name == name
        )
        found = self._db.all(ExperimentRecord, query)
        return found[0] if found else None

    def update(self, experiment_id: str, /, **fields: Any) -> bool:
        """Set some fields of an experiment; the rules of :meth:`Pipelines.update` apply."""
        return self._db.update(experiments, ExperimentRecord, experiment_id, fields)

    def delete(self, experiment_id: str) -> bool:
        """Delete an experiment alone; return whether it existed."""
        return self._db.delete(experiments, experiment_id)

    def ensure_default(self) -> ExperimentRecord:
        """The experiment ``Default`` of namespace ``""``, created on the first call.

        Safe to call from several threads and processes at once: the unique name lets one
        of them add it, and the others read what that one added.
        """
        existing = self.get_by_name(DEFAULT_EXPERIMENT)
        if existing is not None:
            return existing
        default = ExperimentRecord(
            experiment_id=str(uuid.uuid4()),
            name=DEFAULT_EXPERIMENT,
            created_at=datetime.now(timezone.utc),
            display_name=DEFAULT_EXPERIMENT,
            description=DEFAULT_EXPERIMENT_DESCRIPTION,
        )
        try:
            self.add(default)
        except AlreadyExistsError:
            # Another thread or process added it since we looked.
            existing = self.get_by_name(DEFAULT_EXPERIMENT)
            if existing is None:  # and someone deleted it again at once
                raise
            return existing
        return default

    def count(
        self, *, storage_state: str | None = None, filters: Sequence[Filter] | None = None
    ) -> int:
        conditions = where(experiments, filters, storage_state=storage_state)
        return self._db.count(experiments, conditions)

    def list(
        self,
        *,
        storage_state: str | None = None,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        filters: Sequence[Filter] | None = None,
    ) -> list[ExperimentRecord]:
        """One page of experiments, paged and filtered as :meth:`Runs.list` pages runs."""
        conditions = where(experiments, filters, storage_state=storage_state)
        return self._db.page(
            experiments, ExperimentRecord, conditions, order_by, descending, limit, offset
        )
