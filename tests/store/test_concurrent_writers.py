"""Writers that race for the same rows, on every database of ``store_url``.

SQLite serializes writers (``BEGIN IMMEDIATE``), so a read-then-write in one transaction
cannot interleave there; PostgreSQL runs them side by side (READ COMMITTED), so each of
these races has to be closed by the store itself: the model registry's next version
number, an alias moved by two callers, the Default experiment, and the schema made by the
first processes to open a new, empty database at the same moment (a team's server and
CLI runs on one PostgreSQL database).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from kubeline.store import ModelVersionRecord, RunStore

T = TypeVar("T")
THREADS = 8
REPO = Path(__file__).resolve().parents[2]


def at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """``work(i)`` for i in range(count), from as many threads released together; a
    thread's error is raised here."""
    start = threading.Barrier(count)

    def run(i: int) -> T:
        start.wait()
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return [future.result() for future in [pool.submit(run, i) for i in range(count)]]


def model_version(digest: str, name: str = "iris") -> ModelVersionRecord:
    return ModelVersionRecord(
        name=name,
        version=0,
        uri=f"file:///models/{digest}",
        created_at=datetime(2024, 5, 1, tzinfo=timezone.utc),
        digest=digest,
    )


def test_new_versions_of_a_new_model_at_once_get_distinct_numbers(store: RunStore) -> None:
    registered = at_once(THREADS, lambda i: store.models.register_version(model_version(f"d{i}")))
    assert all(new for _, new in registered)
    assert sorted(record.version for record, _ in registered) == list(range(1, THREADS + 1))
    assert [v.version for v in store.models.list_versions("iris")] == list(range(THREADS, 0, -1))
    assert [m.name for m in store.models.list()] == ["iris"]


def test_the_same_model_registered_at_once_is_one_version(store: RunStore) -> None:
    registered = at_once(THREADS, lambda i: store.models.register_version(model_version("same")))
    assert sorted(new for _, new in registered) == [False] * (THREADS - 1) + [True]
    assert {record.version for record, _ in registered} == {1}


def test_an_alias_moved_by_several_callers_at_once_points_at_one_of_them(
    store: RunStore,
) -> None:
    for i in range(THREADS):
        store.models.register_version(model_version(f"d{i}"))
    at_once(THREADS, lambda i: store.models.set_alias("iris", "champion", i + 1))
    (alias,) = store.models.aliases("iris")
    assert alias.alias == "champion"
    assert 1 <= alias.version <= THREADS


def test_the_default_experiment_made_at_once_is_one_experiment(store: RunStore) -> None:
    made = at_once(THREADS, lambda _: store.experiments.ensure_default())
    assert len({experiment.experiment_id for experiment in made}) == 1
    assert store.experiments.count() == 1


def test_processes_opening_a_new_database_at_once_make_one_schema(store_url: str) -> None:
    script = (
        "import sys\n"
        "from kubeline.store import RunStore\n"
        "from tests.store.conftest import make_run\n"
        "with RunStore(sys.argv[1]) as store:\n"
        "    store.runs.add(make_run(sys.argv[2]))\n"
        "    store.experiments.ensure_default()\n"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, store_url, f"run-{i}"],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    errors = [child.communicate(timeout=120)[1] for child in children]
    assert [child.returncode for child in children] == [0] * 4, "\n".join(errors)
    with RunStore(store_url) as store:
        assert sorted(run.run_id for run in store.runs.list()) == [f"run-{i}" for i in range(4)]
        assert store.experiments.count() == 1
