"""JSON a client can send that Python's own types take but the models cannot: numbers past
a float's range (``1e400``, an integer of 400 digits), integers past a datatype's range,
NaN and Infinity literals, lists nested a thousand deep, bodies that are JSON but not an
object, and what fuzzing found (a datatype or content_type that is a list, a lone
surrogate in the id, columns for a model without feature names). Each is a 400 in KServe's
error shape that names the problem, never a 500."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.serving.helpers import LiveServer
from tests.serving.test_errors import check_error

V1 = "/v1/models/iris:predict"
V2 = "/v2/models/iris/infer"
HUGE = "1" + "0" * 400  # 1e400 written out: past float64's largest, about 1.8e308


def post(live: LiveServer, path: str, body: str) -> httpx.Response:
    with live.http() as http:
        return http.post(path, content=body.encode(), headers={"content-type": "application/json"})


def v2_body(data: str, datatype: str = '"FP32"', shape: str = "[1, 4]", extra: str = "") -> str:
    """An inference request of one tensor, each part given as JSON text."""
    spec = f'{{"name": "input-0", "shape": {shape}, "datatype": {datatype}, "data": {data}}}'
    return f'{{"inputs": [{spec}]{extra}}}'


@pytest.fixture(autouse=True)
def _no_server_errors(caplog: pytest.LogCaptureFixture):
    """None of these may reach the server's 500 path (which logs a traceback)."""
    with caplog.at_level(logging.ERROR, logger="kubeline.serving"):
        yield
    assert not [r for r in caplog.records if r.name.startswith("kubeline.serving")]


OUT_OF_FLOAT_RANGE = [
    (V1, f'{{"instances": [[{HUGE}, 1, 2, 3]]}}', "(401 characters) is out of range"),
    (V1, f'{{"instances": [{HUGE}]}}', "(401 characters) is out of range"),
    (V1, '{"instances": [[1e400, 1, 2, 3]]}', "The number 1e400 is out of range"),
    (V1, '{"instances": [[-1e400, 1, 2, 3]]}', "The number -1e400 is out of range"),
    (V1, f'{{"instances": [[-{HUGE}, 1, 2, 3]]}}', "(402 characters) is out of range"),
    (V1, f'{{"inputs": [[{"9" * 5000}, 1, 2, 3]]}}', "(5000 characters) is out of range"),
    (V1, f'{{"instances": [[{HUGE}, 1, 2, 3]], "x": NaN}}', "is out of range"),
    (
        "/v1/models/frame:predict",
        f'{{"inputs": {{"sepal length (cm)": [{HUGE}]}}}}',
        "is out of range",
    ),
    (
        "/v1/models/frame:predict",
        f'{{"instances": [{{"sepal length (cm)": {HUGE}}}]}}',
        "is out of range",
    ),
    (V2, v2_body(f"[{HUGE}, 1, 2, 3]"), "is out of range"),
    (V2, v2_body(f"[{HUGE}, 1, 2, 3]", '"INT64"'), "is out of range"),
    (V2, v2_body("[1e400, 1, 2, 3]", '"FP64"'), "The number 1e400 is out of range"),
    (V2, v2_body("[1, 2, 3, 4]", shape=f"[{HUGE}, 4]"), "is out of range"),
]


@pytest.mark.parametrize(("path", "body", "words"), OUT_OF_FLOAT_RANGE)
def test_numbers_past_a_floats_range_are_400(
    live: LiveServer, path: str, body: str, words: str
) -> None:
    response = post(live, path, body)
    check_error(response, 400, words)
    assert "64-bit float" in response.json()["error"]


@pytest.mark.parametrize(
    ("datatype", "value"),
    [
        ("INT64", "9223372036854775808"),  # 2**63
        ("INT64", "9223372036854775808.0"),  # the same as a float: compared exactly
        ("INT64", "-9223372036854775810000"),
        ("UINT64", "18446744073709551616"),  # 2**64, which orjson reads as a float
        ("UINT64", "-1"),
        ("INT8", "128"),
        ("UINT8", "256"),
        ("INT32", "100000000000000000000000000000"),
    ],
)
def test_integers_past_their_datatypes_range_are_400(
    live: LiveServer, datatype: str, value: str
) -> None:
    check_error(
        post(live, V2, v2_body(f"[{value}, 1, 2, 3]", f'"{datatype}"')),
        400,
        f"is out of range for {datatype}",
    )


