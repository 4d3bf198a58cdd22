"""The store's queries behind the Artifacts and Executions pages: artifacts and tasks of
every run, a page at a time, filtered; lineage both ways; and plans that stay on indexes
with 10,000 runs."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kubeline.store import ArtifactRecord, RunStore
from kubeline.store.schema import artifact_consumers, artifacts, runs, tasks
from tests.store.conftest import T0, make_artifact, make_run, make_task


def _artifact(artifact_id: str, run_id: str, task_id: str, **fields: Any) -> ArtifactRecord:
    record = make_artifact(artifact_id, run_id, task_id)
    for name, value in fields.items():
        setattr(record, name, value)
    return record


@pytest.fixture
def lineage_store(store: RunStore) -> RunStore:
    """Two runs: 'nightly train' (make-data -> train -> evaluate) and 'Ad hoc' (one task)."""
    store.runs.add(make_run("run-a", display_name="nightly train", pipeline_name="lifecycle"))
    store.runs.add(make_run("run-b", display_name="Ad hoc", pipeline_name="scratch"))
    for i, (task_id, run_id, name, state, hit) in enumerate(
        [
            ("data", "run-a", "make-data", "SUCCEEDED", False),
            ("train", "run-a", "train", "SUCCEEDED", True),
            ("eval", "run-a", "evaluate", "FAILED", False),
            ("dag", "run-a", "for-loop-1", "SUCCEEDED", False),
            ("other", "run-b", "Evaluate-Again", "RUNNING", False),
        ]
    ):
        store.tasks.add(
            make_task(
                task_id,
                run_id=run_id,
                name=name,
                display_name=name,
                path=name,
                state=state,
                cache_hit=hit,
                kind="dag" if task_id == "dag" else "executor",
                created_at=T0 + timedelta(seconds=i),
            )
        )
    for i, (artifact_id, run_id, task_id, title, name) in enumerate(
        [
            ("table", "run-a", "data", "system.Dataset", "table"),
            ("model", "run-a", "train", "system.Model", "Model"),
            ("metrics", "run-a", "eval", "system.Metrics", "metrics"),
            ("notes", "run-b", "other", "system.Markdown", "notes"),
        ]
    ):
        store.artifacts.add(
            _artifact(
                artifact_id,
                run_id,
                task_id,
                schema_title=title,
                name=name,
                output_name=name.lower(),
                created_at=T0 + timedelta(seconds=i),
            )
        )
    store.artifacts.add_consumer("table", "train", "table")
    store.artifacts.add_consumer("table", "eval", "table")
    store.artifacts.add_consumer("model", "eval", "model")
    store.artifacts.add_consumer("table", "dag", "pipelinechannel--make-data-table")  # passed on
    return store


def _ids(records: list[Any]) -> list[str]:
    return [getattr(r, "artifact_id", None) or r.task_id for r in records]


class TestArtifactsOfEveryRun:
    def test_newest_first_and_paged(self, lineage_store: RunStore) -> None:
        assert _ids(lineage_store.artifacts.search()) == ["notes", "metrics", "model", "table"]
        assert _ids(lineage_store.artifacts.search(limit=2, offset=1)) == ["metrics", "model"]
        assert lineage_store.artifacts.count() == 4

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"schema_title": "system.Model"}, ["model"]),
            ({"name_contains": "MOD"}, ["model"]),  # any case, name or output name
            ({"name_contains": "e"}, ["notes", "metrics", "model", "table"]),
            ({"run_id": "run-b"}, ["notes"]),
            ({"run_contains": "NIGHTLY"}, ["metrics", "model", "table"]),  # the run's name
            ({"run_contains": "scratch"}, ["notes"]),  # its pipeline's name
            ({"run_contains": "run-b"}, ["notes"]),  # its id
            ({"run_contains": "nightly", "schema_title": "system.Dataset"}, ["table"]),
            ({"name_contains": "%"}, []),  # a substring, not a LIKE pattern
            ({"run_contains": "nobody"}, []),
        ],
    )
    def test_filters(
        self, lineage_store: RunStore, filters: dict[str, str], expected: list[str]
    ) -> None:
        assert _ids(lineage_store.artifacts.search(**filters)) == expected
        assert lineage_store.artifacts.count(**filters) == len(expected)

    def test_types_are_the_filters_choices(self, lineage_store: RunStore) -> None:
        assert lineage_store.artifacts.types() == [
            "system.Dataset",
            "system.Markdown",
            "system.Metrics",
            "system.Model",
        ]

    def test_by_ids_and_by_producers(self, lineage_store: RunStore) -> None:
        found = lineage_store.artifacts.list(artifact_ids=["model", "table", "nope"])
        assert sorted(_ids(found)) == ["model", "table"]
        found = lineage_store.artifacts.list(producer_task_ids=["data", "eval"])
        assert sorted(_ids(found)) == ["metrics", "table"]
        assert lineage_store.artifacts.list(artifact_ids=[]) == []

    def test_negative_paging_is_refused(self, lineage_store: RunStore) -> None:
        with pytest.raises(ValueError, match="limit and offset"):
            lineage_store.artifacts.search(offset=-1)
        with pytest.raises(ValueError, match="limit and offset"):
            lineage_store.tasks.search(limit=-1)


class TestTasksOfEveryRun:
    def test_executions_leave_out_dags_newest_first(self, lineage_store: RunStore) -> None:
        assert _ids(lineage_store.tasks.search()) == ["other", "eval", "train", "data"]
        assert lineage_store.tasks.count() == 4
        assert "dag" in _ids(lineage_store.tasks.search(kinds=None))
        assert _ids(lineage_store.tasks.search(limit=1, offset=1)) == ["eval"]

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"state": "FAILED"}, ["eval"]),
            ({"state": "SUCCEEDED"}, ["train", "data"]),  # a cache hit succeeded too
            ({"state": "CACHED"}, ["train"]),
            ({"name_contains": "EVALUATE"}, ["other", "eval"]),
            ({"run_contains": "ad hoc"}, ["other"]),
            ({"run_id": "run-a", "name_contains": "eval"}, ["eval"]),
            ({"state": "SKIPPED"}, []),
        ],
    )
    def test_filters(
        self, lineage_store: RunStore, filters: dict[str, str], expected: list[str]
    ) -> None:
        assert _ids(lineage_store.tasks.search(**filters)) == expected
        assert lineage_store.tasks.count(**filters) == len(expected)

    def test_cache_hits_of_older_stores_count_as_cached(self, lineage_store: RunStore) -> None:
        lineage_store.tasks.update("data", state="CACHED", cache_hit=False)
        assert sorted(_ids(lineage_store.tasks.search(state="CACHED"))) == ["data", "train"]

    def test_get_tasks_by_ids(self, lineage_store: RunStore) -> None:
        found = lineage_store.tasks.get_many(["eval", "data", "nope"])
        assert sorted(_ids(found)) == ["data", "eval"]
        assert lineage_store.tasks.get_many([]) == []


def test_lineage_both_ways(lineage_store: RunStore) -> None:
    assert lineage_store.artifacts.consumers("table") == [
        ("dag", "pipelinechannel--make-data-table"),
        ("eval", "table"),
        ("train", "table"),
    ]
    assert lineage_store.artifacts.inputs_of("eval") == [("model", "model"), ("table", "table")]
    assert lineage_store.artifacts.inputs_of("data") == []


def test_opening_adds_the_lineage_indexes_an_older_database_lacks(store_url: str) -> None:
    with RunStore(store_url):
        pass
    wanted = {
        "artifacts": {"ix_artifacts_created_at", "ix_artifacts_schema_title_created_at"},
        "tasks": {"ix_tasks_created_at", "ix_tasks_state_created_at"},
    }
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as conn:
            for names in wanted.values():
                for name in names:
                    conn.execute(sa.text(f"DROP INDEX {name}"))
        with RunStore(store_url):
            pass
        inspector = sa.inspect(engine)
        found = {table: {i["name"] for i in inspector.get_indexes(table)} for table in wanted}
    finally:
        engine.dispose()
    for table, names in wanted.items():
        assert names <= found[table], table


# ------------------------------------------------------------------------ 10,000 runs

_RUNS = 10_000
_STEPS = ("ingest", "split", "train", "evaluate")
_TYPES = ("system.Dataset", "system.Dataset", "system.Model", "system.Metrics")


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunStore, Path]]:
    """10,000 runs of four tasks, each writing one artifact read by the next task: 40,000
    tasks and artifacts, written in bulk (one store call per row would take minutes)."""
    path = tmp_path_factory.mktemp("big") / "kubeline.db"
    store = RunStore(f"sqlite:///{path}")
    template = make_run()
    rows: dict[str, list[dict[str, Any]]] = {"runs": [], "tasks": [], "arts": [], "uses": []}
    for i in range(_RUNS):
        run_id = f"lifecycle-{i:05d}"
        at = T0 + timedelta(minutes=i)
        rows["runs"].append(
            {
                **{f: getattr(template, f) for f in template.__dataclass_fields__},
                "run_id": run_id,
                "display_name": f"run {i}",
                "created_at": at,
                "state": "SUCCEEDED",
            }
        )
        for j, (step, title) in enumerate(zip(_STEPS, _TYPES, strict=True)):
            task_id = f"{run_id}-{step}"
            rows["tasks"].append(
                {
                    **make_task(task_id, run_id).__dict__,
                    "name": step,
                    "display_name": step,
                    "path": step,
                    "created_at": at + timedelta(seconds=j),
                    "state": "FAILED" if i == 4242 and step == "evaluate" else "SUCCEEDED",
                    "cache_hit": j % 2 == 0,
                }
            )
            rows["arts"].append(
                {
                    **_artifact(f"{task_id}-out", run_id, task_id).__dict__,
                    "schema_title": title,
                    "name": step,
                    "output_name": step,
                    "created_at": at + timedelta(seconds=j),
                }
            )
            if j:
                previous = f"{run_id}-{_STEPS[j - 1]}-out"
                rows["uses"].append(
                    {"artifact_id": previous, "task_id": task_id, "input_name": "x"}
                )
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(runs.insert(), rows["runs"])
        conn.execute(tasks.insert(), rows["tasks"])
        conn.execute(artifacts.insert(), rows["arts"])
        conn.execute(artifact_consumers.insert(), rows["uses"])
    engine.dispose()
    yield store, path
    store.close()


def _plans(path: Path, call: Any) -> tuple[Any, list[str]]:
    """What ``call()`` returns, and SQLite's plan of every statement it ran."""
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        result = call()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    plans = []
    with sqlite3.connect(path) as db:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            rows = db.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            plans.append(" | ".join(str(row[-1]) for row in rows))
    db.close()
    return result, plans


