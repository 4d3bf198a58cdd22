"""The store under test, once per database, and records with every field filled.

Every test that takes ``store`` or ``store_url`` runs on SQLite and on PostgreSQL (marker
``postgres``: ``-m "not postgres"`` leaves it out). To add another database, add a param to
``store_url`` that returns its URL (a fresh, empty database per test) or skips where that
database is not available.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from kubeline.store import (
    ArtifactRecord,
    CacheRecord,
    ExperimentRecord,
    PipelineRecord,
    PipelineVersionRecord,
    RecurringRunRecord,
    RunRecord,
    RunStore,
    TaskRecord,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
# Not UTC on purpose: the store must hand back the same instant, in UTC.
CEST = timezone(timedelta(hours=2))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, or a database of its own on the session's
    throwaway PostgreSQL server (tests/postgres.py; marker ``postgres``)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'kubeline.db'}"


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
        "events": [
            {
                "at": "2024-05-01T12:00:02+00:00",
                "kind": "admission",
                "task": "train-model",
                "state": "PENDING",
                "message": "waits for the CPU: 2 tasks running, running tasks use 2.0 of 2 cores",
            }
        ],
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


def make_pipeline(pipeline_id: str = "pipe-1", **overrides: Any) -> PipelineRecord:
    """A pipeline with no field left at its default."""
    values: dict[str, Any] = {
        "pipeline_id": pipeline_id,
        "name": "iris",
        "created_at": T0.astimezone(CEST),
        "display_name": "Iris classifier",
        "description": "Trains and scores an iris classifier.",
        "namespace": "team-a",
    }
    values.update(overrides)
    return PipelineRecord(**values)


def make_version(
    pipeline_version_id: str = "ver-1", pipeline_id: str = "pipe-1", **overrides: Any
) -> PipelineVersionRecord:
    """A pipeline version with no field left at its default."""
    values: dict[str, Any] = {
        "pipeline_version_id": pipeline_version_id,
        "pipeline_id": pipeline_id,
        "name": "v1",
        "created_at": (T0 + timedelta(seconds=1)).astimezone(CEST),
        "spec": {"pipelineInfo": {"name": "iris"}, "root": {"dag": {"tasks": {}}}},
        "display_name": "First version",
        "description": "The one with a random forest.",
        "package_url": "https://example.com/iris.yaml",
    }
    values.update(overrides)
    return PipelineVersionRecord(**values)


def make_experiment(experiment_id: str = "exp-1", **overrides: Any) -> ExperimentRecord:
    """An experiment with no field left at its default."""
    values: dict[str, Any] = {
        "experiment_id": experiment_id,
        "name": "tuning",
        "created_at": T0.astimezone(CEST),
        "display_name": "Hyperparameter tuning",
        "description": "Grid search over the forest's depth.",
        "namespace": "team-a",
        "storage_state": "ARCHIVED",
        "last_run_created_at": T0 + timedelta(hours=1),
    }
    values.update(overrides)
    return ExperimentRecord(**values)


def make_recurring_run(recurring_run_id: str = "rec-1", **overrides: Any) -> RecurringRunRecord:
    """A recurring run with no field left at its default."""
    values: dict[str, Any] = {
        "recurring_run_id": recurring_run_id,
        "name": "nightly",
        "created_at": T0.astimezone(CEST),
        "updated_at": T0 + timedelta(minutes=1),
        "experiment_id": "exp-1",
        "pipeline_id": "pipe-1",
        "pipeline_version_id": "ver-1",
        "spec": {"pipelineInfo": {"name": "iris"}},
        "arguments": {"depth": 4, "features": ["petal_length", "petal_width"]},
        "description": "Retrain every night.",
        "cron": "0 0 2 * * *",
        "interval_seconds": 86400,
        "start_time": T0,
        "end_time": (T0 + timedelta(days=30)).astimezone(CEST),
        "max_concurrency": 3,
        "catchup": True,
        "enabled": False,
        "last_fired_at": T0 + timedelta(days=1),
        "next_fire_at": T0 + timedelta(days=2),
        "cache_enabled": False,
    }
    values.update(overrides)
    return RecurringRunRecord(**values)
