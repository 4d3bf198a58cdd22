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

from kubeline.errors import AlreadyExistsError, NotFoundError, UserError
from kubeline.store import (
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
    if store.pipelines.get("pipe-1") is None:
        store.pipelines.add(make_pipeline())
    return store


_KINDS = {
    "runs": _Kind(
        key="run_id",
        name="display_name",
        same="state",
        make=make_run,
        add=lambda store, record: store.runs.add(record),
        list=lambda store, **kw: store.runs.list(**kw),
        count=lambda store: store.runs.count(),
    ),
    "pipelines": _Kind(
        key="pipeline_id",
        name="name",
        same="namespace",
        make=make_pipeline,
        add=lambda store, record: store.pipelines.add(record),
        list=lambda store, **kw: store.pipelines.list(**kw),
        count=lambda store: store.pipelines.count(),
    ),
    "versions": _Kind(
        key="pipeline_version_id",
        name="name",
        same="pipeline_id",
        make=make_version,
        add=lambda store, version: _pipeline_store(store).pipeline_versions.add(version),
        list=lambda store, **kw: store.pipeline_versions.list("pipe-1", **kw),
        count=lambda store: store.pipeline_versions.count("pipe-1"),
    ),
    "experiments": _Kind(
        key="experiment_id",
        name="name",
        same="storage_state",
        make=make_experiment,
        add=lambda store, record: store.experiments.add(record),
        list=lambda store, **kw: store.experiments.list(**kw),
        count=lambda store: store.experiments.count(),
    ),
    "recurring-runs": _Kind(
        key="recurring_run_id",
        name="name",
        same="experiment_id",
        make=make_recurring_run,
        add=lambda store, record: store.recurring_runs.add(record),
        list=lambda store, **kw: store.recurring_runs.list(**kw),
        count=lambda store: store.recurring_runs.count(),
    ),
}


@pytest.fixture(params=sorted(_KINDS), ids=sorted(_KINDS))
def kind(request: pytest.FixtureRequest) -> _Kind:
    return _KINDS[request.param]


class TestKfpRecords:
    # round trips

    def test_pipeline_round_trips_every_field(self, store: RunStore) -> None:
        pipeline = make_pipeline()
        store.pipelines.add(pipeline)
        for got in (store.pipelines.get("pipe-1"), store.pipelines.get_by_name("iris", "team-a")):
            assert got == pipeline
            _assert_utc(got)

    def test_pipeline_version_round_trips_every_field(self, store: RunStore) -> None:
        store.pipelines.add(make_pipeline())
        version = make_version()
        store.pipeline_versions.add(version)
        got = store.pipeline_versions.get("ver-1")
        assert got == version
        _assert_utc(got)

    def test_experiment_round_trips_every_field(self, store: RunStore) -> None:
        experiment = make_experiment()
        store.experiments.add(experiment)
        for got in (
            store.experiments.get("exp-1"),
            store.experiments.get_by_name("tuning", "team-a"),
        ):
            assert got == experiment
            assert len(_datetimes(got)) == 2
            _assert_utc(got)

    def test_recurring_run_round_trips_every_field(self, store: RunStore) -> None:
        recurring_run = make_recurring_run()
        store.recurring_runs.add(recurring_run)
        got = store.recurring_runs.get("rec-1")
        assert got == recurring_run
        assert len(_datetimes(got)) == 6
        _assert_utc(got)

    def test_only_one_of_two_stores_claims_a_due_schedule(self, store_url: str) -> None:
        """Two servers on one database both see a schedule due: one claim wins."""
        due = T0 + timedelta(days=2)
        later = due + timedelta(days=1)
        with RunStore(store_url) as first, RunStore(store_url) as second:
            first.recurring_runs.add(make_recurring_run(next_fire_at=due.astimezone(CEST)))
            seen = [s.recurring_runs.get("rec-1") for s in (first, second)]
            assert all(r is not None and r.next_fire_at == due for r in seen)
            assert first.recurring_runs.claim("rec-1", due, next_fire_at=later, last_fired_at=due)
            assert not second.recurring_runs.claim("rec-1", due, next_fire_at=later)
            got = second.recurring_runs.get("rec-1")
            assert got is not None and (got.next_fire_at, got.last_fired_at) == (later, due)
            assert not first.recurring_runs.claim("nope", due, next_fire_at=later)
            with pytest.raises(ValueError):
                first.recurring_runs.claim("rec-1", later, nonsense=1)

    def test_defaults_and_nones_round_trip(self, store: RunStore) -> None:
        pipeline = PipelineRecord(pipeline_id="p", name="p", created_at=T0)
        version = PipelineVersionRecord(
            pipeline_version_id="v", pipeline_id="p", name="v", created_at=T0
        )
        experiment = ExperimentRecord(experiment_id="e", name="e", created_at=T0)
        recurring_run = RecurringRunRecord(
            recurring_run_id="r", name="r", created_at=T0, updated_at=T0
        )
        store.pipelines.add(pipeline)
        store.pipeline_versions.add(version)
        store.experiments.add(experiment)
        store.recurring_runs.add(recurring_run)
        assert store.pipelines.get("p") == pipeline
        assert store.pipelines.get_by_name("p") == pipeline
        assert store.pipeline_versions.get("v") == version
        assert store.experiments.get("e") == experiment
        assert store.experiments.get_by_name("e") == experiment
        assert store.recurring_runs.get("r") == recurring_run

    def test_missing_records(self, store: RunStore) -> None:
        store.pipelines.add(make_pipeline())
        store.experiments.add(make_experiment())
        assert store.pipelines.get("nope") is None
        assert store.pipelines.get_by_name("iris") is None  # it lives in namespace team-a
        assert store.pipeline_versions.get("nope") is None
        assert store.pipeline_versions.latest("pipe-1") is None
        assert store.experiments.get("nope") is None
        assert store.experiments.get_by_name("tuning", "team-b") is None
        assert store.recurring_runs.get("nope") is None
        assert not store.pipelines.update("nope", name="x")
        assert not store.experiments.update("nope", name="x")
        assert not store.recurring_runs.update("nope", enabled=True)
        assert not store.pipelines.delete("nope")
        assert not store.pipeline_versions.delete("nope")
        assert not store.experiments.delete("nope")
        assert not store.recurring_runs.delete("nope")

    # duplicates

    @pytest.mark.parametrize(
        ("add_twice", "message"),
        [
            (
                lambda store: store.pipelines.add(make_pipeline("pipe-4")),
                "a pipeline with namespace='team-a' and name='iris' already exists; "
                "choose another name",
            ),
            (
                lambda store: store.pipelines.add(make_pipeline(name="wine")),
                "a pipeline with pipeline_id='pipe-1' already exists; choose another pipeline_id",
            ),
            (
                lambda store: store.pipeline_versions.add(make_version("ver-2")),
                "a pipeline version with pipeline_id='pipe-1' and name='v1' already exists",
            ),
            (
                lambda store: store.pipeline_versions.add(make_version(name="v2")),
                "a pipeline version with pipeline_version_id='ver-1' already exists",
            ),
            (
                lambda store: store.experiments.add(make_experiment("exp-4")),
                "an experiment with namespace='team-a' and name='tuning' already exists",
            ),
            (
                lambda store: store.recurring_runs.add(make_recurring_run(name="other")),
                "a recurring run with recurring_run_id='rec-1' already exists",
            ),
            (
                lambda store: store.pipelines.update("pipe-3", name="iris"),
                "a pipeline with namespace='team-a' and name='iris' already exists",
            ),
            (
                lambda store: store.pipelines.update("pipe-2", namespace="team-a"),
                "a pipeline with namespace='team-a' and name='iris' already exists",
            ),
            (
                lambda store: store.experiments.update("exp-3", name="tuning"),
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
        store.pipelines.add(make_pipeline())
        store.pipelines.add(make_pipeline("pipe-2", namespace="team-b"))  # the same name
        store.pipelines.add(make_pipeline("pipe-3", name="wine"))
        store.pipeline_versions.add(make_version())
        store.pipeline_versions.add(make_version("ver-9", pipeline_id="pipe-2"))  # the same name
        store.experiments.add(make_experiment())
        store.experiments.add(make_experiment("exp-2", namespace="team-b"))  # the same name
        store.experiments.add(make_experiment("exp-3", name="other"))
        store.recurring_runs.add(make_recurring_run())
        with pytest.raises(AlreadyExistsError, match=message):
            add_twice(store)
        # Nothing changed.
        assert [p.name for p in store.pipelines.list(order_by="pipeline_id")] == [
            "wine",
            "iris",
            "iris",
        ]
        assert store.pipelines.get("pipe-2") == make_pipeline("pipe-2", namespace="team-b")
        assert store.pipeline_versions.count("pipe-1") == 1
        assert store.experiments.get("exp-3") == make_experiment("exp-3", name="other")
        assert store.recurring_runs.get("rec-1") == make_recurring_run()

    def test_duplicates_are_user_errors(self) -> None:
        # The CLI and the API map UserErrors to exit code 2 and a 4xx status.
        assert issubclass(AlreadyExistsError, UserError)

    def test_version_of_a_missing_pipeline_is_refused(self, store: RunStore) -> None:
        message = (
            "pipeline_id='nope' names no pipeline; add that pipeline before the pipeline version"
        )
        with pytest.raises(NotFoundError, match=message):
            store.pipeline_versions.add(make_version(pipeline_id="nope"))
        assert store.pipeline_versions.get("ver-1") is None

    # updates

    def test_updates_set_only_the_given_fields(self, store: RunStore) -> None:
        store.pipelines.add(make_pipeline())
        store.experiments.add(make_experiment())
        store.recurring_runs.add(make_recurring_run())
        fired = T0 + timedelta(days=2)

        assert store.pipelines.update("pipe-1", description="Now with a forest.", name="iris2")
        assert store.experiments.update("exp-1", storage_state="AVAILABLE")
        assert store.recurring_runs.update("rec-1", last_fired_at=fired, next_fire_at=None)

        assert store.pipelines.get("pipe-1") == make_pipeline(
            description="Now with a forest.", name="iris2"
        )
        assert store.experiments.get("exp-1") == make_experiment(storage_state="AVAILABLE")
        # updated_at stays: the scheduler moves next_fire_at without touching it.
        assert store.recurring_runs.get("rec-1") == make_recurring_run(
            last_fired_at=fired, next_fire_at=None
        )

    @pytest.mark.parametrize(
        ("section", "key", "bad"),
        [
            ("pipelines", "pipe-1", "colour"),
            ("pipelines", "pipe-1", "pipeline_id"),
            ("experiments", "exp-1", "experiment_id"),
            ("recurring_runs", "rec-1", "recurring_run_id"),
            ("recurring_runs", "rec-1", "state"),
        ],
        ids=["pipeline-unknown", "pipeline-key", "experiment-key", "recurring-key", "recurring"],
    )
    def test_update_rejects_fields_it_cannot_set(
        self, store: RunStore, section: str, key: str, bad: str
    ) -> None:
        store.pipelines.add(make_pipeline())
        store.experiments.add(make_experiment())
        store.recurring_runs.add(make_recurring_run())
        with pytest.raises(ValueError, match=f"cannot update .* field\\(s\\) '{bad}'; expected"):
            getattr(store, section).update(key, description="changed", **{bad: "x"})
        assert store.pipelines.get("pipe-1") == make_pipeline()
        assert store.experiments.get("exp-1") == make_experiment()
        assert store.recurring_runs.get("rec-1") == make_recurring_run()

    # deletes

    def test_delete_pipeline_cascades_to_its_versions_only(self, store: RunStore) -> None:
        for pipeline_id in ("pipe-1", "keep"):
            store.pipelines.add(make_pipeline(pipeline_id, name=pipeline_id))
            for name in ("v1", "v2"):
                version_id = f"{pipeline_id}-{name}"
                store.pipeline_versions.add(make_version(version_id, pipeline_id, name=name))
        store.runs.add(make_run(pipeline_id="pipe-1", pipeline_version_id="pipe-1-v1"))
        store.recurring_runs.add(make_recurring_run(pipeline_id="pipe-1"))

        assert store.pipelines.delete("pipe-1")

        assert store.pipelines.get("pipe-1") is None
        assert store.pipeline_versions.get("pipe-1-v1") is None
        assert store.pipeline_versions.list("pipe-1") == []
        assert not store.pipelines.delete("pipe-1")
        assert store.pipeline_versions.count("keep") == 2
        # As in KFP, runs and schedules of a deleted pipeline keep its ids.
        assert store.runs.get("run-1").pipeline_version_id == "pipe-1-v1"
        assert store.recurring_runs.get("rec-1").pipeline_id == "pipe-1"

    def test_delete_pipeline_version(self, store: RunStore) -> None:
        store.pipelines.add(make_pipeline())
        store.pipeline_versions.add(make_version("ver-1", name="v1"))
        store.pipeline_versions.add(make_version("ver-2", name="v2"))
        assert store.pipeline_versions.delete("ver-1")
        assert not store.pipeline_versions.delete("ver-1")
        assert [v.pipeline_version_id for v in store.pipeline_versions.list("pipe-1")] == ["ver-2"]
        assert store.pipelines.get("pipe-1") == make_pipeline()
        # Its name is free again.
        store.pipeline_versions.add(make_version("ver-3", name="v1"))

    def test_delete_experiment_keeps_its_runs(self, store: RunStore) -> None:
        store.experiments.add(make_experiment())
        store.runs.add(make_run(experiment_id="exp-1"))
        store.recurring_runs.add(make_recurring_run(experiment_id="exp-1"))
        assert store.experiments.delete("exp-1")
        assert store.experiments.get("exp-1") is None
        assert store.runs.get("run-1") == make_run(experiment_id="exp-1")
        assert store.recurring_runs.get("rec-1") == make_recurring_run(experiment_id="exp-1")
        assert store.recurring_runs.delete("rec-1")
        assert store.recurring_runs.get("rec-1") is None

    # versions

    def test_latest_pipeline_version(self, store: RunStore) -> None:
        store.pipelines.add(make_pipeline())
        store.pipelines.add(make_pipeline("other", name="other"))
        store.pipeline_versions.add(make_version("a", name="old", created_at=_minutes(1)))
        # Two versions made in the same instant: the larger id counts as the later one.
        store.pipeline_versions.add(make_version("c", name="new-c", created_at=_minutes(2)))
        store.pipeline_versions.add(make_version("b", name="new-b", created_at=_minutes(2)))
        store.pipeline_versions.add(make_version("z", "other", created_at=_minutes(9)))
        assert store.pipeline_versions.latest("pipe-1").pipeline_version_id == "c"
        assert store.pipeline_versions.latest("other").pipeline_version_id == "z"
        assert [v.pipeline_version_id for v in store.pipeline_versions.list("pipe-1")] == [
            "c",
            "b",
            "a",
        ]
        assert store.pipeline_versions.count("pipe-1") == 3

    # the default experiment

    def test_ensure_default_experiment_creates_it_once(self, store: RunStore) -> None:
        default = store.experiments.ensure_default()
        assert (default.name, default.namespace, default.storage_state) == (
            "Default",
            "",
            "AVAILABLE",
        )
        _assert_utc(default)
        assert store.experiments.get(default.experiment_id) == default
        assert store.experiments.ensure_default() == default
        assert store.experiments.count() == 1

    def test_ensure_default_experiment_from_threads_at_once(self, store: RunStore) -> None:
        threads = 8
        start = threading.Barrier(threads)

        def ensure(_: int) -> ExperimentRecord:
            start.wait()
            return store.experiments.ensure_default()

        with ThreadPoolExecutor(threads) as pool:
            got = list(pool.map(ensure, range(threads)))
        assert store.experiments.count() == 1
        (default,) = store.experiments.list()
        assert got == [default] * threads

    def test_ensure_default_experiment_after_losing_the_race(
        self, store: RunStore, store_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Threads lose the race only now and then; here this store always does.
        with RunStore(store_url) as other:
            theirs = other.experiments.ensure_default()
        real = store.experiments.get_by_name
        missed: list[str] = []

        def first_look_misses(name: str, namespace: str = "") -> ExperimentRecord | None:
            if not missed:
                missed.append(name)
                return None  # as if the other store added it just after this look
            return real(name, namespace)

        monkeypatch.setattr(store.experiments, "get_by_name", first_look_misses)
        assert store.experiments.ensure_default() == theirs
        assert missed == ["Default"]
        assert store.experiments.count() == 1

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
        store.recurring_runs.add(make_recurring_run(**values))
        got = store.recurring_runs.due(_minutes(60))
        assert [r.recurring_run_id for r in got] == (["rec-1"] if due else [])

    def test_due_recurring_runs_earliest_first(self, store: RunStore) -> None:
        for recurring_run_id, minute in [("b", 30), ("c", 10), ("a", 30), ("later", 90)]:
            store.recurring_runs.add(
                make_recurring_run(
                    recurring_run_id, enabled=True, end_time=None, next_fire_at=_minutes(minute)
                )
            )
        got = store.recurring_runs.due(_minutes(60).astimezone(CEST))
        assert [r.recurring_run_id for r in got] == ["c", "a", "b"]

    def test_due_recurring_runs_refuses_a_naive_now(self, store: RunStore) -> None:
        with pytest.raises(ValueError, match="now=2024-05-01T12:00:00 is a naive datetime"):
            store.recurring_runs.due(datetime(2024, 5, 1, 12))

    def test_list_recurring_runs_by_experiment_and_enabled(self, store: RunStore) -> None:
        for recurring_run_id, experiment_id, enabled in [
            ("r1", "exp-a", True),
            ("r2", "exp-a", False),
            ("r3", "exp-b", True),
        ]:
            store.recurring_runs.add(
                make_recurring_run(recurring_run_id, experiment_id=experiment_id, enabled=enabled)
            )

        def ids(**kw: Any) -> list[str]:
            got = store.recurring_runs.list(order_by="recurring_run_id", descending=False, **kw)
            assert store.recurring_runs.count(**kw) == len(got)
            return [r.recurring_run_id for r in got]

        assert ids() == ["r1", "r2", "r3"]
        assert ids(experiment_id="exp-a") == ["r1", "r2"]
        assert ids(enabled=True) == ["r1", "r3"]
        assert ids(enabled=False) == ["r2"]
        assert ids(experiment_id="exp-b", enabled=False) == []
        assert ids(filters=[("experiment_id", "NOT_EQUALS", "exp-a")]) == ["r3"]

    def test_list_experiments_by_storage_state(self, store: RunStore) -> None:
        store.experiments.add(make_experiment("e1", name="a", storage_state="AVAILABLE"))
        store.experiments.add(make_experiment("e2", name="b", storage_state="ARCHIVED"))
        store.experiments.add(make_experiment("e3", name="c", namespace="team-b"))
        archived = store.experiments.list(storage_state="ARCHIVED", order_by="name")
        assert [e.experiment_id for e in archived] == ["e3", "e2"]
        assert store.experiments.count(storage_state="AVAILABLE") == 1
        assert store.experiments.count(filters=[("namespace", "EQUALS", "team-b")]) == 1


# filters


def _add_runs(store: RunStore) -> None:
    rows = [
        ("r1", "SUCCEEDED", "train", "Nightly train", "exp-a", 10, True),
        ("r2", "FAILED", "train", "nightly TRAIN", "exp-b", 20, False),
        ("r3", "RUNNING", "score", "score 100%", None, None, True),
        ("r4", "FAILED", "score", "score a_b", "exp-a", 40, True),
    ]
    for i, (run_id, state, pipeline, display, experiment, pid, cache) in enumerate(rows, 1):
        store.runs.add(
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
    got = store.runs.list(filters=filters, descending=False)
    assert [run.run_id for run in got] == expected
    assert store.runs.count(filters=filters) == len(expected)


def test_run_filters_and_keyword_filters_combine(store: RunStore) -> None:
    _add_runs(store)
    filters = [("display_name", "IS_SUBSTRING", "score")]
    got = store.runs.list(state="FAILED", filters=filters)
    assert [run.run_id for run in got] == ["r4"]
    assert store.runs.count(state="FAILED", filters=filters) == 1
    assert store.runs.count(state="FAILED") == 2


def _add_pipelines(store: RunStore) -> None:
    rows = [
        ("p1", "iris", ""),
        ("p2", "iris-v2", "team-a"),
        ("p3", "Iris_big", ""),
        ("p4", "wine 100%", "team-b"),
    ]
    for i, (pipeline_id, name, namespace) in enumerate(rows, 1):
        store.pipelines.add(
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
    got = store.pipelines.list(descending=False, **kwargs)
    assert [pipeline.pipeline_id for pipeline in got] == expected
    assert store.pipelines.count(**kwargs) == len(expected)


def test_list_pipeline_versions_with_filters(store: RunStore) -> None:
    store.pipelines.add(make_pipeline())
    store.pipelines.add(make_pipeline("other", name="other"))
    for i, name in enumerate(["v1", "v2", "v10"]):
        store.pipeline_versions.add(make_version(name, name=name, created_at=_minutes(i)))
    store.pipeline_versions.add(make_version("other-v1", "other", name="v1"))
    filters = [("name", "IN", ["v1", "v10"])]
    got = store.pipeline_versions.list("pipe-1", filters=filters, order_by="name")
    assert [v.pipeline_version_id for v in got] == ["v10", "v1"]
    assert store.pipeline_versions.count("pipe-1", filters=filters) == 2


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
        store.runs.list(filters=[bad])
    with pytest.raises(ValueError, match=message):
        store.runs.count(filters=[bad])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda store: store.pipelines.list(filters=[("state", "EQUALS", "x")]),
            "cannot filter pipelines by 'state'; expected one of created_at, description,",
        ),
        (
            lambda store: store.pipeline_versions.count("p", filters=[("spec", "EQUALS", {})]),
            "cannot filter pipeline versions by 'spec'; expected one of created_at,",
        ),
        (
            lambda store: store.experiments.count(filters=[("state", "EQUALS", "x")]),
            "cannot filter experiments by 'state'",
        ),
        (
            lambda store: store.recurring_runs.list(filters=[("arguments", "EQUALS", {})]),
            "cannot filter recurring runs by 'arguments'; expected one of cache_enabled,",
        ),
        (
            lambda store: store.pipeline_versions.list("p", order_by="spec"),
            "cannot order pipeline versions by 'spec'; expected one of created_at,",
        ),
        (
            lambda store: store.experiments.list(order_by="state"),
            "cannot order experiments by 'state'; expected one of created_at, description,",
        ),
        (
            lambda store: store.recurring_runs.list(limit=-1),
            "limit and offset must be >= 0, got -1 and 0",
        ),
        (
            lambda store: store.pipelines.list(offset=-1),
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
    store.experiments.add(make_experiment("never", name="a", last_run_created_at=None))
    store.experiments.add(make_experiment("early", name="b", last_run_created_at=_minutes(1)))
    store.experiments.add(make_experiment("late", name="c", last_run_created_at=_minutes(2)))
    got = store.experiments.list(order_by="last_run_created_at", descending=descending)
    ran = ["late", "early"] if descending else ["early", "late"]
    assert [e.experiment_id for e in got] == [*ran, "never"]
