"""The pipelines of the KFP API, and their versions (each a compiled PipelineSpec)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from kubeline.store.database import Database
from kubeline.store.filters import Filter, where
from kubeline.store.records import PipelineRecord, PipelineVersionRecord
from kubeline.store.schema import pipeline_versions, pipelines

__all__ = ["PipelineVersions", "Pipelines"]


class Pipelines:
    """Pipelines (``store.pipelines``), unique by name in their namespace."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, pipeline: PipelineRecord) -> None:
        """Add a pipeline.

        Raises:
            AlreadyExistsError: Its id, or its name in its namespace, is taken.
        """
        self._db.add(pipelines, pipeline)

    def get(self, pipeline_id: str) -> PipelineRecord | None:
        return self._db.get(pipelines, PipelineRecord, pipeline_id)

    def get_by_name(self, name: str, namespace: str = "") -> PipelineRecord | None:
        query = sa.select(pipelines).where(
            pipelines.c.namespace == namespace, pipelines.c.name == name
        )
        found = self._db.all(PipelineRecord, query)
        return found[0] if found else None

    def update(self, pipeline_id: str, /, **fields: Any) -> bool:
        """Set some fields of a pipeline; the rules of :meth:`Runs.update` apply.

        Raises:
            AlreadyExistsError: The new name is taken in the pipeline's namespace.
        """
        return self._db.update(pipelines, PipelineRecord, pipeline_id, fields)

    def delete(self, pipeline_id: str) -> bool:
        """Delete a pipeline with its versions; return whether it existed.

        Runs and recurring runs of it stay, with its ids, as in KFP.
        """
        return self._db.delete(pipelines, pipeline_id)

    def list(
        self,
        *,
        name_contains: str | None = None,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        filters: Sequence[Filter] | None = None,
    ) -> list[PipelineRecord]:
        """One page of pipelines, paged and filtered as :meth:`Runs.list` pages runs.

        Args:
            name_contains: Only pipelines whose name has this substring (case-sensitive),
                the same as the filter ``("name", "IS_SUBSTRING", name_contains)``.
        """
        conditions = _pipeline_where(name_contains, filters)
        return self._db.page(
            pipelines, PipelineRecord, conditions, order_by, descending, limit, offset
        )

    def count(
        self, *, name_contains: str | None = None, filters: Sequence[Filter] | None = None
    ) -> int:
        return self._db.count(pipelines, _pipeline_where(name_contains, filters))


class PipelineVersions:
    """The versions of pipelines (``store.pipeline_versions``), unique by name in their
    pipeline; deleting a pipeline deletes them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, version: PipelineVersionRecord) -> None:
        """Add a version of an existing pipeline.

        Raises:
            AlreadyExistsError: Its id, or its name in its pipeline, is taken.
            NotFoundError: Its pipeline does not exist.
        """
        self._db.add(pipeline_versions, version)

    def get(self, pipeline_version_id: str) -> PipelineVersionRecord | None:
        return self._db.get(pipeline_versions, PipelineVersionRecord, pipeline_version_id)

    def delete(self, pipeline_version_id: str) -> bool:
        return self._db.delete(pipeline_versions, pipeline_version_id)

    def latest(self, pipeline_id: str) -> PipelineVersionRecord | None:
        """The pipeline's newest version (by creation time, then id), or ``None``."""
        found = self.list(pipeline_id, limit=1)
        return found[0] if found else None

    def count(self, pipeline_id: str, *, filters: Sequence[Filter] | None = None) -> int:
        conditions = where(pipeline_versions, filters, pipeline_id=pipeline_id)
        return self._db.count(pipeline_versions, conditions)

    def list(
        self,
        pipeline_id: str,
        *,
        order_by: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        filters: Sequence[Filter] | None = None,
    ) -> list[PipelineVersionRecord]:
        """One page of a pipeline's versions, paged and filtered as :meth:`Runs.list` pages
        runs (``spec`` is JSON: no sorting or filtering by it)."""
        conditions = where(pipeline_versions, filters, pipeline_id=pipeline_id)
        return self._db.page(
            pipeline_versions,
            PipelineVersionRecord,
            conditions,
            order_by,
            descending,
            limit,
            offset,
        )


def _pipeline_where(
    name_contains: str | None, filters: Sequence[Filter] | None
) -> builtins.list[sa.ColumnElement[bool]]:
    contains = [] if name_contains is None else [("name", "IS_SUBSTRING", name_contains)]
    return where(pipelines, [*contains, *(filters or ())])
