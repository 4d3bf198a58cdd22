"""Versioning: the model card says what produced a model and how good it is."""

from __future__ import annotations

import json
import platform
from datetime import datetime, timedelta, timezone

import sklearn

from kubeline.ml.card import ModelCard, library_versions


def _card(**overrides: object) -> ModelCard:
    fields: dict[str, object] = {
        "name": "cancer-classifier",
        "version": "7",
        "family": "random_forest",
        "params": {"n_estimators": 200, "max_features": 0.123456},
        "metrics": {"accuracy": 0.95, "roc_auc": 0.98765},
        "data_source": "breast_cancer",
        "data_digest": "ab" * 32,
        "target": "target",
        "n_train": 1234,
        "n_test": 309,
        "features": ["mean radius", "mean texture"],
        "derived_features": ["log1p_mean radius"],
        "cv_score": 0.9321,
        "threshold": 0.9,
        "lineage": {"model": "s3://bucket/model.joblib"},
    }
    fields.update(overrides)
    return ModelCard(**fields)  # type: ignore[arg-type]


def test_markdown_states_the_facts() -> None:
    text = _card().to_markdown()
    assert text.startswith("# Model card: cancer-classifier (content 7)\n")
    assert "A **random_forest** classifier predicting `target` from 2 input columns." in text
    assert "- Source: `breast_cancer`" in text
    assert f"`{'ab' * 32}`" in text
    assert "- Rows: 1,234 for training, 309 held out for testing" in text
    assert "- Input columns, in order: `mean radius`, `mean texture`" in text
    assert "predict time): `log1p_mean radius`" in text
    assert "| n_estimators | 200 |" in text
    assert "| max_features | 0.1235 |" in text
    assert "Cross-validated score on the training split: 0.9321" in text
    assert "| accuracy | 0.9500 |" in text
    assert "| roc_auc | 0.9877 |" in text
    assert "Registered because test accuracy reached the threshold 0.9." in text
    assert "| model | `s3://bucket/model.joblib` |" in text
    assert f"scikit-learn {sklearn.__version__}" in text


def test_markdown_sections_are_in_order() -> None:
    text = _card().to_markdown()
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections == [
        "## Data",
        "## Training",
        "## Test metrics",
        "## Lineage",
        "## Libraries",
        "## Intended use and limits",
    ]


def test_markdown_of_a_minimal_card() -> None:
    text = _card(
        params={}, derived_features=[], cv_score=None, threshold=None, lineage={}
    ).to_markdown()
    assert "| (family defaults) | |" in text
    assert "predict time): none" in text
    assert "Cross-validated score" not in text
    assert "Registered because" not in text


def test_library_versions() -> None:
    versions = library_versions()
    assert versions["python"] == platform.python_version()
    assert versions["scikit-learn"] == sklearn.__version__
    assert {"numpy", "pandas", "joblib"} <= set(versions)


def test_created_is_now_in_utc() -> None:
    created = datetime.fromisoformat(_card().created)
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - created) < timedelta(hours=1)


def test_to_dict_is_json_ready() -> None:
    card = _card()
    data = json.loads(json.dumps(card.to_dict()))
    assert data["n_train"] == 1234
    assert data["metrics"] == {"accuracy": 0.95, "roc_auc": 0.98765}
    assert ModelCard(**data) == card
