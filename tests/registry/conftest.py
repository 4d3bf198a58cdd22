"""A real SQLite store per test, and real scikit-learn models saved with joblib."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeline.registry import version_from_metadata
from kubeline.store import ModelVersionRecord, RunStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore.for_home(tmp_path / "home") as store:
        yield store


def add_version(store: RunStore, name: str, digest: str, **meta: object) -> ModelVersionRecord:
    """A version recorded straight from metadata (no model file to open)."""
    record = version_from_metadata(meta, name=name, uri=f"/nowhere/{digest}", digest=digest)
    return store.models.register_version(record)[0]


def save_model(folder: Path, c: float = 1.0, name: str = "iris.joblib") -> Path:
    """A fitted LogisticRegression on iris, as ``folder / name``."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame = load_iris(as_frame=True).frame
    model = LogisticRegression(C=c, max_iter=500).fit(frame.drop(columns="target"), frame.target)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    joblib.dump(model, path)
    return path
