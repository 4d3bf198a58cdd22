"""The start-a-run form: fields from real compiled pipelines, and submitted values
converted by the engine's own rules."""

from __future__ import annotations

import pytest

from kubeline.pipelines.compile import compile_function
from kubeline.server.web.forms import FIELD_PREFIX, form_fields, parse_form
from tests.server.web import pipelines as p


@pytest.fixture(scope="module")
def typed() -> dict:
    return compile_function(p.typed)


def form(**values: str) -> dict[str, str]:
    return {FIELD_PREFIX + name: value for name, value in values.items()}


def test_fields_follow_the_input_definitions(typed: dict) -> None:
    fields = {f.name: f for f in form_fields(typed)}
    assert fields["rows"].widget == "number" and fields["rows"].step == "1"
    assert fields["factor"].widget == "number" and fields["factor"].step == "any"
    assert fields["labels"].widget == "textarea" and fields["labels"].value == '["a", "b"]'
    assert fields["options"].widget == "textarea"
    assert fields["verbose"].widget == "select" and fields["verbose"].value == "false"
    assert fields["rows"].value == "10" and not fields["rows"].required
    required = form_fields(compile_function(p.required))[0]
    assert required.required and required.value == ""


def test_submitted_values_win_over_a_cloned_run_which_wins_over_defaults(typed: dict) -> None:
    fields = {
        f.name: f
        for f in form_fields(typed, submitted=form(rows="7"), initial={"rows": 3, "factor": 2.0})
    }
    assert fields["rows"].value == "7"
    assert fields["factor"].value == "2"
    assert fields["note"].value == ""


def test_good_values_are_converted_to_their_types(typed: dict) -> None:
    arguments, errors = parse_form(
        typed,
        form(rows="3", factor="0.25", labels='["x", 1]', options='{"a": [1]}', verbose="true"),
    )
    assert errors == {}
    assert arguments == {
        "rows": 3,
        "factor": 0.25,
        "labels": ["x", 1],
        "options": {"a": [1]},
        "verbose": True,
    }


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("rows", "3.5", "an integer"),
        ("rows", "ten", "an integer"),
        ("factor", "abc", "a number"),
        ("labels", "[1, 2", "a list"),
        ("labels", "a, b", "a list"),  # the form asks for JSON
        ("labels", '{"a": 1}', "a list"),
        ("options", "[1]", "a JSON object"),
        ("verbose", "maybe", "true or false"),
    ],
)
def test_bad_values_are_named_field_by_field(typed: dict, name: str, text: str, words: str) -> None:
    arguments, errors = parse_form(typed, form(**{name: text}))
    assert list(errors) == [name]
    assert words in errors[name]
    assert name not in arguments


def test_blank_fields_take_defaults_and_required_ones_are_errors(typed: dict) -> None:
    arguments, errors = parse_form(typed, form(rows=" ", note=""))
    assert arguments == {} and errors == {}
    _, errors = parse_form(compile_function(p.required), form(rows=""))
    assert "Required" in errors["rows"]
