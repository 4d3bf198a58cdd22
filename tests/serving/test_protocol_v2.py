"""Open Inference Protocol decoding, parsing and response building, as pure functions."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from kubeline.serving import ModelEntry
from kubeline.serving.errors import InferenceError
from kubeline.serving.models import ServedModel
from kubeline.serving.protocol_v2 import (
    DATATYPES,
    decode_tensor,
    infer_response,
    model_metadata,
    parse_infer,
    server_metadata,
)
from tests.serving.conftest import IRIS_ROWS, Models

FLAT = [v for row in IRIS_ROWS for v in row]


@pytest.fixture
def iris(models: Models) -> ServedModel:
    return ServedModel.load(ModelEntry("iris", "2", str(models.iris.path)))


@pytest.fixture
def frame(models: Models) -> ServedModel:
    return ServedModel.load(ModelEntry("frame", "1", str(models.frame.path)))


def tensor(data: object, shape: list[int], datatype: str = "FP32", name: str = "input-0") -> dict:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def json_round_trip(value: object) -> object:
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))


def test_kserve_iris_example_nested_and_flat(iris: ServedModel, models: Models) -> None:
    expected = models.iris.model.predict(np.array(IRIS_ROWS)).tolist()
    for data in (IRIS_ROWS, FLAT):
        request = parse_infer({"inputs": [tensor(data, [2, 4])]}, iris)
        np.testing.assert_array_equal(request.rows, IRIS_ROWS)
        body = json_round_trip(infer_response(iris, request, iris.run(request.rows)))
        assert body["model_name"] == "iris" and body["model_version"] == "2"
        (output,) = body["outputs"]
        assert output["name"] == "predict" and output["datatype"] == "INT64"
        assert output["shape"] == [2] and output["data"] == expected


def test_id_is_echoed_and_outputs_chosen(iris: ServedModel, models: Models) -> None:
    payload = {
        "id": "req-42",
        "inputs": [tensor(FLAT, [2, 4], "FP64")],
        "outputs": [{"name": "predict_proba"}, {"name": "predict"}],
    }
    request = parse_infer(payload, iris)
    assert request.outputs == ["predict_proba", "predict"]
    body = json_round_trip(infer_response(iris, request, iris.run(request.rows, request.outputs)))
    assert body["id"] == "req-42"
    proba, labels = body["outputs"]
    assert proba["name"] == "predict_proba" and proba["datatype"] == "FP64"
    assert proba["shape"] == [2, 3]
    np.testing.assert_allclose(
        np.reshape(proba["data"], (2, 3)), models.iris.model.predict_proba(np.array(IRIS_ROWS))
    )
    assert labels["data"] == models.iris.model.predict(np.array(IRIS_ROWS)).tolist()


def test_an_id_is_made_when_none_is_given(iris: ServedModel) -> None:
    request = parse_infer({"inputs": [tensor(FLAT, [2, 4])]}, iris)
    assert infer_response(iris, request, iris.run(request.rows))["id"]


def test_one_tensor_per_feature(frame: ServedModel, models: Models) -> None:
    names = models.frame.feature_names
    inputs = [
        tensor([row[j] for row in IRIS_ROWS], [2] if j % 2 else [2, 1], "FP64", name)
        for j, name in reversed(list(enumerate(names)))
    ]
    request = parse_infer({"inputs": inputs}, frame)
    np.testing.assert_array_equal(request.rows, IRIS_ROWS)


def test_content_type_parameter_picks_the_layout(frame: ServedModel, models: Models) -> None:
    names = models.frame.feature_names
    # A tensor named like a feature is still a matrix when it says "np" (MLServer's name).
    matrix = {**tensor(IRIS_ROWS, [2, 4], "FP64", names[0]), "parameters": {"content_type": "np"}}
    np.testing.assert_array_equal(parse_infer({"inputs": [matrix]}, frame).rows, IRIS_ROWS)
    # "pd": one tensor per column, even when a single one is sent (here: missing the others).
    column = {**tensor([1.0, 2.0], [2], "FP64", names[0]), "parameters": {"content_type": "pd"}}
    with pytest.raises(InferenceError, match="lacks feature"):
        parse_infer({"inputs": [column]}, frame)


def test_every_numeric_datatype_decodes(iris: ServedModel) -> None:
    for datatype in DATATYPES:
        if datatype in ("BYTES", "BOOL"):
            continue
        name, values, _ = decode_tensor(tensor([1, 2, 3, 4], [1, 4], datatype), 0)
        assert (name, values.dtype, values.shape) == ("input-0", np.float64, (1, 4))
    _, values, _ = decode_tensor(tensor([True, False], [2], "BOOL"), 0)
    np.testing.assert_array_equal(values, [1.0, 0.0])
    _, values, _ = decode_tensor(tensor(["a", "b"], [2], "BYTES"), 0)
    assert values.tolist() == ["a", "b"]
    _, values, _ = decode_tensor(tensor([1.5, None], [2], "FP64"), 0)
    assert values[0] == 1.5 and np.isnan(values[1])


def test_bytes_tensor_with_numbers_in_it_reaches_the_model_check(iris: ServedModel) -> None:
    request = parse_infer(
        {"inputs": [tensor([["6.8", "2.8", "4.8", "1.4"]], [1, 4], "BYTES")]}, iris
    )
    np.testing.assert_array_equal(request.rows, [[6.8, 2.8, 4.8, 1.4]])
    with pytest.raises(InferenceError, match="'abc' is not a number"):
        parse_infer({"inputs": [tensor([["abc", "2.8", "4.8", "1.4"]], [1, 4], "BYTES")]}, iris)


def test_string_labels_are_bytes_and_regressors_fp64(models: Models) -> None:
    species = ServedModel.load(ModelEntry("species", "1", str(models.species.path)))
    request = parse_infer({"inputs": [tensor(FLAT, [2, 4])]}, species)
    (output,) = infer_response(species, request, species.run(request.rows))["outputs"]
    assert output["datatype"] == "BYTES"
    assert output["data"] == models.species.model.predict(np.array(IRIS_ROWS)).tolist()
    diabetes = ServedModel.load(ModelEntry("diabetes", "3", str(models.diabetes.path)))
    rows = models.diabetes.X[:3]
    request = parse_infer({"inputs": [tensor(rows.tolist(), [3, 10], "FP64")]}, diabetes)
    (output,) = json_round_trip(infer_response(diabetes, request, diabetes.run(request.rows)))[
        "outputs"
    ]
    assert output["datatype"] == "FP64" and output["shape"] == [3]
    np.testing.assert_allclose(output["data"], models.diabetes.model.predict(rows))


def test_metadata(iris: ServedModel, frame: ServedModel) -> None:
    assert server_metadata("0.1.0") == {"name": "kubeline", "version": "0.1.0", "extensions": []}
    meta = model_metadata(iris, ["1", "2"])
    assert meta["name"] == "iris" and meta["versions"] == ["1", "2"]
    assert meta["platform"] == "sklearn"
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert meta["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]},
    ]
    named = model_metadata(frame, ["1"])
    assert [t["name"] for t in named["inputs"]] == frame.feature_names
    assert {t["datatype"] for t in named["inputs"]} == {"FP64"}


ERRORS = [
    ([], "must be a JSON object"),
    ({}, "'inputs' must be a non-empty list"),
    ({"inputs": []}, "'inputs' must be a non-empty list"),
    ({"inputs": ["x"]}, "inputs[0] must be an object"),
    ({"inputs": [{"shape": [1, 4], "datatype": "FP32", "data": FLAT[:4]}]}, "needs a 'name'"),
    ({"inputs": [tensor(FLAT, [2, 4], "FLOAT")]}, "unknown datatype 'FLOAT'"),
    ({"inputs": [tensor(FLAT, [2, 4], None)]}, "unknown datatype None"),
    ({"inputs": [tensor(FLAT, "2,4")]}, "'shape' must be a list of non-negative integers"),
    ({"inputs": [tensor(FLAT, [2, -4])]}, "'shape' must be a list of non-negative integers"),
    ({"inputs": [tensor(FLAT, [2, 3])]}, "shape [2, 3] needs 6 values, but data holds 8"),
    ({"inputs": [tensor(FLAT[:7], [2, 4])]}, "shape [2, 4] needs 8 values, but data holds 7"),
    ({"inputs": [tensor(IRIS_ROWS, [4, 2])]}, "data is nested as [2, 4] but 'shape' says [4, 2]"),
    ({"inputs": [tensor([[1, 2, 3, 4], [1, 2]], [2, 4])]}, "not a regular array"),
    ({"inputs": [tensor(FLAT, [8])]}, "has shape [8]; send shape [N, 4]"),
    ({"inputs": [tensor(FLAT, [1, 2, 4])]}, "has shape [1, 2, 4]"),
    ({"inputs": [tensor(FLAT[:6], [2, 3])]}, "expects 4 features per row, got 3"),
    ({"inputs": [tensor(["a"] * 8, [2, 4], "FP32")]}, "FP32 data holds 'a', not a number"),
    ({"inputs": [tensor([1.5] * 8, [2, 4], "INT64")]}, "INT64 data holds 1.5, not an integer"),
    ({"inputs": [tensor([300] * 8, [2, 4], "UINT8")]}, "value 300 is out of range for UINT8"),
    ({"inputs": [tensor([-1] * 8, [2, 4], "UINT32")]}, "value -1 is out of range for UINT32"),
    ({"inputs": [tensor([1] * 8, [2, 4], "BOOL")]}, "BOOL data holds 1, not a boolean"),
    ({"inputs": [tensor([1] * 8, [2, 4], "BYTES")]}, "BYTES data holds 1, not a string"),
    ({"inputs": [tensor([True] * 8, [2, 4], "FP64")]}, "FP64 data holds True, not a number"),
    ({"inputs": [tensor([None] * 8, [2, 4])]}, "NaN or null"),
    ({"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32"}]}, "has no 'data'"),
    ({"inputs": [tensor(FLAT, [2, 4])], "outputs": [{"name": "logits"}]}, "Unknown output"),
    ({"inputs": [tensor(FLAT, [2, 4])], "outputs": "predict"}, "'outputs' must be a list"),
    ({"inputs": [tensor(FLAT, [2, 4])], "id": 7}, "'id' must be a string"),
    ({"inputs": [tensor(FLAT, [2, 4])], "parameters": []}, "'parameters' of the request"),
    (
        {
            "inputs": [tensor(FLAT, [2, 4])],
            "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
        },
        "binary tensor data is not supported",
    ),
    (
        {"inputs": [tensor(FLAT[:4], [1, 4]), tensor(FLAT[:4], [1, 4], name="input-1")]},
        "does not know its feature names",
    ),
]


@pytest.mark.parametrize(("payload", "words"), ERRORS)
def test_bad_requests(iris: ServedModel, payload: object, words: str) -> None:
    with pytest.raises(InferenceError) as err:
        parse_infer(payload, iris)
    assert err.value.status == 400
    assert words in err.value.message


def test_bad_feature_tensors(frame: ServedModel, models: Models) -> None:
    names = models.frame.feature_names
    full = [tensor([1.0, 2.0], [2], "FP64", name) for name in names]
    with pytest.raises(InferenceError, match="lacks feature"):
        parse_infer({"inputs": full[:3]}, frame)
    with pytest.raises(InferenceError, match="unknown feature"):
        parse_infer({"inputs": [*full, tensor([1.0, 2.0], [2], "FP64", "colour")]}, frame)
    with pytest.raises(InferenceError, match="given twice"):
        parse_infer({"inputs": [*full, full[0]]}, frame)
    with pytest.raises(InferenceError, match="differ in length"):
        parse_infer({"inputs": [*full[:3], tensor([1.0], [1], "FP64", names[3])]}, frame)
    with pytest.raises(InferenceError, match=r"must have shape \[N\] or \[N, 1\]"):
        parse_infer({"inputs": [*full[:3], tensor([1.0, 2.0], [1, 2], "FP64", names[3])]}, frame)
