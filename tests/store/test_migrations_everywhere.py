"""The latest migration on every database of ``store_url``: tests/store/test_migrations.py
replays stores that older kubelines wrote to SQLite files; here a current store is taken
back to version 2 (the task columns of version 3 dropped) or 3 (the runs' events of version
4 dropped) and opened again, so the steps also run as PostgreSQL executes them (its ALTER
TABLE, its booleans, JSON defaults and collations)."""

from __future__ import annotations

import sqlalchemy as sa

from kubeline.store import RunStore
from kubeline.store.migrations import SCHEMA_VERSION, schema_info
from tests.store.conftest import make_run, make_task


def test_a_version_2_store_gains_the_task_error_columns(store_url: str) -> None:
    with RunStore(store_url) as store:
        store.runs.add(make_run())
        store.tasks.add(make_task(error_type="ValueError", user_error=True))
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE tasks DROP COLUMN error_type"))
            conn.execute(sa.text("ALTER TABLE tasks DROP COLUMN user_error"))
            conn.execute(schema_info.update().values(version=2))
    finally:
        engine.dispose()

    with RunStore(store_url) as store:
        task = store.tasks.get("task-1")
        assert task is not None
        assert (task.error_type, task.user_error) == (None, False)  # unknown before 3
        assert task == make_task(error_type=None, user_error=False)
        store.tasks.update("task-1", error_type="KeyError", user_error=True)
        assert store.tasks.get("task-1") == make_task(error_type="KeyError", user_error=True)
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(schema_info.c.version)).scalar_one() == SCHEMA_VERSION
    finally:
        engine.dispose()


def test_a_version_3_store_gains_the_run_events_column(store_url: str) -> None:
    with RunStore(store_url) as store:
        store.runs.add(make_run())
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE runs DROP COLUMN events"))
            conn.execute(schema_info.update().values(version=3))
    finally:
        engine.dispose()

    with RunStore(store_url) as store:
        run = store.runs.get("run-1")
        assert run is not None and run.events == []  # none were kept before 4
        assert run == make_run(events=[])
        store.runs.update("run-1", events=make_run().events)
        assert store.runs.get("run-1") == make_run()
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(schema_info.c.version)).scalar_one() == SCHEMA_VERSION
    finally:
        engine.dispose()