def test_integers_at_their_datatypes_limits_are_taken(live: LiveServer) -> None:
    for datatype, values in [
        ("INT64", "9223372036854775807, -9223372036854775808, 2, 3"),
        ("UINT64", "18446744073709551615, 0, 2, 3"),  # numpy makes a float64 array of it
        ("UINT64", "18446744073709551615, 18446744073709551615, 1, 1"),
    ]:
        response = post(live, V2, v2_body(f"[{values}]", f'"{datatype}"'))
        assert response.status_code == 200, response.text
    # Integers past 64 bits but within a float's range are numbers like any other.
    response = post(live, V1, '{"instances": [[100000000000000000000000000000, 1, 2, 3]]}')
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        (V1, '{"instances": [[NaN, 1, 2, 3]]}', "model iris cannot take missing values"),
        (V1, '{"instances": [[Infinity, 1, 2, 3]]}', "The input holds an infinite value"),
        (V1, '{"instances": [[-Infinity, 1, 2, 3]]}', "The input holds an infinite value"),
        (V2, v2_body("[NaN, 1, 2, 3]"), "model iris cannot take missing values"),
        (V2, v2_body("[Infinity, 1, 2, 3]", '"FP64"'), "The input holds an infinite value"),
        (V2, v2_body("[NaN, 1, 2, 3]", '"INT32"'), "INT32 data holds nan, not an integer"),
    ],
)
def test_nan_and_infinity_literals_are_400(
    live: LiveServer, path: str, body: str, words: str
) -> None:
    check_error(post(live, path, body), 400, words)


def test_nan_literals_reach_a_model_that_takes_them(live: LiveServer) -> None:
    row = ", ".join(["NaN"] + ["1.0"] * 29)
    response = post(live, "/v1/models/hgb:predict", f'{{"instances": [[{row}]]}}')
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1


def deep(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        # Past orjson's limit (1024) and Python's recursion limit: not JSON we read.
        (V1, f'{{"instances": {deep(5000)}}}', "not valid JSON"),
        (V2, v2_body(deep(100_000)), "not valid JSON"),
        # Readable, but deeper than repr() can go: the messages quote them cut short.
        (V1, f'{{"instances": [[1, 2, 3, {deep(990)}]]}}', "is not a number"),
        (V2, v2_body(f"[1, 2, 3, {deep(990)}]"), "not a regular array"),
        (V2, f'{{"id": {deep(990)}, "inputs": []}}', "'id' must be a string, not [[[[...]]]]"),
        (V2, f'{{"inputs": [{deep(990)}]}}', "inputs[0] must be an object, not [[[[...]]]]"),
        (V2, v2_body("[1, 2, 3, 4]", shape=deep(990)), "'shape' must be a list of non-negat"),
        (V2, v2_body("[1, 2, 3, 4]", datatype=deep(990)), "unknown datatype [[[[...]]]]"),
    ],
)
def test_deeply_nested_lists_are_400(live: LiveServer, path: str, body: str, words: str) -> None:
    check_error(post(live, path, body), 400, words)


@pytest.mark.parametrize("body", ["[1, 2]", '"x"', "null", "5", "true", "[]", "1e400"])
def test_json_that_is_not_an_object_is_400(live: LiveServer, body: str) -> None:
    words = "out of range" if body == "1e400" else "must be a JSON object"
    check_error(post(live, V1, body), 400, words)
    check_error(post(live, V2, body), 400, words)


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        (V2, v2_body("[1, 2, 3, 4]", datatype="[null]"), "unknown datatype [None]"),
        (V2, v2_body("[1, 2, 3, 4]", datatype="{}"), "unknown datatype {}"),
        (
            V2,
            v2_body("[1, 2, 3, 4]").replace('"data"', '"parameters": {"content_type": []}, "data"'),
            "'content_type' must be a string, not []",
        ),
        (
            V2,
            v2_body("[1, 2, 3, 4]").replace('"data"', '"parameters": {"content_type": {}}, "data"'),
            "'content_type' must be a string",
        ),
        (V2, v2_body("[1, 2, 3, 4]", extra=', "id": "\\ud800"'), "is not valid Unicode"),
        (V1, '{"inputs": {}}', "does not know its feature names"),
        (V1, '{"inputs": {"a": [1]}}', "does not know its feature names"),
    ],
)
def test_what_fuzzing_found_is_400(live: LiveServer, path: str, body: str, words: str) -> None:
    check_error(post(live, path, body), 400, words)
