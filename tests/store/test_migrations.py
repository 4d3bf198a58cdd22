"""Schema versions: a store made by an earlier kubeline opens and is brought up to date.

``fixtures/store-v1.sql`` is a real store written by kubeline 0.1.0 before schema versions
(two runs of ``kubeline.run`` with no experiment, one run in the experiment ``tuning``), and
``fixtures/store-v2.sql`` one written at version 2 by ``kubeline run`` (two runs passing an
artifact between two tasks, one run whose task raised ValueError), before tasks carried their
error as data; both dumped as SQL so that they read in a diff.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from kubeline.store import RunStore
from kubeline.store.migrations import SCHEMA_VERSION, SchemaTooNewError, schema_info
from tests.store.conftest import make_run

FIXTURE = Path(__file__).parent / "fixtures" / "store-v1.sql"
FIXTURE_V2 = Path(__file__).parent / "fixtures" / "store-v2.sql"
BROKEN = "broken-v2-20261207-021501-c13ebd"
TINY = "tiny-v2-20261207-021459-85ba74"


def _old_store(path: Path, fixture: Path = FIXTURE) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(fixture.read_text(encoding="utf-8"))
    conn.close()
    return path


def _task_columns(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        names = {row[1] for row in conn.execute("PRAGMA table_info(tasks)")}
    conn.close()
    return names


def _run_columns(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        names = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    conn.close()
    return names


def _version(path: Path) -> int | None:
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "schema_info" not in tables:
            return None
        row = conn.execute("SELECT version FROM schema_info").fetchone()
    conn.close()
    return row[0] if row else None


def test_the_fixture_is_an_old_store(tmp_path: Path) -> None:
    path = _old_store(tmp_path / "kubeline.db")
    assert _version(path) is None
    with sqlite3.connect(path) as conn:
        experiments = [row[0] for row in conn.execute("SELECT experiment_id FROM runs")]
        names = [row[0] for row in conn.execute("SELECT name FROM experiments")]
    conn.close()
    assert sorted(experiments, key=str) == sorted([None, None, "exp-tuning"], key=str)
    assert names == ["tuning"]


def test_old_cli_runs_land_in_default_and_the_version_is_recorded(tmp_path: Path) -> None:
    path = _old_store(tmp_path / "kubeline.db")
    with RunStore.for_home(tmp_path) as store:
        default = store.experiments.get_by_name("Default")
        assert default is not None
        runs = store.runs.list(limit=10)
        assert len(runs) == 3
        by_experiment = sorted(r.experiment_id or "" for r in runs)
        assert by_experiment == sorted([default.experiment_id] * 2 + ["exp-tuning"])
        # The run already in an experiment keeps it; Default says when its newest run was.
        moved = [r for r in runs if r.experiment_id == default.experiment_id]
        assert default.last_run_created_at == max(r.created_at for r in moved)
        assert store.runs.count(experiment_id=default.experiment_id) == 2
        # Tasks and everything else are untouched.
        assert all(len(store.tasks.list(r.run_id)) == 1 for r in moved)
    assert _version(path) == SCHEMA_VERSION


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    _old_store(tmp_path / "kubeline.db")
    with RunStore.for_home(tmp_path) as store:
        first = {r.run_id: r for r in store.runs.list(limit=10)}
        experiments = store.experiments.list(limit=10)
    with RunStore.for_home(tmp_path) as store:
        assert {r.run_id: r for r in store.runs.list(limit=10)} == first
        assert store.experiments.list(limit=10) == experiments


def test_a_new_store_is_at_the_current_version_with_no_default_added(tmp_path: Path) -> None:
    with RunStore.for_home(tmp_path) as store:
        assert store.experiments.list(limit=10) == []
    assert _version(tmp_path / "kubeline.db") == SCHEMA_VERSION


def test_a_current_store_keeps_runs_outside_experiments_that_the_store_is_given(
    tmp_path: Path,
) -> None:
    """The migration is a one-off: the store itself still takes what it is given (the
    engine, not the store, puts new runs in Default)."""
    with RunStore.for_home(tmp_path) as store:
        store.runs.add(make_run("r1", experiment_id=None))
    with RunStore.for_home(tmp_path) as store:
        run = store.runs.get("r1")
        assert run is not None and run.experiment_id is None


def test_a_store_from_a_newer_kubeline_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kubeline.db'}"
    RunStore(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(schema_info.update().values(version=SCHEMA_VERSION + 1))
    engine.dispose()
    with pytest.raises(SchemaTooNewError, match="newer kubeline"):
        RunStore(url)


def test_the_v2_fixture_is_a_version_2_store(tmp_path: Path) -> None:
    path = _old_store(tmp_path / "kubeline.db", FIXTURE_V2)
    assert _version(path) == 2
    assert not {"error_type", "user_error"} & _task_columns(path)


def test_a_v2_store_gains_task_errors_as_data_and_keeps_its_runs(tmp_path: Path) -> None:
    path = _old_store(tmp_path / "kubeline.db", FIXTURE_V2)
    with RunStore.for_home(tmp_path) as store:
        runs = store.runs.list(limit=10)
        assert sorted(r.run_id for r in runs) == sorted(
            [TINY, BROKEN, "tiny-v2-20261207-021506-61a271"]
        )
        broken = store.runs.get(BROKEN)
        assert broken is not None and broken.state == "FAILED"
        (refuse,) = store.tasks.list(BROKEN)
        assert refuse.state == "FAILED" and refuse.error == "ValueError: cannot use 'hello'"
        # Tasks recorded before version 3: type unknown, not counted the user's fault.
        assert refuse.error_type is None and refuse.user_error is False
        # The artifact passed between the two tasks, and its lineage, are untouched.
        (artifact,) = store.artifacts.list(run_id=TINY)
        readers = store.artifacts.readers(artifact.artifact_id)
        assert [(task.name, name) for task, name in readers] == [("read-text", "data")]
        # The new columns take values.
        assert store.tasks.update(refuse.task_id, error_type="ValueError", user_error=True)
        again = store.tasks.get(refuse.task_id)
        assert again is not None and (again.error_type, again.user_error) == ("ValueError", True)
    assert _version(path) == SCHEMA_VERSION == 4
    assert {"error_type", "user_error"} <= _task_columns(path)


@pytest.mark.parametrize("fixture", [FIXTURE, FIXTURE_V2], ids=["v1", "v2"])
def test_an_old_store_gains_run_events_empty_and_they_take_values(
    tmp_path: Path, fixture: Path
) -> None:
    path = _old_store(tmp_path / "kubeline.db", fixture)
    assert "events" not in _run_columns(path)
    with RunStore.for_home(tmp_path) as store:
        runs = store.runs.list(limit=10)
        assert len(runs) == 3 and all(r.events == [] for r in runs)  # nothing kept before 4
        decided = [{"at": "2026-12-07T05:00:00+00:00", "kind": "admission", "task": "t"}]
        assert store.runs.update(runs[0].run_id, events=decided)
        again = store.runs.get(runs[0].run_id)
        assert again is not None and again.events == decided
        store.runs.add(make_run("new-run", experiment_id=None))  # a new run writes them too
        new = store.runs.get("new-run")
        assert new is not None and new.events == make_run().events
    assert _version(path) == SCHEMA_VERSION == 4
    assert "events" in _run_columns(path)


def _cli(home: Path, *args: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "KUBELINE_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "kubeline", *args, "--output", "json"],
        env={**env, "KUBELINE_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    document: dict[str, object] = json.loads(done.stdout)
    return document


def test_the_cli_lists_and_shows_the_runs_of_a_v2_store(tmp_path: Path) -> None:
    _old_store(tmp_path / "kubeline.db", FIXTURE_V2)
    listed = _cli(tmp_path, "runs", "list")
    assert listed["total"] == 3
    shown = _cli(tmp_path, "runs", "show", BROKEN)
    assert shown["state"] == "FAILED" and shown["failed_task"] == "refuse"
    assert shown["events"] == []  # none were kept before version 4
    assert shown["error"] == "Task 'refuse' failed: ValueError: cannot use 'hello'"
    assert _version(tmp_path / "kubeline.db") == SCHEMA_VERSION


def test_a_run_of_a_v2_store_runs_again_in_it(tmp_path: Path) -> None:
    """Re-run the pipeline an old run recorded, with its arguments, into the migrated store."""
    _old_store(tmp_path / "kubeline.db", FIXTURE_V2)
    with RunStore.for_home(tmp_path) as store:
        old = store.runs.get(TINY)
        assert old is not None
        spec, arguments = old.spec, old.arguments
    pipeline = tmp_path / "again.json"
    pipeline.write_text(json.dumps(spec), encoding="utf-8")
    flags = [f"-p{name}={value}" for name, value in arguments.items()]
    again = _cli(tmp_path, "run", str(pipeline), *flags)
    assert again["state"] == "SUCCEEDED"
    assert _cli(tmp_path, "runs", "list")["total"] == 4
    shown = _cli(tmp_path, "runs", "show", str(again["run_id"]))
    assert shown["state"] == "SUCCEEDED" and shown["outputs"] == old.outputs
