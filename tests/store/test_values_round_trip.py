"""Values PostgreSQL's types refuse where SQLite's take them, stored alike on both: NaN and
±Infinity in JSON (a task's outputs, an artifact's metrics), and NUL in text (a log tail
in a task's error), which PostgreSQL keeps as U+FFFD."""

from __future__ import annotations

import math
from typing import Any

from kubeline.store import RunStore
from kubeline.store.postgres import FLOAT_TAG, dumps_json, loads_json
from tests.store.conftest import make_artifact, make_cache, make_pipeline, make_run, make_task

ODD = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "list": [1.5, math.nan], "n": None}


def same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


def test_non_finite_floats_round_trip_in_every_json_column(store: RunStore) -> None:
    store.runs.add(make_run(outputs=ODD, arguments={"x": math.inf}))
    store.tasks.add(make_task(outputs=ODD))
    store.tasks.update("task-1", inputs={"lr": -math.inf})
    artifact = make_artifact()
    artifact.metadata["auc"] = math.nan
    store.artifacts.add(artifact)
    store.cache.put(make_cache(outputs=ODD))
    run, task = store.runs.get("run-1"), store.tasks.get("task-1")
    assert run is not None and task is not None
    assert same(run.outputs, ODD) and same(run.arguments, {"x": math.inf})
    assert same(task.outputs, ODD) and same(task.inputs, {"lr": -math.inf})
    stored = store.artifacts.get("art-1")
    assert stored is not None and math.isnan(stored.metadata["auc"])
    cached = store.cache.get(make_cache().key)
    assert cached is not None and same(cached.outputs, ODD)


def test_text_with_nul_is_stored(store: RunStore, store_url: str) -> None:
    store.runs.add(make_run(display_name="nightly\x00train", outputs={"k\x00": "a\x00b"}))
    store.tasks.add(make_task(error="Traceback ...\n\x00\x00 binary tail"))
    run, task = store.runs.get("run-1"), store.tasks.get("task-1")
    assert run is not None and task is not None
    nul = "\ufffd" if store_url.startswith("postgresql") else "\x00"
    assert run.display_name == f"nightly{nul}train"
    assert run.outputs == {"k\x00": "a\x00b"}  # JSON escapes it: kept on both
    assert task.error == f"Traceback ...\n{nul}{nul} binary tail"


def test_the_float_tag_is_read_back_only_as_itself() -> None:
    for value in [ODD, {FLOAT_TAG: "not a float"}, {FLOAT_TAG: "NaN", "other": 1}, "NaN", 1e308]:
        assert same(loads_json(dumps_json(value)), value), value
    assert loads_json(dumps_json(ODD).encode()) is not None  # the driver may hand bytes


NAMES = ["b", "B", "a", "A", "_x", "é", "Z-1", "z1", "a b", "ab"]


def test_text_sorts_by_code_point_on_every_database(store: RunStore) -> None:
    # PostgreSQL's default collation follows the server's locale ("a" < "B", blanks and
    # punctuation skipped); the tests' databases use ICU's en-US to show it.
    for i, name in enumerate(NAMES):
        store.pipelines.add(make_pipeline(f"pipe-{i}", name=name))
        store.runs.add(make_run(f"run-{i}", pipeline_name=name))
    listed = store.pipelines.list(order_by="name", descending=False, limit=50)
    assert [p.name for p in listed] == sorted(NAMES)
    assert store.runs.pipeline_names() == sorted(NAMES)
    runs = store.runs.list(order_by="pipeline_name", descending=True, limit=50)
    assert [r.pipeline_name for r in runs] == sorted(NAMES, reverse=True)
