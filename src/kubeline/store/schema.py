"""The store's tables, in one ``MetaData``.

Column names equal the field names of the records in :mod:`kubeline.store.records`, so a row
turns into a record with ``Record(**row._mapping)`` and back without a mapping table; a test
keeps the two in step. Deleting a run cascades to its tasks, their artifacts and the
artifacts' consumers. Cache entries hang off nothing: they outlive the run that made them.

Pipelines, their versions, experiments and recurring runs back the KFP v2beta1 API. Deleting a
pipeline cascades to its versions; nothing else refers to them by foreign key, so, as in KFP,
runs and schedules keep the ids of a pipeline, experiment or schedule that is gone.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

__all__ = [
    "UTCDateTime",
    "artifact_consumers",
    "artifacts",
    "cache_entries",
    "experiments",
    "metadata",
    "model_aliases",
    "model_versions",
    "models",
    "pipeline_versions",
    "pipelines",
    "recurring_runs",
    "runs",
    "tasks",
]


# Text compares and sorts by code point on every database: SQLite's BINARY, and on
# PostgreSQL the "C" collation (its default follows the server's locale, where "a" < "B"
# and blanks and punctuation are skipped); a listing sorted by name reads the same on both.
String = sa.String().with_variant(sa.String(collation="C"), "postgresql")
Text = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime, stored as UTC.

    SQLite has no timezone type and hands back naive datetimes; PostgreSQL hands back the
    session's zone. Either way the store returns UTC, so callers compare and subtract
    datetimes without asking where they came from.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive datetime names no instant: guessing a zone would file it hours off.
            raise ValueError(f"naive datetime {value.isoformat()}: pass a timezone-aware one")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: what went in was UTC
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# Named constraints and indexes, so that a later migration can refer to them by name.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s_%(column_1_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _cascade(target: str) -> sa.ForeignKey:
    return sa.ForeignKey(target, ondelete="CASCADE")


runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", String, primary_key=True),
    sa.Column("pipeline_name", String, nullable=False, index=True),
    sa.Column("state", String, nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("display_name", String, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("arguments", sa.JSON, nullable=False),
    sa.Column("outputs", sa.JSON, nullable=False),
    sa.Column("error", Text),
    sa.Column("root", String, nullable=False),
    sa.Column("cache_enabled", sa.Boolean, nullable=False),
    sa.Column("experiment_id", String, index=True),
    sa.Column("pipeline_id", String, index=True),
    sa.Column("pipeline_version_id", String, index=True),
    sa.Column("recurring_run_id", String, index=True),
    sa.Column("storage_state", String, nullable=False),
    sa.Column("host", String, nullable=False),
    sa.Column("pid", sa.Integer),
    # What the engine decided along the way (the last few hundred admission decisions).
    sa.Column("events", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("task_id", String, primary_key=True),
    sa.Column("run_id", String, _cascade("runs.run_id"), nullable=False, index=True),
    sa.Column("name", String, nullable=False),
    sa.Column("path", String, nullable=False),
    sa.Column("kind", String, nullable=False),
    sa.Column("state", String, nullable=False),
    # A parent task is added before its children, as the engine starts a DAG before its tasks.
    sa.Column("parent_task_id", String, _cascade("tasks.task_id"), index=True),
    sa.Column("component", String, nullable=False),
    sa.Column("display_name", String, nullable=False),
    sa.Column("created_at", UTCDateTime),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("cache_hit", sa.Boolean, nullable=False),
    sa.Column("cache_key", String),
    sa.Column("exit_code", sa.Integer),
    sa.Column("error", Text),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("outputs", sa.JSON, nullable=False),
    sa.Column("log_path", String),
    # Schema version 3: the error as data (its exception type, and whether the user can fix
    # it), so nobody matches the error's text.
    sa.Column("error_type", String),
    sa.Column("user_error", sa.Boolean, nullable=False, server_default=sa.false()),
    # TaskRecord promises that a path names one task inside its run.
    sa.UniqueConstraint("run_id", "path"),
    # The executions list across runs: newest first, a page at a time, and of one state.
    sa.Index("ix_tasks_created_at", "created_at"),
    sa.Index("ix_tasks_state_created_at", "state", "created_at"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("artifact_id", String, primary_key=True),
    sa.Column("run_id", String, _cascade("runs.run_id"), nullable=False, index=True),
    sa.Column("producer_task_id", String, _cascade("tasks.task_id"), nullable=False, index=True),
    sa.Column("output_name", String, nullable=False),
    sa.Column("uri", Text, nullable=False),
    sa.Column("schema_title", String, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("digest", String),
    sa.Column("size", sa.BigInteger),  # bytes: a model file passes 2 GiB
    sa.Column("created_at", UTCDateTime),
    sa.Column("name", String, nullable=False),
    # The artifacts list across runs: newest first, and newest first of one type.
    sa.Index("ix_artifacts_created_at", "created_at"),
    sa.Index("ix_artifacts_schema_title_created_at", "schema_title", "created_at"),
)

artifact_consumers = sa.Table(
    "artifact_consumers",
    metadata,
    sa.Column("artifact_id", String, _cascade("artifacts.artifact_id"), primary_key=True),
    # Indexed on its own for lineage the other way: what did this task read?
    sa.Column("task_id", String, _cascade("tasks.task_id"), primary_key=True, index=True),
    sa.Column("input_name", String, primary_key=True),
)

cache_entries = sa.Table(
    "cache_entries",
    metadata,
    sa.Column("key", String, primary_key=True),
    sa.Column("component", String, nullable=False),
    sa.Column("outputs", sa.JSON, nullable=False),
    sa.Column("artifacts", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("run_id", String, nullable=False),
    sa.Column("task_id", String, nullable=False),
)

pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("pipeline_id", String, primary_key=True),
    sa.Column("name", String, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("display_name", String, nullable=False),
    sa.Column("description", Text, nullable=False),
    sa.Column("namespace", String, nullable=False),
    # Namespace first: its index also serves the listing of one namespace.
    sa.UniqueConstraint("namespace", "name"),
)

pipeline_versions = sa.Table(
    "pipeline_versions",
    metadata,
    sa.Column("pipeline_version_id", String, primary_key=True),
    # No index of its own: the two below lead with it.
    sa.Column("pipeline_id", String, _cascade("pipelines.pipeline_id"), nullable=False),
    sa.Column("name", String, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("display_name", String, nullable=False),
    sa.Column("description", Text, nullable=False),
    sa.Column("package_url", Text, nullable=False),
    sa.UniqueConstraint("pipeline_id", "name"),
    # A pipeline's versions newest first, and its latest version.
    sa.Index("ix_pipeline_versions_pipeline_id_created_at", "pipeline_id", "created_at"),
)

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("experiment_id", String, primary_key=True),
    sa.Column("name", String, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("display_name", String, nullable=False),
    sa.Column("description", Text, nullable=False),
    sa.Column("namespace", String, nullable=False),
    sa.Column("storage_state", String, nullable=False, index=True),
    sa.Column("last_run_created_at", UTCDateTime),
    sa.UniqueConstraint("namespace", "name"),
)

recurring_runs = sa.Table(
    "recurring_runs",
    metadata,
    sa.Column("recurring_run_id", String, primary_key=True),
    sa.Column("name", String, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("experiment_id", String, nullable=False, index=True),
    sa.Column("pipeline_id", String),
    sa.Column("pipeline_version_id", String),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("arguments", sa.JSON, nullable=False),
    sa.Column("description", Text, nullable=False),
    sa.Column("cron", String),
    sa.Column("interval_seconds", sa.Integer),
    sa.Column("start_time", UTCDateTime),
    sa.Column("end_time", UTCDateTime),
    sa.Column("max_concurrency", sa.Integer, nullable=False),
    sa.Column("catchup", sa.Boolean, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("last_fired_at", UTCDateTime),
    sa.Column("next_fire_at", UTCDateTime),
    sa.Column("cache_enabled", sa.Boolean, nullable=False),
    # The scheduler's question: which enabled schedules are due?
    sa.Index("ix_recurring_runs_enabled_next_fire_at", "enabled", "next_fire_at"),
)

# The model registry: named models, their numbered versions, and movable aliases
# (production, staging...). A version keeps its lineage (run, task, artifact) as plain ids,
# not foreign keys: deleting a run must not delete the model it produced.
models = sa.Table(
    "models",
    metadata,
    sa.Column("name", String, primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("description", Text, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("name", String, _cascade("models.name"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("uri", Text, nullable=False),
    sa.Column("digest", String),
    sa.Column("framework", String, nullable=False),
    sa.Column("libraries", sa.JSON, nullable=False),
    sa.Column("signature", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("data_digest", String, nullable=False),
    sa.Column("run_id", String, index=True),
    sa.Column("task_id", String),
    sa.Column("artifact_id", String),
    sa.Column("card_uri", Text, nullable=False),
    sa.Column("description", Text, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("name", String, _cascade("models.name"), primary_key=True),
    sa.Column("alias", String, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
