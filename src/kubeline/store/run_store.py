"""RunStore: the one handle on the store, holding its database and its sections.

Callers pass a ``RunStore`` around and reach each kind of record through a section:
``store.runs``, ``store.tasks``, ``store.artifacts`` (with the lineage between artifacts and
tasks), ``store.cache``, ``store.pipelines``, ``store.pipeline_versions``,
``store.experiments``, ``store.recurring_runs`` and ``store.models`` (the model registry's
tables). Every section shares the store's one connection pool; closing the store (or
leaving its ``with`` block) closes that pool.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from kubeline.store.artifacts import Artifacts
from kubeline.store.cache import Cache
from kubeline.store.database import Database
from kubeline.store.experiments import Experiments
from kubeline.store.model_registry import ModelRegistry
from kubeline.store.pipelines import Pipelines, PipelineVersions
from kubeline.store.recurring import RecurringRuns
from kubeline.store.runs import Runs
from kubeline.store.tasks import Tasks

__all__ = ["RunStore", "sqlite_url"]


class RunStore:
    """Runs, tasks, artifacts, cache entries, pipelines and their versions, experiments,
    recurring runs and registered models, read and written as plain records.

    Only the engine's parent process and the server write here; workers send their results
    back to the parent. Sections are safe to use from several threads at once.

    Args:
        url: A SQLAlchemy database URL, e.g. ``sqlite:///path/to/kubeline.db`` or
            ``postgresql://user@host/db``. Missing tables are created.
    """

    def __init__(self, url: str | sa.URL) -> None:
        self._db = Database(url)
        self.runs = Runs(self._db)
        self.tasks = Tasks(self._db)
        self.artifacts = Artifacts(self._db)
        self.cache = Cache(self._db)
        self.pipelines = Pipelines(self._db)
        self.pipeline_versions = PipelineVersions(self._db)
        self.experiments = Experiments(self._db)
        self.recurring_runs = RecurringRuns(self._db)
        self.models = ModelRegistry(self._db)

    @classmethod
    def for_home(cls, home: Path) -> RunStore:
        """Open the SQLite store ``home / "kubeline.db"``, creating ``home`` if missing."""
        return cls(sqlite_url(home))

    @property
    def read_only_reason(self) -> str | None:
        """Why the store was opened read-only (its disk is full), else None."""
        return self._db.read_only_reason

    def close(self) -> None:
        """Close every pooled connection."""
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({self._db.engine.url.render_as_string(hide_password=True)!r})"


def sqlite_url(home: Path) -> sa.URL:
    """The URL of the SQLite store in ``home``: ``home / "kubeline.db"``."""
    # URL.create, not an f-string: a path may hold characters a URL would misread.
    return sa.URL.create("sqlite", database=str(home / "kubeline.db"))