@pytest.mark.parametrize(
    ("what", "call", "count"),
    [
        ("artifacts", lambda s: s.artifacts.search(limit=20), 20),
        ("a late page", lambda s: s.artifacts.search(limit=20, offset=20_000), 20),
        ("models", lambda s: s.artifacts.search(schema_title="system.Model", limit=20), 20),
        ("one run's", lambda s: s.artifacts.search(run_id="lifecycle-00042", limit=20), 4),
        ("executions", lambda s: s.tasks.search(limit=20), 20),
        ("failed ones", lambda s: s.tasks.search(state="FAILED", limit=20), 1),
        ("inputs of a task", lambda s: s.artifacts.inputs_of("lifecycle-00042-train"), 1),
        ("consumers", lambda s: s.artifacts.consumers("lifecycle-00042-train-out"), 1),
        ("readers", lambda s: s.artifacts.readers("lifecycle-00042-train-out", limit=12), 1),
    ],
)
def test_pages_stay_on_indexes_with_10000_runs(
    big_store: tuple[RunStore, Path], what: str, call: Any, count: int
) -> None:
    store, path = big_store
    started = time.perf_counter()
    found, plans = _plans(path, lambda: call(store))
    elapsed = time.perf_counter() - started
    assert len(found) == count, what
    assert plans, what
    for plan in plans:
        # Every table is reached through an index; one walked whole (SCAN) is walked in
        # the page's order, never sorted whole first. A SEARCH narrowed by its key (one
        # run's rows) may sort what it found.
        assert "USING" in plan or "PRIMARY KEY" in plan, (what, plan)
        if "SCAN" in plan:
            assert "TEMP B-TREE FOR ORDER BY" not in plan, (what, plan)
    assert elapsed < 2.0, f"{what} took {elapsed:.2f} s"


