"""The store's schema version, and the steps that bring an older database up to it.

A database records its version in the one-row table ``schema_info``. One made before
versions existed has no such row: it is version 1. Opening a store runs, in the transaction
that creates missing tables, every step from the database's version to
:data:`SCHEMA_VERSION`, then records the new version; so the CLI and the server, which
share one file, never see a half-migrated store. A database from a newer kubeline is
refused rather than written by code that does not know its rules.

Adding a step: write ``_to_N(conn)``, add it to :data:`_STEPS` and raise
:data:`SCHEMA_VERSION` to ``N``; test it on a fixture store made by the version before.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timezone

import sqlalchemy as sa

from kubeline.store.schema import experiments, metadata, runs, tasks

__all__ = [
    "DEFAULT_EXPERIMENT",
    "DEFAULT_EXPERIMENT_DESCRIPTION",
    "SCHEMA_VERSION",
    "SchemaTooNewError",
    "migrate",
    "schema_info",
    "schema_version",
]

#: The version this kubeline writes. 2: every run is in an experiment (Default when none
#: was named), as in Kubeflow Pipelines. 3: a task carries its error as data
#: (``error_type``, ``user_error``). 4: a run keeps the engine's decisions about it
#: (``events``: the last admission decisions).
SCHEMA_VERSION = 4

DEFAULT_EXPERIMENT = "Default"
DEFAULT_EXPERIMENT_DESCRIPTION = (
    "All runs created without specifying an experiment are grouped here."
)

schema_info = sa.Table(
    "schema_info",
    metadata,
    # Always 1: the table holds one row.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
)


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer kubeline, whose rules this one does not know."""


def schema_version(conn: sa.Connection) -> int:
    """The version the database is at: 1 when it predates versions."""
    found = conn.execute(sa.select(schema_info.c.version).where(schema_info.c.id == 1))
    version = found.scalar_one_or_none()
    return 1 if version is None else int(version)


def migrate(conn: sa.Connection) -> int:
    """Bring the database on ``conn`` (inside a write transaction) up to
    :data:`SCHEMA_VERSION`; the version it was at before.

    Raises:
        SchemaTooNewError: the database is at a later version than this kubeline knows.
    """
    before = schema_version(conn)
    if before > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"This store is at schema version {before}, written by a newer kubeline; this "
            f"one knows versions up to {SCHEMA_VERSION}. Upgrade kubeline to open it."
        )
    for version in range(before + 1, SCHEMA_VERSION + 1):
        _STEPS[version](conn)
    if before != SCHEMA_VERSION or not _has_row(conn):
        conn.execute(schema_info.delete())
        conn.execute(schema_info.insert().values(id=1, version=SCHEMA_VERSION))
    return before


def _has_row(conn: sa.Connection) -> bool:
    return conn.execute(sa.select(sa.func.count()).select_from(schema_info)).scalar_one() > 0


def default_experiment_id(conn: sa.Connection) -> str:
    """The id of the experiment ``Default`` of namespace ``""``, added when missing."""
    found = conn.execute(
        sa.select(experiments.c.experiment_id).where(
            experiments.c.name == DEFAULT_EXPERIMENT, experiments.c.namespace == ""
        )
    ).scalar_one_or_none()
    if found is not None:
        return str(found)
    experiment_id = str(uuid.uuid4())
    conn.execute(
        experiments.insert().values(
            experiment_id=experiment_id,
            name=DEFAULT_EXPERIMENT,
            created_at=datetime.now(timezone.utc),
            display_name=DEFAULT_EXPERIMENT,
            description=DEFAULT_EXPERIMENT_DESCRIPTION,
            namespace="",
            storage_state="AVAILABLE",
            last_run_created_at=None,
        )
    )
    return experiment_id


def _to_2(conn: sa.Connection) -> None:
    """Runs of ``kubeline run`` and ``kubeline.run`` had no experiment: put them in Default,
    where Kubeflow Pipelines puts a run created without one."""
    orphans = sa.or_(runs.c.experiment_id.is_(None), runs.c.experiment_id == "")
    latest = conn.execute(sa.select(sa.func.max(runs.c.created_at)).where(orphans)).scalar()
    if latest is None:  # no such run: nothing to do, and no Default to add
        return
    default = default_experiment_id(conn)
    conn.execute(runs.update().where(orphans).values(experiment_id=default))
    previous = conn.execute(
        sa.select(experiments.c.last_run_created_at).where(experiments.c.experiment_id == default)
    ).scalar()
    if previous is None or previous < latest:
        conn.execute(
            experiments.update()
            .where(experiments.c.experiment_id == default)
            .values(last_run_created_at=latest)
        )


def _to_3(conn: sa.Connection) -> None:
    """Tasks gain ``error_type`` (NULL: unknown, as for every task before) and
    ``user_error`` (false)."""
    _add_columns(conn, tasks, "error_type", "user_error")


def _to_4(conn: sa.Connection) -> None:
    """Runs gain ``events`` (empty: nothing was kept before)."""
    _add_columns(conn, runs, "events")


def _add_columns(conn: sa.Connection, table: sa.Table, *names: str) -> None:
    """Add the columns ``names`` of ``table`` as the schema declares them, unless there.

    A new database has them already: ``create_all`` has just made the table, and the
    database reads as version 1 until its version row is written.
    """
    present = {column["name"] for column in sa.inspect(conn).get_columns(table.name)}
    for name in names:
        if name in present:
            continue
        column = sa.schema.CreateColumn(table.c[name]).compile(dialect=conn.dialect)
        quoted = conn.dialect.identifier_preparer.format_table(table)
        conn.exec_driver_sql(f"ALTER TABLE {quoted} ADD COLUMN {column}")


#: The step that brings a database to each version, from the one before.
_STEPS: dict[int, Callable[[sa.Connection], None]] = {2: _to_2, 3: _to_3, 4: _to_4}
