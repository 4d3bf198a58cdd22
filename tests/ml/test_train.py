"""Training: fit on the whole training split; save and load the model, atomically."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from kubeline.errors import DataError, DataValidationError
from kubeline.ml.features import FeatureSpec
from kubeline.ml.train import load_model, save_model, train_model
from kubeline.ml.zoo import Trial

SPEC = FeatureSpec(log_columns=["skewed"], ratios=[("signal", "uniform")])
LOGISTIC = Trial("lr-0", "logistic_regression", {"C": 1.0})
FOREST = Trial("rf-0", "random_forest", {"n_estimators": 8})


def test_train_model_fits_the_whole_pipeline(binary_frame: pd.DataFrame) -> None:
    model = train_model(binary_frame, "target", SPEC, LOGISTIC)
    assert list(model.classes_) == ["no", "yes"]
    names = list(model.named_steps["preprocess"].get_feature_names_out())
    # The derived features are built inside the model and reach the estimator.
    assert names[:5] == ["signal", "skewed", "uniform", "log1p_skewed", "signal_per_uniform"]
    assert "colour_red" in names
    X = binary_frame.drop(columns=["target"])
    assert (model.predict(X) == binary_frame["target"]).mean() > 0.8


def test_train_model_is_seeded(binary_frame: pd.DataFrame) -> None:
    X = binary_frame.drop(columns=["target"])
    first = train_model(binary_frame, "target", SPEC, FOREST, seed=3).predict_proba(X)
    second = train_model(binary_frame, "target", SPEC, FOREST, seed=3).predict_proba(X)
    np.testing.assert_array_equal(first, second)


def test_saved_model_rebuilds_derived_features_from_raw_input(
    binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    model = train_model(binary_frame, "target", SPEC, LOGISTIC)
    path = tmp_path / "models" / "model.joblib"
    save_model(model, path)
    loaded = load_model(path)
    # New raw rows: only the original columns, including a category never seen in training.
    raw = pd.DataFrame(
        {
            "signal": [-1.0, 0.5, 4.0],
            "skewed": [0.2, 3.0, 40.0],
            "uniform": [1.0, 5.0, 10.0],
            "colour": ["red", "purple", "blue"],
        }
    )
    assert "log1p_skewed" not in raw.columns
    np.testing.assert_array_equal(loaded.predict(raw), model.predict(raw))
    np.testing.assert_allclose(loaded.predict_proba(raw), model.predict_proba(raw))
    assert loaded.predict(raw)[0] == "no" and loaded.predict(raw)[2] == "yes"


def test_predicting_without_a_column_a_derived_feature_needs(
    binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    save_model(train_model(binary_frame, "target", SPEC, LOGISTIC), tmp_path / "m.joblib")
    loaded = load_model(tmp_path / "m.joblib")
    raw = binary_frame.drop(columns=["target", "skewed"])
    with pytest.raises(DataValidationError, match="needed to build derived features: skewed"):
        loaded.predict(raw)


def test_save_model_leaves_no_temp_file(binary_frame: pd.DataFrame, tmp_path: Path) -> None:
    model = train_model(binary_frame, "target", FeatureSpec(), LOGISTIC)
    save_model(model, tmp_path / "model.joblib")
    save_model(model, tmp_path / "model.joblib")  # overwrite in place
    assert [p.name for p in tmp_path.iterdir()] == ["model.joblib"]


def test_failed_save_leaves_nothing_behind(binary_frame: pd.DataFrame, tmp_path: Path) -> None:
    model = train_model(binary_frame, "target", FeatureSpec(), LOGISTIC)
    model.lock = threading.Lock()  # a lock cannot be pickled: the dump fails half-way
    path = tmp_path / "model.joblib"
    with pytest.raises(TypeError, match=r"cannot pickle '_thread\.lock' object"):
        save_model(model, path)
    assert list(tmp_path.iterdir()) == []


def _garbage(path: Path) -> None:
    path.write_text("this is not a model\n")


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _folder(path: Path) -> None:
    path.mkdir()


def _pickled_dict(path: Path) -> None:
    joblib.dump({"not": "a model"}, path)


NOT_MODELS = {
    "missing": lambda path: None,
    "folder": _folder,
    "empty-file": _empty,
    "text-file": _garbage,
    "pickled-dict": _pickled_dict,
}


@pytest.mark.parametrize("make", list(NOT_MODELS.values()), ids=list(NOT_MODELS))
def test_load_model_of_a_non_model_file(tmp_path: Path, make: Callable[[Path], None]) -> None:
    path = tmp_path / "model.joblib"
    make(path)
    with pytest.raises(DataError, match=r"Cannot load a model from '.*model\.joblib'"):
        load_model(path)
