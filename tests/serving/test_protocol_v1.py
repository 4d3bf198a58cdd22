"""V1 request parsing and response building, as pure functions (no server)."""

from __future__ import annotations

import numpy as np
import pytest

from kubeline.serving import ModelEntry
from kubeline.serving.errors import InferenceError
from kubeline.serving.models import ServedModel
from kubeline.serving.protocol_v1 import list_models, model_ready, parse_predict, predict_response
from tests.serving.conftest import IRIS_ROWS, Models


@pytest.fixture
def iris(models: Models) -> ServedModel:
    return ServedModel.load(ModelEntry("iris", "2", str(models.iris.path)))


@pytest.fixture
def frame(models: Models) -> ServedModel:
    return ServedModel.load(ModelEntry("frame", "1", str(models.frame.path)))


def test_kserve_iris_example(iris: ServedModel, models: Models) -> None:
    rows = parse_predict({"instances": IRIS_ROWS}, iris)
    np.testing.assert_array_equal(rows, IRIS_ROWS)
    labels = iris.run(rows)["predict"]
    body = predict_response(labels)
    assert body == {"predictions": models.iris.model.predict(np.array(IRIS_ROWS)).tolist()}
    assert all(type(v) is int for v in body["predictions"])
    assert parse_predict({"inputs": IRIS_ROWS}, iris).shape == (2, 4)


def test_objects_and_columns_by_feature_name(frame: ServedModel, models: Models) -> None:
    names = models.frame.feature_names
    records = [dict(zip(names, row, strict=True)) for row in IRIS_ROWS]
    np.testing.assert_array_equal(parse_predict({"instances": records}, frame), IRIS_ROWS)
    columns = {name: [row[j] for row in IRIS_ROWS] for j, name in enumerate(names)}
    np.testing.assert_array_equal(parse_predict({"inputs": columns}, frame), IRIS_ROWS)


def test_string_labels_stay_strings(models: Models) -> None:
    species = ServedModel.load(ModelEntry("species", "1", str(models.species.path)))
    body = predict_response(
        species.run(parse_predict({"instances": IRIS_ROWS}, species))["predict"]
    )
    assert body["predictions"] == models.species.model.predict(np.array(IRIS_ROWS)).tolist()
    assert all(isinstance(v, str) for v in body["predictions"])


def test_listing_and_readiness(iris: ServedModel) -> None:
    assert list_models(["a", "b"]) == {"models": ["a", "b"]}
    assert model_ready(iris) == {"name": "iris", "ready": True}


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ([1, 2], "must be a JSON object"),
        ({}, "needs 'instances'"),
        ({"instances": [], "inputs": []}, "not both"),
        ({"instances": "6.8,2.8"}, "must be a list of instances, not a string"),
        ({"instances": []}, "is empty"),
        ({"instances": [[1, 2, 3]]}, "expects 4 features per row, got 3"),
        ({"instances": [[1, 2, 3, 4], [1, 2]]}, "differ in length"),
        ({"instances": [[1, 2, 3, "four"]]}, "'four' is not a number"),
        ({"instances": [[1, 2, 3, None]]}, "NaN or null"),
        ({"instances": [[1, 2, 3, 4], 5]}, "mixes lists with single values"),
        ({"instances": [1, [2]]}, "mixes single values"),
        ({"instances": [{"a": 1}]}, "does not know its feature names"),
        ({"instances": [[[1, 2, 3, 4]]]}, "shape [N, F]"),
        ({"instances": [[1, 2, 3, {"x": 1}]]}, "is not a number"),
    ],
)
def test_bad_requests(iris: ServedModel, payload: object, words: str) -> None:
    with pytest.raises(InferenceError) as err:
        parse_predict(payload, iris)
    assert err.value.status == 400
    assert words in err.value.message


def test_bad_named_requests(frame: ServedModel, models: Models) -> None:
    names = models.frame.feature_names
    with pytest.raises(InferenceError, match="lacks feature"):
        parse_predict({"instances": [{names[0]: 1.0}]}, frame)
    with pytest.raises(InferenceError, match="every instance must be an object"):
        parse_predict({"instances": [dict.fromkeys(names, 1.0), [1, 2, 3, 4]]}, frame)
    with pytest.raises(InferenceError, match="single values"):
        parse_predict({"inputs": {names[0]: [[1.0]]}}, frame)
