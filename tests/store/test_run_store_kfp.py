"""The RunStore contract for the records behind the KFP API (pipelines and their versions,
experiments, recurring runs) and for the list filters, run against every database in
``store_url``."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubeline.store import (
    DuplicateError,
    ExperimentRecord,
    PipelineRecord,
    PipelineVersionRecord,
    RecurringRunRecord,
    RunStore,
)
from tests.store.conftest import (
    CEST,
    T0,
    make_experiment,
    make_pipeline,
    make_recurring_run,
    make_run,
    make_version,
)


def _datetimes(record: object) -> list[datetime]:
    values = (getattr(record, f.name) for f in dataclasses.fields(record))
    return [value for value in values if isinstance(value, datetime)]


def _assert_utc(record: object) -> None:
    for value in _datetimes(record):
        assert value.tzinfo is timezone.utc, value


def _minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


@dataclasses.dataclass(frozen=True)
class _Kind:
    """One kind of listed record, so that a listing test runs over every kind."""

    key: str  # the id field
    name: str  # a text field, to sort by
    same: str  # a field all records of the test share, to sort by ties
    make: Callable[..., Any]
    add: Callable[[RunStore, Any], None]
    list: Callable[..., list[Any]]
    count: Callable[[RunStore], int]


def _pipeline_store(store: RunStore) -> RunStore:
    if store.get_pipeline("pipe-1") is None:
        store.add_pipeline(make_pipeline())
    return store


_KINDS = {
    "runs": _Kind(
        key="run_id",
        name="display_name",
        same="state",
        make=make_run,
        add=RunStore.add_run,
        list=RunStore.list_runs,
        count=RunStore.count_runs,
    ),
    "pipelines": _Kind(
        key="pipeline_id",
        name="name",
        same="namespace",
        make=make_pipeline,
        add=RunStore.add_pipeline,
        list=RunStore.list_pipelines,
        count=RunStore.count_pipelines,
    ),
    "versions": _Kind(
        key="pipeline_version_id",
        name="name",
        same="pipeline_id",
        make=make_version,
        add=lambda store, version: _pipeline_store(store).add_pipeline_version(version),
        list=lambda store, **kw: store.list_pipeline_versions("pipe-1", **kw),
        count=lambda store: store.count_pipeline_versions("pipe-1"),
    ),
    "experiments": _Kind(
        key="experiment_id",
        name="name",
        same="storage_state",
        make=make_experiment,
        add=RunStore.add_experiment,
        list=RunStore.list_experiments,
        count=RunStore.count_experiments,
    ),
    "recurring-runs": _Kind(
        key="recurring_run_id",
        name="name",
        same="experiment_id",
        make=make_recurring_run,
        add=RunStore.add_recurring_run,
        list=RunStore.list_recurring_runs,
        count=RunStore.count_recurring_runs,
    ),
}


@pytest.fixture(params=sorted(_KINDS), ids=sorted(_KINDS))
def kind(request: pytest.FixtureRequest) -> _Kind:
    return _KINDS[request.param]


class TestKfpRecords:
    # round trips

    def test_pipeline_round_trips_every_field(self, store: RunStore) -> None:
        pipeline = make_pipeline()
        store.add_pipeline(pipeline)
        for got in (store.get_pipeline("pipe-1"), store.get_pipeline_by_name("iris", "team-a")):
            assert got == pipeline
            _assert_utc(got)

    def test_pipeline_version_round_trips_every_field(self, store: RunStore) -> None:
        store.add_pipeline(make_pipeline())
        version = make_version()
        store.add_pipeline_version(version)
        got = store.get_pipeline_version("ver-1")
        assert got == version
        _assert_utc(got)

    def test_experiment_round_trips_every_field(self, store: RunStore) -> None:
        experiment = make_experiment()
        store.add_experiment(experiment)
        for got in (
            store.get_experiment("exp-1"),
            store.get_experiment_by_name("tuning", "team-a"),
        ):
            assert got == experiment
            assert len(_datetimes(got)) == 2
            _assert_utc(got)

    def test_recurring_run_round_trips_every_field(self, store: RunStore) -> None:
        recurring_run = make_recurring_run()
        store.add_recurring_run(recurring_run)
        got = store.get_recurring_run("rec-1")
        assert got == recurring_run
        assert len(_datetimes(got)) == 6
        _assert_utc(got)

    def test_defaults_and_nones_round_trip(self, store: RunStore) -> None:
        pipeline = PipelineRecord(pipeline_id="p", name="p", created_at=T0)
        version = PipelineVersionRecord(
            pipeline_version_id="v", pipeline_id="p", name="v", created_at=T0
        )
        experiment = ExperimentRecord(experiment_id="e", name="e", created_at=T0)
        recurring_run = RecurringRunRecord(
            recurring_run_id="r", name="r", created_at=T0, updated_at=T0
        )
        store.add_pipeline(pipeline)
        store.add_pipeline_version(version)
        store.add_experiment(experiment)
        store.add_recurring_run(recurring_run)
        assert store.get_pipeline("p") == pipeline
        assert store.get_pipeline_by_name("p") == pipeline
        assert store.get_pipeline_version("v") == version
        assert store.get_experiment("e") == experiment
        assert store.get_experiment_by_name("e") == experiment
        assert store.get_recurring_run("r") == recurring_run

    def test_missing_records(self, store: RunStore) -> None:
        store.add_pipeline(make_pipeline())
        store.add_experiment(make_experiment())
        assert store.get_pipeline("nope") is None
        assert store.get_pipeline_by_name("iris") is None  # it lives in namespace team-a
        assert store.get_pipeline_version("nope") is None
        assert store.latest_pipeline_version("pipe-1") is None
        assert store.get_experiment("nope") is None
        assert store.get_experiment_by_name("tuning", "team-b") is None
        assert store.get_recurring_run("nope") is None
        assert not store.update_pipeline("nope", name="x")
        assert not store.update_experiment("nope", name="x")
        assert not store.update_recurring_run("nope", enabled=True)
        assert not store.delete_pipeline("nope")
        assert not store.delete_pipeline_version("nope")
        assert not store.delete_experiment("nope")
        assert not store.delete_recurring_run("nope")

    # duplicates

    @pytest.mark.parametrize(
        ("add_twice", "message"),
        [
            (
                lambda store: store.add_pipeline(make_pipeline("pipe-4")),
                "a pipeline with namespace='team-a' and name='iris' already exists; "
                "choose another name",
            ),
            (
                lambda store: store.add_pipeline(make_pipeline(name="wine")),
                "a pipeline with pipeline_id='pipe-1' already exists; choose another pipeline_id",
            ),
            (
                lambda store: store.add_pipeline_version(make_version("ver-2")),
                "a pipeline version with pipeline_id='pipe-1' and name='v1' already exists",
            ),
            (
                lambda store: store.add_pipeline_version(make_version(name="v2")),
                "a pipeline version with pipeline_version_id='ver-1' already exists",
            ),
            (
                lambda store: store.add_experiment(make_experiment("exp-4")),
                "an experiment with namespace='team-a' and name='tuning' already exists",
            ),
            (
                lambda store: store.add_recurring_run(make_recurring_run(name="other")),
                "a recurring run with recurring_run_id='rec-1' already exists",
            ),
            (
                lambda store: store.update_pipeline("pipe-3", name="iris"),
                "a pipeline with namespace='team-a' and name='iris' already exists",
            ),
            (
                lambda store: store.update_pipeline("pipe-2", namespace="team-a"),
                "a pipeline with namespace='team-a' and name='iris' already exists",
            ),
            (
                lambda store: store.update_experiment("exp-3", name="tuning"),
                "experiment with namespace='team-a' and name='tuning' already exists",
            ),
        ],
        ids=[
            "pipeline-name",
            "pipeline-id",
            "version-name",
            "version-id",
            "experiment-name",
            "recurring-run-id",
            "pipeline-renamed",
            "pipeline-moved",
            "experiment-renamed",
        ],
    )
    def test_duplicates_are_refused(
        self, store: RunStore, add_twice: Callable[[RunStore], None], message: str
    ) -> None:
        store.add_pipeline(make_pipeline())
        store.add_pipeline(make_pipeline("pipe-2", namespace="team-b"))  # the same name
        store.add_pipeline(make_pipeline("pipe-3", name="wine"))
        store.add_pipeline_version(make_version())
        store.add_pipeline_version(make_version("ver-9", pipeline_id="pipe-2"))  # the same name
        store.add_experiment(make_experiment())
        store.add_experiment(make_experiment("exp-2", namespace="team-b"))  # the same name
        store.add_experiment(make_experiment("exp-3", name="other"))
        store.add_recurring_run(make_recurring_run())
        with pytest.raises(DuplicateError, match=message):
            add_twice(store)
        # Nothing changed.
        assert [p.name for p in store.list_pipelines(order_by="pipeline_id")] == [
            "wine",
            "iris",
            "iris",
        ]
        assert store.get_pipeline("pipe-2") == make_pipeline("pipe-2", namespace="team-b")
        assert store.count_pipeline_versions("pipe-1") == 1
        assert store.get_experiment("exp-3") == make_experiment("exp-3", name="other")
        assert store.get_recurring_run("rec-1") == make_recurring_run()

    def test_duplicate_error_is_a_value_error(self) -> None:
        assert issubclass(DuplicateError, ValueError)

    def test_version_of_a_missing_pipeline_is_refused(self, store: RunStore) -> None:
        message = (
            "pipeline_id='nope' names no pipeline; add that pipeline before the pipeline version"
        )
        with pytest.raises(ValueError, match=message) as caught:
            store.add_pipeline_version(make_version(pipeline_id="nope"))
        assert not isinstance(caught.value, DuplicateError)
        assert store.get_pipeline_version("ver-1") is None

    # updates

    def test_updates_set_only_the_given_fields(self, store: RunStore) -> None:
        store.add_pipeline(make_pipeline())
        store.add_experiment(make_experiment())
        store.add_recurring_run(make_recurring_run())
        fired = T0 + timedelta(days=2)

        assert store.update_pipeline("pipe-1", description="Now with a forest.", name="iris2")
        assert store.update_experiment("exp-1", storage_state="AVAILABLE")
        assert store.update_recurring_run("rec-1", last_fired_at=fired, next_fire_at=None)

        assert store.get_pipeline("pipe-1") == make_pipeline(
            description="Now with a forest.", name="iris2"
        )
        assert store.get_experiment("exp-1") == make_experiment(storage_state="AVAILABLE")
        # updated_at stays: the scheduler moves next_fire_at without touching it.
        assert store.get_recurring_run("rec-1") == make_recurring_run(
            last_fired_at=fired, next_fire_at=None
        )

    @pytest.mark.parametrize(
        ("method", "key", "bad"),
        [
            ("update_pipeline", "pipe-1", "colour"),
            ("update_pipeline", "pipe-1", "pipeline_id"),
            ("update_experiment", "exp-1", "experiment_id"),
            ("update_recurring_run", "rec-1", "recurring_run_id"),
            ("update_recurring_run", "rec-1", "state"),
        ],
        ids=["pipeline-unknown", "pipeline-key", "experiment-key", "recurring-key", "recurring"],
    )
    def test_update_rejects_fields_it_cannot_set(
        self, store: RunStore, method: str, key: str, bad: str
    ) -> None:
        store.add_pipeline(make_pipeline())
        store.add_experiment(make_experiment())
        store.add_recurring_run(make_recurring_run())
        with pytest.raises(ValueError, match=f"cannot update .* field\\(s\\) '{bad}'; expected"):
            getattr(store, method)(key, description="changed", **{bad: "x"})
        assert store.get_pipeline("pipe-1") == make_pipeline()
        assert store.get_experiment("exp-1") == make_experiment()
        assert store.get_recurring_run("rec-1") == make_recurring_run()

    # deletes

    def test_delete_pipeline_cascades_to_its_versions_only(self, store: RunStore) -> None:
        for pipeline_id in ("pipe-1", "keep"):
            store.add_pipeline(make_pipeline(pipeline_id, name=pipeline_id))
            for name in ("v1", "v2"):
                version_id = f"{pipeline_id}-{name}"
                store.add_pipeline_version(make_version(version_id, pipeline_id, name=name))
        store.add_run(make_run(pipeline_id="pipe-1", pipeline_version_id="pipe-1-v1"))
        store.add_recurring_run(make_recurring_run(pipeline_id="pipe-1"))

        assert store.delete_pipeline("pipe-1")

        assert store.get_pipeline("pipe-1") is None
        assert store.get_pipeline_version("pipe-1-v1") is None
        assert store.list_pipeline_versions("pipe-1") == []
        assert not store.delete_pipeline("pipe-1")
        assert store.count_pipeline_versions("keep") == 2
        # As in KFP, runs and schedules of a deleted pipeline keep its ids.
        assert store.get_run("run-1").pipeline_version_id == "pipe-1-v1"
        assert store.get_recurring_run("rec-1").pipeline_id == "pipe-1"

    def test_delete_pipeline_version(self, store: RunStore) -> None:
        store.add_pipeline(make_pipeline())
        store.add_pipeline_version(make_version("ver-1", name="v1"))
        store.add_pipeline_version(make_version("ver-2", name="v2"))
        assert store.delete_pipeline_version("ver-1")
        assert not store.delete_pipeline_version("ver-1")
        assert [v.pipeline_version_id for v in store.list_pipeline_versions("pipe-1")] == ["ver-2"]
        assert store.get_pipeline("pipe-1") == make_pipeline()
        # Its name is free again.
        store.add_pipeline_version(make_version("ver-3", name="v1"))

    def test_delete_experiment_keeps_its_runs(self, store: RunStore) -> None:
        store.add_experiment(make_experiment())
        store.add_run(make_run(experiment_id="exp-1"))
        store.add_recurring_run(make_recurring_run(experiment_id="exp-1"))
        assert store.delete_experiment("exp-1")
        assert store.get_experiment("exp-1") is None
        assert store.get_run("run-1") == make_run(experiment_id="exp-1")
        assert store.get_recurring_run("rec-1") == make_recurring_run(experiment_id="exp-1")
        assert store.delete_recurring_run("rec-1")
        assert store.get_recurring_run("rec-1") is None

    # versions

    def test_latest_pipeline_version(self, store: RunStore) -> None:
        store.add_pipeline(make_pipeline())
        store.add_pipeline(make_pipeline("other", name="other"))
        store.add_pipeline_version(make_version("a", name="old", created_at=_minutes(1)))
        # Two versions made in the same instant: the larger id counts as the later one.
        store.add_pipeline_version(make_version("c", name="new-c", created_at=_minutes(2)))
        store.add_pipeline_version(make_version("b", name="new-b", created_at=_minutes(2)))
        store.add_pipeline_version(make_version("z", "other", created_at=_minutes(9)))
        assert store.latest_pipeline_version("pipe-1").pipeline_version_id == "c"
        assert store.latest_pipeline_version("other").pipeline_version_id == "z"
        assert [v.pipeline_version_id for v in store.list_pipeline_versions("pipe-1")] == [
            "c",
            "b",
            "a",
        ]
        assert store.count_pipeline_versions("pipe-1") == 3

    # the default experiment

    def test_ensure_default_experiment_creates_it_once(self, store: RunStore) -> None:
        default = store.ensure_default_experiment()
        assert (default.name, default.namespace, default.storage_state) == (
            "Default",
            "",
            "AVAILABLE",
        )
        _assert_utc(default)
        assert store.get_experiment(default.experiment_id) == default
        assert store.ensure_default_experiment() == default
        assert store.count_experiments() == 1

    def test_ensure_default_experiment_from_threads_at_once(self, store: RunStore) -> None:
        threads = 8
        start = threading.Barrier(threads)

        def ensure(_: int) -> ExperimentRecord:
            start.wait()
            return store.ensure_default_experiment()

        with ThreadPoolExecutor(threads) as pool:
            got = list(pool.map(ensure, range(threads)))
        assert store.count_experiments() == 1
        (default,) = store.list_experiments()
        assert got == [default] * threads

    def test_ensure_default_experiment_after_losing_the_race(
        self, store: RunStore, store_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Threads lose the race only now and then; here this store always does.
        with RunStore(store_url) as other:
            theirs = other.ensure_default_experiment()
        real = store.get_experiment_by_name
        missed: list[str] = []

        def first_look_misses(name: str, namespace: str = "") -> ExperimentRecord | None:
            if not missed:
                missed.append(name)
                return None  # as if the other store added it just after this look
            return real(name, namespace)

        monkeypatch.setattr(store, "get_experiment_by_name", first_look_misses)
        assert store.ensure_default_experiment() == theirs
        assert missed == ["Default"]
        assert store.count_experiments() == 1

    # recurring runs

    @pytest.mark.parametrize(
        ("fields", "due"),
        [
            ({"next_fire_at": _minutes(59)}, True),
            ({"next_fire_at": _minutes(60)}, True),
            ({"next_fire_at": _minutes(60).astimezone(CEST)}, True),
            ({"next_fire_at": _minutes(60) + timedelta(microseconds=1)}, False),
            ({"next_fire_at": None}, False),
            ({"next_fire_at": _minutes(59), "enabled": False}, False),
            ({"next_fire_at": _minutes(59), "end_time": _minutes(120)}, True),
            ({"next_fire_at": _minutes(59), "end_time": _minutes(59)}, True),
            ({"next_fire_at": _minutes(59), "end_time": _minutes(58)}, False),
            ({"next_fire_at": _minutes(59), "end_time": None}, True),
        ],
        ids=[
            "past",
            "now",
            "now-in-another-zone",
            "just-after-now",
            "never",
            "disabled",
            "ends-later",
            "ends-at-next-fire",
            "ended-before-next-fire",
            "no-end",
        ],
    )
    def test_due_recurring_runs_boundaries(
        self, store: RunStore, fields: dict[str, Any], due: bool
    ) -> None:
        values = {"enabled": True, "end_time": None, **fields}
        store.add_recurring_run(make_recurring_run(**values))
        got = store.due_recurring_runs(_minutes(60))
        assert [r.recurring_run_id for r in got] == (["rec-1"] if due else [])

    def test_due_recurring_runs_earliest_first(self, store: RunStore) -> None:
        for recurring_run_id, minute in [("b", 30), ("c", 10), ("a", 30), ("later", 90)]:
            store.add_recurring_run(
                make_recurring_run(
                    recurring_run_id, enabled=True, end_time=None, next_fire_at=_minutes(minute)
                )
            )
        got = store.due_recurring_runs(_minutes(60).astimezone(CEST))
        assert [r.recurring_run_id for r in got] == ["c", "a", "b"]

    def test_due_recurring_runs_refuses_a_naive_now(self, store: RunStore) -> None:
        with pytest.raises(ValueError, match="now=2024-05-01T12:00:00 is a naive datetime"):
            store.due_recurring_runs(datetime(2024, 5, 1, 12))

    def test_list_recurring_runs_by_experiment_and_enabled(self, store: RunStore) -> None:
        for recurring_run_id, experiment_id, enabled in [
            ("r1", "exp-a", True),
            ("r2", "exp-a", False),
            ("r3", "exp-b", True),
        ]:
            store.add_recurring_run(
                make_recurring_run(recurring_run_id, experiment_id=experiment_id, enabled=enabled)
            )

        def ids(**kw: Any) -> list[str]:
            got = store.list_recurring_runs(order_by="recurring_run_id", descending=False, **kw)
            assert store.count_recurring_runs(**kw) == len(got)
            return [r.recurring_run_id for r in got]

        assert ids() == ["r1", "r2", "r3"]
        assert ids(experiment_id="exp-a") == ["r1", "r2"]
        assert ids(enabled=True) == ["r1", "r3"]
        assert ids(enabled=False) == ["r2"]
        assert ids(experiment_id="exp-b", enabled=False) == []
        assert ids(filters=[("experiment_id", "NOT_EQUALS", "exp-a")]) == ["r3"]

    def test_list_experiments_by_storage_state(self, store: RunStore) -> None:
        store.add_experiment(make_experiment("e1", name="a", storage_state="AVAILABLE"))
        store.add_experiment(make_experiment("e2", name="b", storage_state="ARCHIVED"))
        store.add_experiment(make_experiment("e3", name="c", namespace="team-b"))
        archived = store.list_experiments(storage_state="ARCHIVED", order_by="name")
        assert [e.experiment_id for e in archived] == ["e3", "e2"]
        assert store.count_experiments(storage_state="AVAILABLE") == 1
        assert store.count_experiments(filters=[("namespace", "EQUALS", "team-b")]) == 1


# filters


def _add_runs(store: RunStore) -> None:
    rows = [
        ("r1", "SUCCEEDED", "train", "Nightly train", "exp-a", 10, True),
        ("r2", "FAILED", "train", "nightly TRAIN", "exp-b", 20, False),
        ("r3", "RUNNING", "score", "score 100%", None, None, True),
        ("r4", "FAILED", "score", "score a_b", "exp-a", 40, True),
    ]
    for i, (run_id, state, pipeline, display, experiment, pid, cache) in enumerate(rows, 1):
        store.add_run(
            make_run(
                run_id,
                created_at=_minutes(i),
                state=state,
                pipeline_name=pipeline,
                display_name=display,
                experiment_id=experiment,
                pid=pid,
                cache_enabled=cache,
            )
        )


_RUN_FILTERS = {
    "equals": ([("state", "EQUALS", "FAILED")], ["r2", "r4"]),
    "equals-none": ([("experiment_id", "EQUALS", None)], ["r3"]),
    "equals-bool": ([("cache_enabled", "EQUALS", False)], ["r2"]),
    "not-equals-keeps-nulls": ([("experiment_id", "NOT_EQUALS", "exp-a")], ["r2", "r3"]),
    "not-equals-none": ([("pid", "NOT_EQUALS", None)], ["r1", "r2", "r4"]),
    "greater-than": ([("created_at", "GREATER_THAN", _minutes(2))], ["r3", "r4"]),
    "greater-than-equals": (
        [("created_at", "GREATER_THAN_EQUALS", _minutes(2))],
        ["r2", "r3", "r4"],
    ),
    "less-than": ([("pid", "LESS_THAN", 20)], ["r1"]),
    "less-than-equals": ([("pid", "LESS_THAN_EQUALS", 20)], ["r1", "r2"]),
    "less-than-other-zone": ([("created_at", "LESS_THAN", _minutes(2).astimezone(CEST))], ["r1"]),
    "in": ([("state", "IN", ["RUNNING", "SUCCEEDED", "CANCELED"])], ["r1", "r3"]),
    "in-tuple": ([("pid", "IN", (10, 40))], ["r1", "r4"]),
    "in-with-none": ([("experiment_id", "IN", ["exp-b", None])], ["r2", "r3"]),
    "in-nothing": ([("state", "IN", [])], []),
    "substring-case-sensitive": ([("display_name", "IS_SUBSTRING", "train")], ["r1"]),
    "substring-percent-is-literal": ([("display_name", "IS_SUBSTRING", "%")], ["r3"]),
    "substring-underscore-is-literal": ([("display_name", "IS_SUBSTRING", "_")], ["r4"]),
    "substring-empty": ([("display_name", "IS_SUBSTRING", "")], ["r1", "r2", "r3", "r4"]),
    "two-filters": (
        [("state", "EQUALS", "FAILED"), ("pipeline_name", "NOT_EQUALS", "train")],
        ["r4"],
    ),
    "none": ([], ["r1", "r2", "r3", "r4"]),
}


@pytest.mark.parametrize(
    ("filters", "expected"), list(_RUN_FILTERS.values()), ids=list(_RUN_FILTERS)
)
def test_list_and_count_runs_with_filters(
    store: RunStore, filters: list[tuple[str, str, Any]], expected: list[str]
) -> None:
    _add_runs(store)
    got = store.list_runs(filters=filters, descending=False)
    assert [run.run_id for run in got] == expected
    assert store.count_runs(filters=filters) == len(expected)


def test_run_filters_and_keyword_filters_combine(store: RunStore) -> None:
    _add_runs(store)
    filters = [("display_name", "IS_SUBSTRING", "score")]
    got = store.list_runs(state="FAILED", filters=filters)
    assert [run.run_id for run in got] == ["r4"]
    assert store.count_runs(state="FAILED", filters=filters) == 1
    assert store.count_runs(state="FAILED") == 2


def _add_pipelines(store: RunStore) -> None:
    rows = [
        ("p1", "iris", ""),
        ("p2", "iris-v2", "team-a"),
        ("p3", "Iris_big", ""),
        ("p4", "wine 100%", "team-b"),
    ]
    for i, (pipeline_id, name, namespace) in enumerate(rows, 1):
        store.add_pipeline(
            make_pipeline(pipeline_id, name=name, namespace=namespace, created_at=_minutes(i))
        )


_PIPELINE_FILTERS = {
    "equals": ({"filters": [("name", "EQUALS", "iris")]}, ["p1"]),
    "not-equals": ({"filters": [("namespace", "NOT_EQUALS", "")]}, ["p2", "p4"]),
    "greater-than": ({"filters": [("created_at", "GREATER_THAN", _minutes(3))]}, ["p4"]),
    "greater-than-equals": (
        {"filters": [("created_at", "GREATER_THAN_EQUALS", _minutes(3))]},
        ["p3", "p4"],
    ),
    "less-than": ({"filters": [("namespace", "LESS_THAN", "team-b")]}, ["p1", "p2", "p3"]),
    "less-than-equals": (
        {"filters": [("created_at", "LESS_THAN_EQUALS", _minutes(2))]},
        ["p1", "p2"],
    ),
    "in": ({"filters": [("namespace", "IN", ["team-a", "team-b"])]}, ["p2", "p4"]),
    "substring": ({"filters": [("name", "IS_SUBSTRING", "iris")]}, ["p1", "p2"]),
    "name-contains": ({"name_contains": "iris"}, ["p1", "p2"]),
    "name-contains-percent": ({"name_contains": "%"}, ["p4"]),
    "name-contains-and-filter": (
        {"name_contains": "ris", "filters": [("namespace", "EQUALS", "")]},
        ["p1", "p3"],
    ),
    "none": ({}, ["p1", "p2", "p3", "p4"]),
}


@pytest.mark.parametrize(
    ("kwargs", "expected"), list(_PIPELINE_FILTERS.values()), ids=list(_PIPELINE_FILTERS)
)
def test_list_and_count_pipelines_with_filters(
    store: RunStore, kwargs: dict[str, Any], expected: list[str]
) -> None:
    _add_pipelines(store)
    got = store.list_pipelines(descending=False, **kwargs)
    assert [pipeline.pipeline_id for pipeline in got] == expected
    assert store.count_pipelines(**kwargs) == len(expected)


def test_list_pipeline_versions_with_filters(store: RunStore) -> None:
    store.add_pipeline(make_pipeline())
    store.add_pipeline(make_pipeline("other", name="other"))
    for i, name in enumerate(["v1", "v2", "v10"]):
        store.add_pipeline_version(make_version(name, name=name, created_at=_minutes(i)))
    store.add_pipeline_version(make_version("other-v1", "other", name="v1"))
    filters = [("name", "IN", ["v1", "v10"])]
    got = store.list_pipeline_versions("pipe-1", filters=filters, order_by="name")
    assert [v.pipeline_version_id for v in got] == ["v10", "v1"]
    assert store.count_pipeline_versions("pipe-1", filters=filters) == 2


_BAD_FILTERS = {
    "unknown-field": (
        ("colour", "EQUALS", "red"),
        "cannot filter runs by 'colour'; expected one of cache_enabled, created_at, display_name",
    ),
    "json-field": (("spec", "EQUALS", {}), "cannot filter runs by 'spec'; expected one of"),
    "unknown-op": (
        ("state", "LIKE", "FAIL%"),
        "unknown filter op 'LIKE' on 'state'; expected one of EQUALS, NOT_EQUALS, GREATER_THAN,",
    ),
    "lower-case-op": (("state", "equals", "FAILED"), "unknown filter op 'equals'"),
    "in-a-string": (
        ("state", "IN", "FAILED"),
        "filter state IN needs a list of values, got 'FAILED'",
    ),
    "equals-a-list": (
        ("state", "EQUALS", ["FAILED"]),
        r"filter state EQUALS needs one value, got \['FAILED'\]; only IN takes a list",
    ),
    "greater-than-none": (
        ("pid", "GREATER_THAN", None),
        "filter pid GREATER_THAN needs a value, got None",
    ),
    "substring-of-a-number": (
        ("pid", "IS_SUBSTRING", "4"),
        "filter pid IS_SUBSTRING needs a text field; pid is not one",
    ),
    "substring-not-a-string": (
        ("state", "IS_SUBSTRING", 4),
        "filter state IS_SUBSTRING needs a string, got 4",
    ),
    "naive-datetime": (
        ("created_at", "GREATER_THAN", datetime(2024, 5, 1)),
        "created_at=2024-05-01T00:00:00 is a naive datetime",
    ),
    "naive-datetime-in-list": (
        ("created_at", "IN", [T0, datetime(2024, 5, 1)]),
        "created_at=2024-05-01T00:00:00 is a naive datetime",
    ),
    "not-a-triple": (
        ("state", "FAILED"),
        r"a filter is a \(field, op, value\) tuple, got \('state', 'FAILED'\)",
    ),
}


@pytest.mark.parametrize(("bad", "message"), list(_BAD_FILTERS.values()), ids=list(_BAD_FILTERS))
def test_run_filters_refuse_bad_filters(store: RunStore, bad: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.list_runs(filters=[bad])
    with pytest.raises(ValueError, match=message):
        store.count_runs(filters=[bad])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda store: store.list_pipelines(filters=[("state", "EQUALS", "x")]),
            "cannot filter pipelines by 'state'; expected one of created_at, description,",
        ),
        (
            lambda store: store.count_pipeline_versions("p", filters=[("spec", "EQUALS", {})]),
            "cannot filter pipeline versions by 'spec'; expected one of created_at,",
        ),
        (
            lambda store: store.count_experiments(filters=[("state", "EQUALS", "x")]),
            "cannot filter experiments by 'state'",
        ),
        (
            lambda store: store.list_recurring_runs(filters=[("arguments", "EQUALS", {})]),
            "cannot filter recurring runs by 'arguments'; expected one of cache_enabled,",
        ),
        (
            lambda store: store.list_pipeline_versions("p", order_by="spec"),
            "cannot order pipeline versions by 'spec'; expected one of created_at,",
        ),
        (
            lambda store: store.list_experiments(order_by="state"),
            "cannot order experiments by 'state'; expected one of created_at, description,",
        ),
        (
            lambda store: store.list_recurring_runs(limit=-1),
            "limit and offset must be >= 0, got -1 and 0",
        ),
        (
            lambda store: store.list_pipelines(offset=-1),
            "limit and offset must be >= 0, got 50 and -1",
        ),
    ],
    ids=[
        "pipelines-field",
        "versions-json-field",
        "experiments-field",
        "recurring-json-field",
        "versions-order",
        "experiments-order",
        "recurring-limit",
        "pipelines-offset",
    ],
)
def test_other_lists_refuse_bad_arguments(
    store: RunStore, call: Callable[[RunStore], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call(store)


# ordering and paging, over every kind of listed record


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
def test_lists_order_by_a_column(store: RunStore, kind: _Kind, descending: bool) -> None:
    # Names sort the records differently from their creation times, so a wrong column shows.
    for key, minute, name in [("k1", 3, "charlie"), ("k2", 1, "alpha"), ("k3", 2, "delta")]:
        kind.add(store, kind.make(key, **{"created_at": _minutes(minute), kind.name: name}))
    by_name = kind.list(store, order_by=kind.name, descending=descending)
    assert [getattr(r, kind.key) for r in by_name] == (
        ["k3", "k1", "k2"] if descending else ["k2", "k1", "k3"]
    )
    by_default = kind.list(store)  # newest first
    assert [getattr(r, kind.key) for r in by_default] == ["k1", "k3", "k2"]


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("order_by", ["created_at", "same"], ids=["created-at", "all-equal"])
def test_lists_page_without_overlap(
    store: RunStore, kind: _Kind, order_by: str, descending: bool
) -> None:
    for i in range(7):
        # Two records share each creation time, and all share the field `same`, so only the
        # tie-breakers (creation time, then id) keep the pages apart.
        values = {"created_at": _minutes(i // 2), kind.name: f"name-{i}"}
        kind.add(store, kind.make(f"k{i}", **values))
    column = kind.same if order_by == "same" else order_by
    everything = kind.list(store, order_by=column, descending=descending, limit=100)
    pages = [
        kind.list(store, order_by=column, descending=descending, limit=3, offset=offset)
        for offset in (0, 3, 6)
    ]
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [r for page in pages for r in page] == everything
    expected = sorted(everything, key=lambda r: (r.created_at, getattr(r, kind.key)))
    assert everything == (expected[::-1] if descending else expected)
    assert kind.list(store, limit=3, offset=7) == []
    assert kind.count(store) == 7


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
def test_lists_put_missing_values_last(store: RunStore, descending: bool) -> None:
    store.add_experiment(make_experiment("never", name="a", last_run_created_at=None))
    store.add_experiment(make_experiment("early", name="b", last_run_created_at=_minutes(1)))
    store.add_experiment(make_experiment("late", name="c", last_run_created_at=_minutes(2)))
    got = store.list_experiments(order_by="last_run_created_at", descending=descending)
    ran = ["late", "early"] if descending else ["early", "late"]
    assert [e.experiment_id for e in got] == [*ran, "never"]
