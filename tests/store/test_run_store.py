"""The RunStore contract, written once and run against every database in ``store_url``."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

import kubeline.store
from kubeline.store import RunRecord, RunStore, TaskRecord, process_alive, schema
from tests.store.conftest import T0, make_artifact, make_cache, make_run, make_task


def _datetimes(record: object) -> list[datetime]:
    values = (getattr(record, f.name) for f in dataclasses.fields(record))
    return [value for value in values if isinstance(value, datetime)]


def _assert_utc(record: object) -> None:
    for value in _datetimes(record):
        assert value.tzinfo is timezone.utc, value


class TestRunStore:
    # round trips

    def test_run_round_trips_every_field(self, store: RunStore) -> None:
        run = make_run()
        store.runs.add(run)
        got = store.runs.get(run.run_id)
        assert got == run
        assert len(_datetimes(got)) == 3
        _assert_utc(got)

    def test_task_round_trips_every_field(self, store: RunStore) -> None:
        store.runs.add(make_run())
        parent = make_task("dag-1", kind="dag")
        child = make_task("task-1", parent_task_id="dag-1")
        store.tasks.add(parent)
        store.tasks.add(child)
        got = store.tasks.get("task-1")
        assert got == child
        assert len(_datetimes(got)) == 3
        _assert_utc(got)

    def test_artifact_round_trips_every_field(self, store: RunStore) -> None:
        store.runs.add(make_run())
        store.tasks.add(make_task())
        artifact = make_artifact()
        store.artifacts.add(artifact)
        got = store.artifacts.get(artifact.artifact_id)
        assert got == artifact
        _assert_utc(got)

    def test_cache_round_trips_every_field(self, store: RunStore) -> None:
        record = make_cache()
        store.cache.put(record)
        got = store.cache.get(record.key)
        assert got == record
        _assert_utc(got)

    def test_defaults_and_nones_round_trip(self, store: RunStore) -> None:
        run = RunRecord(run_id="r", pipeline_name="p", state="PENDING", created_at=T0)
        task = TaskRecord(task_id="t", run_id="r", name="n", path="n", kind="dag", state="PENDING")
        store.runs.add(run)
        store.tasks.add(task)
        assert store.runs.get("r") == run
        assert store.tasks.get("t") == task

    def test_missing_records_are_none(self, store: RunStore) -> None:
        assert store.runs.get("nope") is None
        assert store.tasks.get("nope") is None
        assert store.artifacts.get("nope") is None
        assert store.cache.get("nope") is None

    def test_naive_datetime_is_refused(self, store: RunStore) -> None:
        with pytest.raises(ValueError, match=r"created_at=.* is a naive datetime"):
            store.runs.add(make_run(created_at=datetime(2024, 5, 1, 12)))
        store.runs.add(make_run())
        with pytest.raises(ValueError, match=r"finished_at=.* is a naive datetime"):
            store.runs.update("run-1", finished_at=datetime(2024, 5, 1, 12))

    # updates

    def test_update_run_sets_only_the_given_fields(self, store: RunStore) -> None:
        store.runs.add(make_run(state="RUNNING", outputs={}))
        finished = T0 + timedelta(hours=1)
        assert store.runs.update(
            "run-1", state="SUCCEEDED", outputs={"a": {"b": 1}}, finished_at=finished
        )
        assert store.runs.get("run-1") == make_run(
            state="SUCCEEDED", outputs={"a": {"b": 1}}, finished_at=finished
        )

    def test_update_task_sets_only_the_given_fields(self, store: RunStore) -> None:
        store.runs.add(make_run())
        store.tasks.add(make_task(state="RUNNING", exit_code=None))
        assert store.tasks.update("task-1", state="FAILED", exit_code=137)
        assert store.tasks.get("task-1") == make_task(state="FAILED", exit_code=137)

    def test_update_of_missing_record_returns_false(self, store: RunStore) -> None:
        assert not store.runs.update("nope", state="FAILED")
        assert not store.tasks.update("nope", state="FAILED")

    @pytest.mark.parametrize(
        ("section", "key", "bad"),
        [
            ("runs", "run-1", "colour"),
            ("runs", "run-1", "run_id"),
            ("tasks", "task-1", "colour"),
            ("tasks", "task-1", "task_id"),
        ],
        ids=["run-unknown", "run-key", "task-unknown", "task-key"],
    )
    def test_update_rejects_fields_it_cannot_set(
        self, store: RunStore, section: str, key: str, bad: str
    ) -> None:
        store.runs.add(make_run())
        store.tasks.add(make_task())
        with pytest.raises(ValueError, match=f"cannot update .* field\\(s\\) '{bad}'; expected"):
            getattr(store, section).update(key, state="FAILED", **{bad: "x"})
        assert store.runs.get("run-1") == make_run()
        assert store.tasks.get("task-1") == make_task()

    # listing runs

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({}, ["r1", "r2", "r3", "r4"]),
            ({"state": "FAILED"}, ["r2", "r4"]),
            ({"pipeline_name": "score"}, ["r3", "r4"]),
            ({"experiment_id": "exp-b"}, ["r2"]),
            ({"storage_state": "ARCHIVED"}, ["r4"]),
            ({"state": "FAILED", "pipeline_name": "score"}, ["r4"]),
            ({"state": "CANCELED"}, []),
        ],
        ids=["none", "state", "pipeline", "experiment", "storage", "combined", "no-match"],
    )
    def test_list_and_count_runs_filter(
        self, store: RunStore, filters: dict[str, str], expected: list[str]
    ) -> None:
        for i, (state, pipeline, experiment, storage) in enumerate(
            [
                ("SUCCEEDED", "train", "exp-a", "AVAILABLE"),
                ("FAILED", "train", "exp-b", "AVAILABLE"),
                ("RUNNING", "score", None, "AVAILABLE"),
                ("FAILED", "score", "exp-a", "ARCHIVED"),
            ],
            start=1,
        ):
            store.runs.add(
                make_run(
                    f"r{i}",
                    created_at=T0 + timedelta(minutes=i),
                    state=state,
                    pipeline_name=pipeline,
                    experiment_id=experiment,
                    storage_state=storage,
                )
            )
        got = store.runs.list(**filters, descending=False)
        assert [run.run_id for run in got] == expected
        assert store.runs.count(**filters) == len(expected)

    @pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
    @pytest.mark.parametrize(
        "order_by", ["created_at", "finished_at", "display_name", "state", "pipeline_name", "pid"]
    )
    def test_list_runs_orders(self, store: RunStore, order_by: str, descending: bool) -> None:
        # Each column sorts the runs differently, so a wrong column shows.
        rows = [
            ("r1", 3, 1, "charlie", "FAILED", "b", 20),
            ("r2", 1, 4, "alpha", "SUCCEEDED", "d", 30),
            ("r3", 4, 2, "delta", "CANCELED", "a", 40),
            ("r4", 2, 3, "bravo", "RUNNING", "c", 10),
        ]
        for run_id, created, finished, display, state, pipeline, pid in rows:
            store.runs.add(
                make_run(
                    run_id,
                    created_at=T0 + timedelta(hours=created),
                    finished_at=T0 + timedelta(days=finished),
                    display_name=display,
                    state=state,
                    pipeline_name=pipeline,
                    pid=pid,
                )
            )
        runs = [store.runs.get(row[0]) for row in rows]
        expected = sorted(runs, key=lambda run: getattr(run, order_by), reverse=descending)
        got = store.runs.list(order_by=order_by, descending=descending)
        assert [run.run_id for run in got] == [run.run_id for run in expected]

    @pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
    def test_list_runs_puts_missing_values_last(self, store: RunStore, descending: bool) -> None:
        store.runs.add(make_run("unfinished", finished_at=None))
        store.runs.add(make_run("early", finished_at=T0))
        store.runs.add(make_run("late", finished_at=T0 + timedelta(hours=1)))
        got = store.runs.list(order_by="finished_at", descending=descending)
        finished = ["late", "early"] if descending else ["early", "late"]
        assert [run.run_id for run in got] == [*finished, "unfinished"]

    def test_list_runs_pages(self, store: RunStore) -> None:
        for i in range(7):
            # Two runs share each creation time: ties must not make pages overlap.
            store.runs.add(make_run(f"r{i}", created_at=T0 + timedelta(minutes=i // 2)))
        everything = store.runs.list(limit=100)
        pages = [store.runs.list(limit=3, offset=offset) for offset in (0, 3, 6)]
        assert [len(page) for page in pages] == [3, 3, 1]
        assert [run for page in pages for run in page] == everything
        assert [run.created_at for run in everything] == sorted(
            (run.created_at for run in everything), reverse=True
        )
        assert store.runs.list(limit=3, offset=7) == []
        assert store.runs.count() == 7

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            # JSON columns cannot be compared on every database.
            ({"order_by": "spec"}, "cannot order runs by 'spec'; expected one of cache_enabled,"),
            ({"order_by": "colour"}, "cannot order runs by 'colour'; expected one of"),
            ({"limit": -1}, "limit and offset must be >= 0, got -1 and 0"),
            ({"offset": -5}, "limit and offset must be >= 0, got 50 and -5"),
        ],
        ids=["order-by-json", "order-by-unknown", "limit", "offset"],
    )
    def test_list_runs_rejects_bad_arguments(
        self, store: RunStore, kwargs: dict[str, object], message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            store.runs.list(**kwargs)

    @pytest.mark.parametrize(
        ("prefix", "expected"),
        [
            ("abc", ["abc456", "abc123"]),
            ("abc1", ["abc123"]),
            ("a_", ["a_c"]),  # "_" is a LIKE wildcard: it must match only itself
            ("a%", []),
            ("zzz", []),
            ("abc123", ["abc123"]),
        ],
        ids=["shared", "unique", "underscore", "percent", "none", "whole-id"],
    )
    def test_find_runs_by_prefix(self, store: RunStore, prefix: str, expected: list[str]) -> None:
        for i, run_id in enumerate(["abc123", "abc456", "abd000", "a_c"]):
            store.runs.add(make_run(run_id, created_at=T0 + timedelta(minutes=i)))
        assert [run.run_id for run in store.runs.find(prefix)] == expected

    # tasks and artifacts

    def test_list_tasks_by_creation_then_path(self, store: RunStore) -> None:
        store.runs.add(make_run())
        store.runs.add(make_run("other"))
        store.tasks.add(make_task("t-b", path="b", created_at=T0))
        store.tasks.add(make_task("t-late", path="a-late", created_at=T0 + timedelta(seconds=1)))
        store.tasks.add(make_task("t-a", path="a", created_at=T0))
        store.tasks.add(make_task("t-other", run_id="other"))
        assert [task.task_id for task in store.tasks.list("run-1")] == ["t-a", "t-b", "t-late"]

    def test_task_path_is_unique_in_its_run(self, store: RunStore) -> None:
        store.runs.add(make_run())
        store.runs.add(make_run("other"))
        store.tasks.add(make_task("t1", path="train"))
        store.tasks.add(make_task("t2", run_id="other", path="train"))
        with pytest.raises(Exception, match=r"(?i)unique"):
            store.tasks.add(make_task("t3", path="train"))

    def test_list_artifacts_filters(self, store: RunStore) -> None:
        store.runs.add(make_run())
        store.runs.add(make_run("other"))
        store.tasks.add(make_task("t1"))
        store.tasks.add(make_task("t2"))
        store.tasks.add(make_task("t3", run_id="other"))
        store.artifacts.add(make_artifact("a1", producer_task_id="t1"))
        store.artifacts.add(make_artifact("a2", producer_task_id="t2"))
        store.artifacts.add(make_artifact("a3", run_id="other", producer_task_id="t3"))

        def ids(**filters: str) -> list[str]:
            return sorted(a.artifact_id for a in store.artifacts.list(**filters))

        assert ids() == ["a1", "a2", "a3"]
        assert ids(run_id="run-1") == ["a1", "a2"]
        assert ids(producer_task_id="t2") == ["a2"]
        assert ids(run_id="other", producer_task_id="t1") == []

    def test_consumers(self, store: RunStore) -> None:
        store.runs.add(make_run())
        for task_id in ("t1", "t2", "t3"):
            store.tasks.add(make_task(task_id))
        store.artifacts.add(make_artifact("a1", producer_task_id="t1"))
        store.artifacts.add_consumer("a1", "t3", "model")
        store.artifacts.add_consumer("a1", "t2", "model")
        store.artifacts.add_consumer("a1", "t2", "baseline")
        store.artifacts.add_consumer("a1", "t2", "model")  # again, as a retried task would
        expected = [("t2", "baseline"), ("t2", "model"), ("t3", "model")]
        assert store.artifacts.consumers("a1") == expected
        assert store.artifacts.consumers("nope") == []

    def test_delete_run_cascades(self, store: RunStore) -> None:
        for run_id in ("run-1", "keep"):
            store.runs.add(make_run(run_id))
            store.tasks.add(make_task(f"{run_id}-dag", run_id=run_id, kind="dag"))
            store.tasks.add(make_task(f"{run_id}-t", run_id=run_id, parent_task_id=f"{run_id}-dag"))
            store.artifacts.add(make_artifact(f"{run_id}-a", run_id, f"{run_id}-dag"))
            store.artifacts.add_consumer(f"{run_id}-a", f"{run_id}-t", "data")
        store.cache.put(make_cache(run_id="run-1"))

        assert store.runs.delete("run-1")

        assert store.runs.get("run-1") is None
        assert store.tasks.list("run-1") == []
        assert store.tasks.get("run-1-t") is None
        assert store.artifacts.list(run_id="run-1") == []
        assert store.artifacts.consumers("run-1-a") == []
        assert not store.runs.delete("run-1")
        # The other run is whole, and the cache outlives the run that filled it.
        assert store.runs.get("keep") == make_run("keep")
        assert len(store.tasks.list("keep")) == 2
        assert store.artifacts.consumers("keep-a") == [("keep-t", "data")]
        assert store.cache.get(make_cache().key) is not None

    # cache

    def test_cache_put_replace_delete(self, store: RunStore) -> None:
        store.cache.put(make_cache())
        newer = make_cache(outputs={"score": 0.95}, artifacts={}, run_id="run-2", task_id="t9")
        store.cache.put(newer)
        assert store.cache.get(newer.key) == newer
        store.cache.delete(newer.key)
        assert store.cache.get(newer.key) is None
        store.cache.delete(newer.key)  # deleting what is gone is fine

    # recovery

    def test_fail_orphaned_runs(self, store: RunStore) -> None:
        states = {
            "dead-running": "RUNNING",
            "dead-pending": "PENDING",
            "dead-canceling": "CANCELING",
            "alive-running": "RUNNING",
            "dead-succeeded": "SUCCEEDED",
            "dead-failed": "FAILED",
        }
        for run_id, state in states.items():
            store.runs.add(make_run(run_id, state=state, error=None, finished_at=None))
            for task_state in ("RUNNING", "PENDING", "SUCCEEDED"):
                store.tasks.add(
                    make_task(
                        f"{run_id}/{task_state}",
                        run_id=run_id,
                        state=task_state,
                        error=None,
                        finished_at=None,
                    )
                )
        asked: list[str] = []

        def is_alive(run: RunRecord) -> bool:
            asked.append(run.run_id)
            return run.run_id.startswith("alive")

        changed = store.runs.fail_orphaned(is_alive, "the engine process died")

        assert sorted(changed) == ["dead-canceling", "dead-pending", "dead-running"]
        assert sorted(asked) == ["alive-running", *sorted(changed)]
        for run_id, state in states.items():
            run = store.runs.get(run_id)
            tasks = {task.path: task for task in store.tasks.list(run_id)}
            if run_id in changed:
                assert (run.state, run.error) == ("FAILED", "the engine process died")
                assert run.finished_at is not None
                assert run.finished_at.tzinfo is timezone.utc
                for task_state in ("RUNNING", "PENDING"):
                    task = tasks[f"{run_id}/{task_state}"]
                    assert (task.state, task.error) == ("FAILED", "the engine process died")
                    assert task.finished_at is not None
                assert tasks[f"{run_id}/SUCCEEDED"] == make_task(
                    f"{run_id}/SUCCEEDED", run_id=run_id, error=None, finished_at=None
                )
            else:
                assert run == make_run(run_id, state=state, error=None, finished_at=None)
                assert [task.state for task in tasks.values()] == [
                    "PENDING",
                    "RUNNING",
                    "SUCCEEDED",
                ]
        assert store.runs.fail_orphaned(is_alive, "again") == []

    # several users of one database

    def test_two_stores_see_each_others_writes(self, store: RunStore, store_url: str) -> None:
        with RunStore(store_url) as other:
            store.runs.add(make_run(state="RUNNING"))
            assert other.runs.get("run-1") == make_run(state="RUNNING")
            other.runs.update("run-1", state="SUCCEEDED")
            assert store.runs.get("run-1").state == "SUCCEEDED"
            other.cache.put(make_cache())
            assert store.cache.get(make_cache().key) == make_cache()
            assert store.runs.delete("run-1")
            assert other.runs.get("run-1") is None

    def test_threads_write_concurrently(self, store: RunStore) -> None:
        store.runs.add(make_run())
        threads, per_thread = 8, 50
        start = threading.Barrier(threads)  # all threads write at once

        def add_tasks(thread: int) -> None:
            start.wait()
            for i in range(per_thread):
                store.tasks.add(make_task(f"t{thread}-{i}"))

        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(add_tasks, thread) for thread in range(threads)]:
                future.result()  # re-raises a thread's error here
        assert len(store.tasks.list("run-1")) == threads * per_thread

    def test_processes_write_concurrently(self, store: RunStore, store_url: str) -> None:
        script = (
            "import sys\n"
            "from kubeline.store import RunStore\n"
            "from tests.store.conftest import make_run\n"
            "with RunStore(sys.argv[1]) as store:\n"
            "    for i in range(50):\n"
            "        store.runs.add(make_run(f'child-{i}'))\n"
        )
        repo = Path(__file__).resolve().parents[2]
        child = subprocess.Popen([sys.executable, "-c", script, store_url], cwd=repo)
        try:
            for i in range(50):
                store.runs.add(make_run(f"parent-{i}"))
        finally:
            assert child.wait(timeout=120) == 0
        assert store.runs.count() == 100


class TestProcessAlive:
    def test_this_process_is_alive(self) -> None:
        assert process_alive(make_run(host=socket.gethostname(), pid=os.getpid()))

    def test_exited_process_is_dead(self) -> None:
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        child.wait()
        assert not process_alive(make_run(host=socket.gethostname(), pid=child.pid))

    def test_no_pid_is_dead(self) -> None:
        assert not process_alive(make_run(host=socket.gethostname(), pid=None))

    @pytest.mark.parametrize("pid", [None, os.getpid()], ids=["no-pid", "some-pid"])
    def test_another_hosts_run_counts_as_alive(self, pid: int | None) -> None:
        assert process_alive(make_run(host=f"not-{socket.gethostname()}", pid=pid))

    def test_orphans_of_a_dead_process_are_failed(self, store: RunStore) -> None:
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        child.wait()
        here = socket.gethostname()
        store.runs.add(make_run("dead", state="RUNNING", host=here, pid=child.pid))
        store.runs.add(make_run("me", state="RUNNING", host=here, pid=os.getpid()))
        assert store.runs.fail_orphaned(process_alive, "process gone") == ["dead"]


def test_for_home_creates_the_folder_and_file(tmp_path: Path) -> None:
    home = tmp_path / "a" / "kubeline home #1"  # a space and a '#' a URL would misread
    with RunStore.for_home(home) as store:
        store.runs.add(make_run())
    assert (home / "kubeline.db").is_file()
    with RunStore.for_home(home) as store:
        assert store.runs.get("run-1") == make_run()


def test_database_url_is_the_environment_s_or_the_home_s_sqlite_file(tmp_path: Path) -> None:
    home = tmp_path / "odd ?name #2"  # what a URL string would cut short
    pg = "postgresql://kubeline@db/kubeline"
    assert kubeline.store.database_url(home, {"KUBELINE_DATABASE_URL": pg}) == pg
    url = kubeline.store.database_url(home, {})
    assert sa.make_url(url).database == str(home / "kubeline.db")
    with kubeline.store.open_store(url) as store:
        store.runs.add(make_run())
    assert (home / "kubeline.db").is_file()


def test_open_store_reads_no_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELINE_DATABASE_URL", "postgresql://nobody@nowhere.invalid/x")
    with kubeline.store.open_store(f"sqlite:///{tmp_path / 'k.db'}") as store:
        assert store.runs.list() == []
    with RunStore.for_home(tmp_path) as store:
        assert store.runs.list() == []


def test_opening_adds_indexes_an_older_database_lacks(store_url: str) -> None:
    with RunStore(store_url):
        pass
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP INDEX ix_runs_pipeline_id"))
        with RunStore(store_url):
            pass
        indexes = {index["name"] for index in sa.inspect(engine).get_indexes("runs")}
    finally:
        engine.dispose()
    assert "ix_runs_pipeline_id" in indexes


@pytest.mark.parametrize(
    ("table", "record"),
    [
        (schema.runs, kubeline.store.RunRecord),
        (schema.tasks, kubeline.store.TaskRecord),
        (schema.artifacts, kubeline.store.ArtifactRecord),
        (schema.cache_entries, kubeline.store.CacheRecord),
        (schema.pipelines, kubeline.store.PipelineRecord),
        (schema.pipeline_versions, kubeline.store.PipelineVersionRecord),
        (schema.experiments, kubeline.store.ExperimentRecord),
        (schema.recurring_runs, kubeline.store.RecurringRunRecord),
    ],
    ids=[
        "runs",
        "tasks",
        "artifacts",
        "cache",
        "pipelines",
        "pipeline-versions",
        "experiments",
        "recurring-runs",
    ],
)
def test_columns_match_record_fields(table: object, record: type) -> None:
    assert [column.name for column in table.columns] == [f.name for f in dataclasses.fields(record)]


def test_exported_members() -> None:
    assert sorted(kubeline.store.__all__) == [
        "ArtifactRecord",
        "CacheRecord",
        "ExperimentRecord",
        "ModelAliasRecord",
        "ModelRecord",
        "ModelVersionRecord",
        "PipelineRecord",
        "PipelineVersionRecord",
        "RecurringRunRecord",
        "RunRecord",
        "RunStore",
        "TaskRecord",
        "database_url",
        "open_store",
        "process_alive",
    ]
    for name in kubeline.store.__all__:
        assert getattr(kubeline.store, name).__module__.startswith("kubeline.store")
