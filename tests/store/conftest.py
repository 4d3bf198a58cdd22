"""The store under test, once per database, and records with every field filled.

To run the contract against another database, add a param to ``store_url`` that returns its
URL (a fresh, empty database per test) or skips where that database is not available.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from kubeline.store import ArtifactRecord, CacheRecord, RunRecord, RunStore, TaskRecord

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
# Not UTC on purpose: the store must hand back the same instant, in UTC.
CEST = timezone(timedelta(hours=2))


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kubeline.db'}"


_URLS = {"sqlite": _sqlite_url}


@pytest.fixture(params=sorted(_URLS), ids=sorted(_URLS))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _URLS[request.param](tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[RunStore]:
    with RunStore(store_url) as store:
        yield store


def make_run(run_id: str = "run-1", **overrides: Any) -> RunRecord:
    """A run with no field left at its default."""
    values: dict[str, Any] = {
        "run_id": run_id,
        "pipeline_name": "train",
        "state": "RUNNING",
        "created_at": T0,
        "display_name": "nightly train",
        "started_at": (T0 + timedelta(seconds=1)).astimezone(CEST),
        "finished_at": T0 + timedelta(minutes=5),
        "spec": {"pipelineInfo": {"name": "train"}, "root": {"dag": {"tasks": {}}}},
        "arguments": {"lr": 0.1, "layers": [64, 32], "opts": {"seed": 7, "fast": True}},
        "outputs": {"accuracy": 0.93, "note": None},
        "error": "boom",
        "root": "/runs/run-1",
        "cache_enabled": False,
        "experiment_id": "exp-1",
        "pipeline_id": "pipe-1",
        "pipeline_version_id": "ver-1",
        "recurring_run_id": "rec-1",
        "storage_state": "ARCHIVED",
        "host": "build-box",
        "pid": 4242,
    }
    values.update(overrides)
    return RunRecord(**values)


def make_task(task_id: str = "task-1", run_id: str = "run-1", **overrides: Any) -> TaskRecord:
    """A task with no field left at its default."""
    values: dict[str, Any] = {
        "task_id": task_id,
        "run_id": run_id,
        "name": "train-model",
        "path": task_id,
        "kind": "executor",
        "state": "SUCCEEDED",
        "parent_task_id": None,
        "component": "comp-train-model",
        "display_name": "Train model",
        "created_at": T0,
        "started_at": (T0 + timedelta(seconds=2)).astimezone(CEST),
        "finished_at": T0 + timedelta(seconds=30),
        "attempts": 2,
        "cache_hit": True,
        "cache_key": "sha256:abc",
        "exit_code": 0,
        "error": "first attempt ran out of memory",
        "inputs": {"lr": 0.1, "grid": {"depth": [2, 4]}},
        "outputs": {"score": 0.9},
        "log_path": "/runs/run-1/logs/train-model.log",
    }
    values.update(overrides)
    return TaskRecord(**values)


def make_artifact(
    artifact_id: str = "art-1", run_id: str = "run-1", producer_task_id: str = "task-1"
) -> ArtifactRecord:
    """An artifact with no field left at its default."""
    return ArtifactRecord(
        artifact_id=artifact_id,
        run_id=run_id,
        producer_task_id=producer_task_id,
        output_name="model",
        uri="file:///runs/run-1/train-model/model",
        schema_title="system.Model",
        metadata={"framework": "sklearn", "params": {"C": 1.0, "classes": ["a", "b"]}},
        digest="sha256:def",
        size=3 * 2**30,  # past 32-bit integers
        created_at=(T0 + timedelta(seconds=31)).astimezone(CEST),
        name="model",
    )


def make_cache(key: str = "sha256:abc", **overrides: Any) -> CacheRecord:
    values: dict[str, Any] = {
        "key": key,
        "component": "comp-train-model",
        "outputs": {"score": 0.9},
        "artifacts": {
            "model": [
                {
                    "uri": "file:///runs/run-1/train-model/model",
                    "schema_title": "system.Model",
                    "metadata": {"framework": "sklearn"},
                    "digest": "sha256:def",
                    "name": "model",
                }
            ]
        },
        "created_at": T0.astimezone(CEST),
        "run_id": "run-1",
        "task_id": "task-1",
    }
    values.update(overrides)
    return CacheRecord(**values)
