"""Errors over HTTP: the status and the ``{"error": ...}`` body of every refusal, the body
limit, a model that fails at run time, and garbage that must never take the server down."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest

from kubeline import errors
from kubeline.serving import ServeConfig, protocol_v1
from tests.serving.conftest import IRIS_ROWS, Models
from tests.serving.helpers import LiveServer, start_server

FLAT = [v for row in IRIS_ROWS for v in row]


def tensor(data: object, shape: object, datatype: object = "FP32", name: str = "input-0") -> dict:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def check_error(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert words in body["error"], body["error"]


V2_CASES = [
    (tensor(FLAT[:6], [2, 3]), "Model iris expects 4 features per row, got 3"),
    (tensor(FLAT, [2, 2, 2]), "has shape [2, 2, 2]; send shape [N, 4]"),
    (tensor(FLAT, [8]), "has shape [8]; send shape [N, 4]"),
    (tensor(FLAT[:7], [2, 4]), "shape [2, 4] needs 8 values, but data holds 7"),
    (tensor(FLAT, [2, 4], "FLOAT32"), "unknown datatype 'FLOAT32'"),
    (tensor(FLAT, [2, 4], "INT32"), "INT32 data holds 6.8, not an integer"),
    (tensor(["x"] * 8, [2, 4], "FP64"), "FP64 data holds 'x', not a number"),
    (tensor(["x"] * 8, [2, 4], "BYTES"), "Value 'x' is not a number"),
    (tensor([None] * 8, [2, 4], "FP64"), "model iris cannot take missing values"),
    (tensor(FLAT, "2x4"), "'shape' must be a list of non-negative integers"),
    (tensor([[1, 2, 3, 4], [5]], [2, 4]), "not a regular array"),
]


@pytest.mark.parametrize(("spec", "words"), V2_CASES)
def test_v2_bad_inputs_are_400(live: LiveServer, spec: dict, words: str) -> None:
    with live.http() as http:
        check_error(http.post("/v2/models/iris/infer", json={"inputs": [spec]}), 400, words)


V1_CASES = [
    ({"instances": [[1, 2, 3]]}, "Model iris expects 4 features per row, got 3"),
    ({"instances": [[1, 2, 3, 4], [1, 2]]}, "The instances differ in length"),
    ({"instances": [[1, 2, 3, "x"]]}, "Value 'x' is not a number"),
    ({"instances": [[1, 2, 3, None]]}, "model iris cannot take missing values"),
    ({"instances": 5}, "must be a list of instances"),
    ({"rows": []}, "needs 'instances'"),
]


@pytest.mark.parametrize(("payload", "words"), V1_CASES)
def test_v1_bad_inputs_are_400(live: LiveServer, payload: dict, words: str) -> None:
    with live.http() as http:
        check_error(http.post("/v1/models/iris:predict", json=payload), 400, words)


def test_feature_name_errors(live: LiveServer, models: Models) -> None:
    names = models.frame.feature_names
    with live.http() as http:
        check_error(
            http.post("/v1/models/frame:predict", json={"instances": [{names[0]: 1.0}]}),
            400,
            "lacks feature(s)",
        )
        record = {**dict.fromkeys(names, 1.0), "colour": 2.0}
        check_error(
            http.post("/v1/models/frame:predict", json={"instances": [record]}),
            400,
            "names unknown feature(s) 'colour'",
        )
        inputs = [tensor([1.0], [1], "FP64", name) for name in [*names[:3], "colour"]]
        check_error(
            http.post("/v2/models/frame/infer", json={"inputs": inputs}),
            400,
            "unknown feature(s) 'colour'",
        )


def test_malformed_json_is_400(live: LiveServer) -> None:
    with live.http() as http:
        for path in ("/v1/models/iris:predict", "/v2/models/iris/infer"):
            check_error(http.post(path, content=b'{"instances": [[1, 2'), 400, "not valid JSON")
            check_error(http.post(path, content=b""), 400, "body is empty")
            check_error(http.post(path, content=b"\xff\xfe"), 400, "not valid JSON")


def test_unknown_models_and_versions_are_404(live: LiveServer) -> None:
    payload = {"inputs": [tensor(FLAT, [2, 4])]}
    with live.http() as http:
        check_error(http.post("/v2/models/tulip/infer", json=payload), 404, "Model tulip")
        check_error(
            http.post("/v2/models/iris/versions/7/infer", json=payload),
            404,
            "Model iris has no version 7 (versions: 1, 2)",
        )
        check_error(http.get("/v2/models/tulip"), 404, "is not served here")
        check_error(http.get("/v2/models/iris/versions/7/ready"), 404, "no version 7")
        check_error(http.get("/v1/models/tulip"), 404, "is not served here")
        check_error(
            http.post("/v1/models/tulip:predict", json={"instances": IRIS_ROWS}), 404, "tulip"
        )
        check_error(http.get("/v3/anything"), 404, "No such path")


def test_wrong_methods_are_400_in_the_same_shape(live: LiveServer) -> None:
    with live.http() as http:
        check_error(http.get("/v2/models/iris/infer"), 400, "GET is not allowed")
        check_error(http.put("/v1/models/iris:predict", json={}), 400, "PUT is not allowed")
        check_error(http.post("/v2/health/live", json={}), 400, "POST is not allowed")


def test_output_errors(live: LiveServer) -> None:
    with live.http() as http:
        check_error(
            http.post(
                "/v2/models/diabetes/infer",
                json={
                    "inputs": [tensor([0.0] * 10, [1, 10], "FP64")],
                    "outputs": [{"name": "predict_proba"}],
                },
            ),
            400,
            "Model diabetes has no predict_proba",
        )


@pytest.fixture(scope="module")
def small(serve_config: ServeConfig) -> Iterator[LiveServer]:
    server = start_server(ServeConfig(models=serve_config.models, max_body_bytes=1000))
    yield server
    server.stop()


def test_bodies_over_the_limit_are_413(small: LiveServer) -> None:
    big = {"instances": [[1.5, 2.5, 3.5, 4.5]] * 100}  # about 2 kB
    with small.http() as http:
        check_error(http.post("/v1/models/iris:predict", json=big), 413, "larger than the limit")
        check_error(
            http.post("/v2/models/iris/infer", json={"inputs": [tensor([1.0] * 400, [100, 4])]}),
            413,
            "limit of 1000 bytes",
        )

        def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes read are counted
            yield b'{"instances": ['
            for _ in range(100):
                yield b"[1.5, 2.5, 3.5, 4.5],"
            yield b"[1, 2, 3, 4]]}"

        check_error(
            http.post("/v1/models/iris:predict", content=chunks()), 413, "larger than the limit"
        )
        # A small request on the same server still works.
        ok = http.post("/v1/models/iris:predict", json={"instances": IRIS_ROWS})
        assert ok.status_code == 200


def test_a_model_failing_at_run_time_is_500_and_the_server_goes_on(live: LiveServer) -> None:
    with live.http() as http:
        check_error(
            http.post("/v1/models/failing:predict", json={"instances": [[-1.0, 1.0]]}),
            500,
            "failing version 1 failed to predict: negative input reached the model",
        )
        ok = http.post("/v1/models/failing:predict", json={"instances": [[1.0, 1.0]]})
        assert ok.json() == {"predictions": [0]}


def _garbage(rng: random.Random) -> bytes:
    pieces = [
        b"{",
        b"}",
        b"[",
        b"]",
        b'"inputs"',
        b'"instances"',
        b'"shape"',
        b'"data"',
        b'"datatype"',
        b'"FP32"',
        b'"BYTES"',
        b":",
        b",",
        b"null",
        b"true",
        b"-1",
        b"1e999",
        b"NaN",
        b'"\\ud800"',
        b"0.5",
        b"\x00",
        b"\xff",
        b"9" * 40,
    ]
    return b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))


def _structured_garbage(rng: random.Random) -> object:
    values: list[object] = [None, True, -1, 2**70, 1.5, "x", [], {}, [[]], [None], {"a": 1}]
    tensor_spec = {
        "name": rng.choice(["input-0", "", None, 5, "sepal length (cm)"]),
        "shape": rng.choice([[2, 4], [0, 4], [], [-1], None, "x", [2**70], [1, 4]]),
        "datatype": rng.choice(["FP32", "INT8", "BOOL", "BYTES", "fp32", None, 3]),
        "data": rng.choice([FLAT, IRIS_ROWS, [["a"]], [None] * 4, [True] * 4, 7, *values]),
    }
    return rng.choice(
        [
            {"inputs": [tensor_spec]},
            {"inputs": [tensor_spec, tensor_spec]},
            {"inputs": rng.choice(values), "outputs": rng.choice(values)},
            {"instances": rng.choice(values)},
            {"instances": [rng.choice(values) for _ in range(3)]},
            rng.choice(values),
        ]
    )


def test_garbage_never_takes_the_server_down(live: LiveServer) -> None:
    rng = random.Random(1234)
    paths = [
        "/v1/models/iris:predict",
        "/v2/models/iris/infer",
        "/v2/models/frame/infer",
        "/v1/models/mixed:predict",
        "/v2/models/species/versions/1/infer",
    ]
    statuses = set()
    with live.http() as http:
        for _ in range(150):
            path = rng.choice(paths)
            if rng.random() < 0.5:
                response = http.post(path, content=_garbage(rng))
            else:
                response = http.post(path, json=_structured_garbage(rng))
            statuses.add(response.status_code)
            assert response.status_code < 500, response.text
            assert "error" in response.json() or response.status_code == 200
        # Still serving correctly after all that.
        ok = http.post("/v1/models/iris:predict", json={"instances": IRIS_ROWS})
        assert ok.status_code == 200
    assert 400 in statuses


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.DataError("Column 'x' is missing."), 400),
        (errors.NotFoundError("No model named 'x'."), 404),
        (errors.AlreadyExistsError("Taken."), 409),
        (errors.KubelineError("Broke on purpose."), 500),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_any_kubeline_error_is_answered_with_its_status_from_the_table(
    live: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
    error: errors.KubelineError,
    status: int,
) -> None:
    """Not only the model server's own InferenceError: any kubeline error raised while a
    request is answered keeps its status (kubeline.errors.CODES) and its message."""

    def parse(*_: object) -> object:
        raise error

    monkeypatch.setattr(protocol_v1, "parse_predict", parse)
    with live.http() as http:
        check_error(
            http.post("/v1/models/iris:predict", json={"instances": IRIS_ROWS}), status, str(error)
        )
    monkeypatch.undo()
    with live.http() as http:
        assert http.post("/v1/models/iris:predict", json={"instances": IRIS_ROWS}).is_success
