from __future__ import annotations

import pytest

from kubeline.engine.arguments import parse_assignments, resolve_arguments
from kubeline.errors import ConfigError

SPEC = {
    "root": {
        "inputDefinitions": {
            "parameters": {
                "name": {"parameterType": "STRING"},
                "count": {"parameterType": "NUMBER_INTEGER", "defaultValue": 3},
                "rate": {"parameterType": "NUMBER_DOUBLE", "defaultValue": 0.5},
                "flag": {"parameterType": "BOOLEAN", "defaultValue": False},
                "items": {"parameterType": "LIST", "defaultValue": []},
                "conf": {"parameterType": "STRUCT", "isOptional": True},
            }
        }
    }
}


def test_parse_assignments_keeps_equals_in_values() -> None:
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}


@pytest.mark.parametrize("bad", ["novalue", "=3"], ids=["no-equals", "no-name"])
def test_parse_assignments_rejects_malformed(bad: str) -> None:
    with pytest.raises(ConfigError, match="name=value"):
        parse_assignments([bad])


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"count": "7"}, {"count": 7}),
        ({"count": 7.0}, {"count": 7}),
        ({"rate": "1e-3"}, {"rate": 0.001}),
        ({"rate": 2}, {"rate": 2.0}),
        ({"flag": "yes"}, {"flag": True}),
        ({"flag": "False"}, {"flag": False}),
        ({"items": '["a", 1]'}, {"items": ["a", 1]}),
        ({"items": "a, b,c"}, {"items": ["a", "b", "c"]}),
        ({"items": ("x",)}, {"items": ["x"]}),
        ({"conf": '{"k": 1}'}, {"conf": {"k": 1}}),
    ],
    ids=[
        "int-text",
        "int-float",
        "double-sci",
        "double-int",
        "bool-yes",
        "bool-false",
        "list-json",
        "list-commas",
        "list-tuple",
        "struct-json",
    ],
)
def test_values_are_converted_to_the_declared_type(given: dict, expected: dict) -> None:
    assert resolve_arguments(SPEC, {"name": "n", **given}) == {"name": "n", **expected}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"count": "abc"}, r"'count' expects an integer. Got 'abc'"),
        ({"count": "1.5"}, r"'count' expects an integer"),
        ({"count": True}, r"'count' expects an integer"),
        ({"rate": "fast"}, r"'rate' expects a number. Got 'fast'"),
        ({"flag": "maybe"}, r"'flag' expects true or false"),
        ({"items": "[1, 2"}, r"'items' expects a list"),
        ({"conf": "[1]"}, r"'conf' expects a JSON object"),
    ],
    ids=[
        "int-word",
        "int-fraction",
        "int-bool",
        "double-word",
        "bool-word",
        "list-broken",
        "struct-list",
    ],
)
def test_wrong_types_name_the_parameter_and_value(given: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_arguments(SPEC, {"name": "n", **given})


def test_unknown_parameter_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"Unknown parameter\(s\) 'colour'.*takes: conf, count"):
        resolve_arguments(SPEC, {"name": "n", "colour": "red"})


def test_missing_required_parameter_is_named() -> None:
    with pytest.raises(ConfigError, match=r"Missing required parameter.*name"):
        resolve_arguments(SPEC, {})


def test_defaults_are_left_to_the_pipeline() -> None:
    assert resolve_arguments(SPEC, {"name": "n"}) == {"name": "n"}