def test_counts_and_filters_with_10000_runs(big_store: tuple[RunStore, Path]) -> None:
    store, _ = big_store
    started = time.perf_counter()
    assert store.artifacts.count() == _RUNS * 4
    assert store.artifacts.count(schema_title="system.Model") == _RUNS
    assert store.tasks.count(state="FAILED") == 1
    assert store.tasks.count(state="CACHED") == _RUNS * 2
    found = store.artifacts.search(run_contains="run 4242", limit=20)
    assert {a.run_id for a in found} == {"lifecycle-04242"}
    assert [t.task_id for t in store.tasks.search(name_contains="EVAL", limit=3)] == [
        f"lifecycle-{i:05d}-evaluate" for i in (9999, 9998, 9997)
    ]
    assert store.artifacts.types() == ["system.Dataset", "system.Metrics", "system.Model"]
    # Generous: a full scan of 40,000 rows takes tens of milliseconds; a page per row
    # fetched, or a sort of everything per request, would take seconds.
    assert time.perf_counter() - started < 5.0


def test_readers_are_the_tasks_that_execute_in_the_order_they_were_made(
    lineage_store: RunStore,
) -> None:
    readers = lineage_store.artifacts.readers("table")
    assert [(task.task_id, name) for task, name in readers] == [
        ("train", "table"),
        ("eval", "table"),
    ]
    assert readers[0][0] == lineage_store.tasks.get("train")  # whole records
    assert lineage_store.artifacts.count_readers("table") == 2
    everyone = lineage_store.artifacts.readers("table", kinds=None)
    assert [task.task_id for task, _ in everyone] == ["train", "eval", "dag"]
    assert lineage_store.artifacts.count_readers("table", kinds=None) == 3
    first = lineage_store.artifacts.readers("table", limit=1)
    assert [task.task_id for task, _ in first] == ["train"]
    # One task, two inputs: one reader.
    lineage_store.artifacts.add_consumer("table", "eval", "again")
    assert lineage_store.artifacts.count_readers("table") == 2
    assert len(lineage_store.artifacts.readers("table")) == 3
    assert lineage_store.artifacts.readers("nope") == []
    assert lineage_store.artifacts.count_readers("nope") == 0
