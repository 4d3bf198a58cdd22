"""Served models: signature read from the estimator, NaN policy, feature names, and the
DataFrame a model fitted with names gets (without scikit-learn warning)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kubeline.errors import ConfigError
from kubeline.serving import ModelEntry, ServeConfig
from kubeline.serving.errors import InferenceError
from kubeline.serving.models import ModelRepository, ServedModel, accepts_nan
from tests.serving.conftest import Fitted, Models


def load(fitted: Fitted, name: str = "m", **entry: Any) -> ServedModel:
    return ServedModel.load(ModelEntry(name, "1", str(fitted.path), **entry))


def test_signature_of_a_plain_classifier(models: Models) -> None:
    model = load(models.iris)
    assert model.n_features == 4
    assert model.feature_names == []
    assert model.is_classifier and model.has_proba
    assert model.predict_datatype == "INT64"
    assert model.output_names() == ["predict", "predict_proba"]


def test_signature_of_string_labels_and_regressor(models: Models) -> None:
    assert load(models.species).predict_datatype == "BYTES"
    regressor = load(models.diabetes)
    assert (regressor.is_classifier, regressor.has_proba) == (False, False)
    assert regressor.predict_datatype == "FP64"
    assert regressor.output_names() == ["predict"]


def test_feature_names_come_from_the_estimator(models: Models) -> None:
    model = load(models.frame)
    assert model.feature_names == models.frame.feature_names
    assert model.fitted_with_names
    with pytest.raises(ConfigError, match="differ from those the model was fitted with"):
        load(models.frame, feature_names=["a", "b", "c", "d"])


def test_predictions_equal_the_estimators(models: Models) -> None:
    model = load(models.cancer)
    rows = model.prepare(models.cancer.X[:50])
    out = model.run(rows, ("predict", "predict_proba"))
    np.testing.assert_array_equal(out["predict"], models.cancer.model.predict(models.cancer.X[:50]))
    np.testing.assert_allclose(
        out["predict_proba"], models.cancer.model.predict_proba(models.cancer.X[:50])
    )


def test_a_model_fitted_on_a_frame_gets_a_frame_and_does_not_warn(models: Models) -> None:
    model = load(models.frame)
    rows = model.prepare(models.frame.X[:5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "X does not have valid feature names" would fail
        out = model.run(rows, ("predict",))
    frame = model.model_input(rows)
    assert list(frame.columns) == models.frame.feature_names
    expected = models.frame.model.predict(frame)
    np.testing.assert_array_equal(out["predict"], expected)


def test_mixed_types_keep_strings_and_numbers(models: Models) -> None:
    model = load(
        models.mixed,
        feature_names=models.mixed.feature_names,
        feature_types=["float64", "float64", "object"],
    )
    assert model.numeric_columns == [True, True, False]
    rows = model.prepare(np.array([[0.1, "2.5", "red"], [1, 2, "blue"]], dtype=object))
    frame = model.model_input(rows)
    assert frame["width"].dtype == np.float64 and frame["color"].tolist() == ["red", "blue"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = model.run(rows, ("predict",))
    np.testing.assert_array_equal(out["predict"], models.mixed.model.predict(frame))


def test_records_and_columns_are_put_in_feature_order(models: Models) -> None:
    model = load(models.frame)
    names = models.frame.feature_names
    record = dict(zip(reversed(names), [4.0, 3.0, 2.0, 1.0], strict=True))
    np.testing.assert_array_equal(model.rows_from_records([record]), [[1.0, 2.0, 3.0, 4.0]])
    columns = {name: np.array([float(i)]) for i, name in enumerate(names)}
    np.testing.assert_array_equal(model.rows_from_columns(columns), [[0.0, 1.0, 2.0, 3.0]])
    with pytest.raises(InferenceError, match="lacks feature"):
        model.rows_from_records([{names[0]: 1.0}])
    with pytest.raises(InferenceError, match="unknown feature"):
        model.rows_from_records([{**record, "petal colour": 1.0}])


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        (np.ones((2, 3)), "expects 4 features per row, got 3"),
        (np.ones(4), "shape [N, F]"),
        (np.ones((0, 4)), "no rows"),
        (np.array([[1, 2, "x", 4]], dtype=object), "'x' is not a number"),
        (np.array([[1, 2, np.nan, 4]]), "NaN or null"),
        (np.array([[1, 2, None, 4]], dtype=object), "NaN or null"),
        (np.array([[1, 2, np.inf, 4]]), "infinite"),
    ],
)
def test_bad_rows_are_refused(models: Models, rows: np.ndarray, words: str) -> None:
    model = load(models.iris)
    with pytest.raises(InferenceError, match=words.replace("[", r"\[").replace("]", r"\]")) as err:
        model.prepare(rows)
    assert err.value.status == 400


def test_nan_policy(models: Models) -> None:
    assert load(models.hgb).allow_nan
    assert not load(models.iris).allow_nan
    assert accepts_nan(HistGradientBoostingRegressor())
    assert not accepts_nan(LinearRegression())
    assert accepts_nan(RandomForestClassifier())  # its tags say so (scikit-learn >= 1.4)
    assert accepts_nan(make_pipeline(SimpleImputer(), LogisticRegression()))
    assert not accepts_nan(make_pipeline(StandardScaler(), LogisticRegression()))
    assert not accepts_nan(object())  # no tags at all: refuse

    hgb = load(models.hgb)
    rows = hgb.prepare(models.hgb.X[:20])
    assert np.isnan(rows).any()
    out = hgb.run(rows, ("predict",))
    np.testing.assert_array_equal(out["predict"], models.hgb.model.predict(models.hgb.X[:20]))


def test_outputs_are_checked(models: Models) -> None:
    with pytest.raises(InferenceError, match="Unknown output 'decision'"):
        load(models.iris).check_outputs(["decision"])
    with pytest.raises(InferenceError, match="no predict_proba"):
        load(models.diabetes).check_outputs(["predict_proba"])


def test_repository_default_is_the_newest_version(models: Models, tmp_path: Path) -> None:
    copy = tmp_path / "copy.joblib"
    joblib.dump(joblib.load(models.iris.path), copy)
    config = ServeConfig(
        models=[
            ModelEntry("iris", "10", str(copy)),
            ModelEntry("iris", "9", str(models.iris_v1.path)),
        ]
    )
    repository = ModelRepository(config)
    assert repository.get("iris").version == "10"
    assert repository.get("iris", "9").version == "9"
    assert repository.versions["iris"] == ["9", "10"]
    with pytest.raises(InferenceError, match="no version 11") as err:
        repository.get("iris", "11")
    assert err.value.status == 404
    with pytest.raises(InferenceError, match="not served here") as err:
        repository.get("tulip")
    assert err.value.status == 404


def test_a_missing_or_broken_file_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read model file"):
        ModelRepository(ServeConfig(models=[ModelEntry("m", "1", str(tmp_path / "none"))]))
    (tmp_path / "bad.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ConfigError, match="Cannot load model file"):
        ModelRepository(ServeConfig(models=[ModelEntry("m", "1", str(tmp_path / "bad.joblib"))]))
