from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeline.engine import conditions
from kubeline.engine.conditions import condition_parameters, evaluate_condition
from kubeline.errors import PipelineLoadError

# The C loader reads the corpus about ten times faster where libyaml is present.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def ref(name: str) -> str:
    """The reference the KFP compiler writes for a task input."""
    return f"inputs.parameter_values['pipelinechannel--{name}']"


COIN = ref("flip-coin-Output")
NUMBER = f"int({ref('random-num-Output')})"

# (condition, parameters, expected): forms taken from the conformance corpus.
CORPUS_FORMS = [
    (f"{COIN} == 'heads'", {"flip-coin-Output": "heads"}, True),
    (f"{COIN} == 'heads'", {"flip-coin-Output": "tails"}, False),
    (f"{COIN} != 'no-such-result'", {"flip-coin-Output": "heads"}, True),
    (f"{COIN} != 'no-such-result'", {"flip-coin-Output": "no-such-result"}, False),
    (f"!({COIN} == 'heads')", {"flip-coin-Output": "tails"}, True),
    (f"!({COIN} == 'heads')", {"flip-coin-Output": "heads"}, False),
    (f"{ref('pick_a')} == true", {"pick_a": True}, True),
    (f"{ref('pick_a')} == true", {"pick_a": False}, False),
    (f"!({ref('pick_a')} == true)", {"pick_a": False}, True),
    (f"{ref('train-scalar')} == '123'", {"train-scalar": "123"}, True),
    (f"{ref('train-scalar')} == '123'", {"train-scalar": 123}, False),
    (f"{NUMBER} > 5", {"random-num-Output": 7}, True),
    (f"{NUMBER} > 5", {"random-num-Output": 5}, False),
    (f"{NUMBER} <= 5", {"random-num-Output": 5}, True),
    (f"{NUMBER} <= 15", {"random-num-Output": 16}, False),
    (f"int({ref('threshold')}) == 2", {"threshold": 2}, True),
    (f"int({ref('threshold')}) == 2", {"threshold": "2"}, True),
    (f"int({ref('item')}) >= int({ref('threshold')})", {"item": 3, "threshold": 2}, True),
    (f"int({ref('item')}) >= int({ref('threshold')})", {"item": 1, "threshold": 2}, False),
    (f"{ref('a-Output')} == {ref('b-Output')}", {"a-Output": "heads", "b-Output": "heads"}, True),
    (f"{ref('a-Output')} == {ref('b-Output')}", {"a-Output": "heads", "b-Output": "tails"}, False),
]
CORPUS_IDS = [
    "str-eq-true",
    "str-eq-false",
    "str-ne-true",
    "str-ne-false",
    "not-eq-true",
    "not-eq-false",
    "bool-eq-true",
    "bool-eq-false",
    "not-bool-eq",
    "numeric-text-eq-string",
    "int-value-ne-string-constant",
    "int-gt-true",
    "int-gt-false-at-bound",
    "int-le-at-bound",
    "int-le-false",
    "int-eq",
    "int-eq-from-text",
    "int-ge-channel-true",
    "int-ge-channel-false",
    "channel-eq-channel-true",
    "channel-eq-channel-false",
]


def params(values: dict[str, Any]) -> dict[str, Any]:
    return {f"pipelinechannel--{name}": value for name, value in values.items()}


@pytest.mark.parametrize(("condition", "values", "expected"), CORPUS_FORMS, ids=CORPUS_IDS)
def test_corpus_forms(condition: str, values: dict[str, Any], expected: bool) -> None:
    assert evaluate_condition(condition, params(values)) is expected


# Forms the KFP 2.17 compiler writes, found by compiling dsl.If with each operator against
# str, int, float and bool constants and against other channels.
FLOAT = ref("f-Output")
INT = f"int({ref('i-Output')})"
COMPILED_FORMS = [
    (f"double({INT}) == 2.5", {"i-Output": 2}, False),
    (f"double({INT}) < 2.5", {"i-Output": 2}, True),
    (f"double({INT}) >= 2.5", {"i-Output": "3"}, True),
    (f"{FLOAT} == double(3)", {"f-Output": 3.0}, True),
    (f"{FLOAT} < double(3)", {"f-Output": 2.5}, True),
    (f"{FLOAT} != 0.5", {"f-Output": 0.5}, False),
    (f"{FLOAT} >= -1e-07", {"f-Output": 0.0}, True),
    (f"{FLOAT} < 1e+20", {"f-Output": 1e19}, True),
    (f"{INT} == -3", {"i-Output": -3}, True),
    (f"{INT} < -3", {"i-Output": -3}, False),
    (f"{ref('s-Output')} == '5'", {"s-Output": "5"}, True),
    (f"{ref('s-Output')} == '1.5'", {"s-Output": "1.50"}, False),
    (f"{ref('s-Output')} == 'true'", {"s-Output": "true"}, True),
    (f"{ref('s-Output')} < 'heads'", {"s-Output": "apple"}, True),
    (f"{ref('s-Output')} >= {ref('ps')}", {"s-Output": "b", "ps": "a"}, True),
    (f"{ref('b-Output')} == false", {"b-Output": False}, True),
    (f"{ref('b-Output')} < true", {"b-Output": False}, True),
    (f"{ref('b-Output')} != {ref('pb')}", {"b-Output": True, "pb": True}, False),
    (f"{FLOAT} >= {ref('pf')}", {"f-Output": 0.5, "pf": 0.5}, True),
    (f"double({INT}) < {ref('pf')}", {"i-Output": 0, "pf": 0.5}, True),
    (f"{INT} != int({ref('pi')})", {"i-Output": 1, "pi": 1}, False),
]
COMPILED_IDS = [
    "int-vs-float-const-eq",
    "int-vs-float-const-lt",
    "int-text-vs-float-const-ge",
    "float-vs-int-const-eq",
    "float-vs-int-const-lt",
    "float-ne",
    "float-ge-negative-exponent",
    "float-lt-positive-exponent",
    "int-eq-negative",
    "int-lt-negative",
    "str-vs-int-const",
    "str-vs-float-const-is-text",
    "str-vs-bool-const",
    "str-lt",
    "str-ge-param",
    "bool-eq-false",
    "bool-lt",
    "bool-ne-param",
    "float-ge-param",
    "int-vs-float-param",
    "int-ne-int-param",
]


@pytest.mark.parametrize(("condition", "values", "expected"), COMPILED_FORMS, ids=COMPILED_IDS)
def test_compiled_forms(condition: str, values: dict[str, Any], expected: bool) -> None:
    assert evaluate_condition(condition, params(values)) is expected


# dsl.If(coin == 'heads') / Elif(coin == 'tails') / Elif(n > 3) / Else, as compiled.
HEADS = f"{COIN} == 'heads'"
TAILS = f"{COIN} == 'tails'"
BIG = f"{NUMBER} > 3"
BRANCHES = {
    "if": HEADS,
    "elif-1": f"!({HEADS}) && {TAILS}",
    "elif-2": f"!({HEADS}) && !({TAILS}) && {BIG}",
    "else": f"!({HEADS}) && !({TAILS}) && !({BIG})",
}


@pytest.mark.parametrize(
    ("coin", "number", "branch"),
    [("heads", 9, "if"), ("tails", 9, "elif-1"), ("edge", 9, "elif-2"), ("edge", 1, "else")],
    ids=["if", "first-elif", "second-elif", "else"],
)
def test_exactly_one_branch_of_if_elif_else_runs(coin: str, number: int, branch: str) -> None:
    values = params({"flip-coin-Output": coin, "random-num-Output": number})
    taken = [name for name, cond in BRANCHES.items() if evaluate_condition(cond, values)]
    assert taken == [branch]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("true || false && false", True),
        ("(true || false) && false", False),
        ("!true == false", True),
        ("!!true", True),
        ("false || !(1 > 2)", True),
        ("1 < 2 == true", True),
        ("-(2) == -2", True),
        ("- -3 == 3", True),
    ],
    ids=[
        "and-binds-tighter-than-or",
        "parentheses",
        "not-binds-tighter-than-eq",
        "double-not",
        "or-with-not",
        "relations-chain-left-to-right",
        "negate-parenthesised",
        "double-minus",
    ],
)
def test_precedence(condition: str, expected: bool) -> None:
    assert evaluate_condition(condition, {}) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("\"heads\" == 'heads'", True),
        ("'it\\'s' == \"it's\"", True),
        (r"'a\\b' == 'a\x5cb'", True),
        (r"'line\nbreak' == 'line\012break'", True),
        (r"'\x41\u00e9\U0001F600' == 'Aé😀'", True),
        (r"'\a\b\f\r\t\v\?\`' == '\007\010\014\015\011\013?`'", True),
        ("0x10 == 16", True),
        (".5 == 0.5", True),
        ("1e3 == 1000", True),
        ("null == null", True),
        ("'' == ''", True),
    ],
    ids=[
        "double-and-single-quotes",
        "escaped-quotes",
        "escaped-backslash",
        "newline-and-octal",
        "hex-and-unicode",
        "control-escapes",
        "hex-int",
        "leading-dot-double",
        "exponent-double",
        "null",
        "empty-string",
    ],
)
def test_literals(condition: str, expected: bool) -> None:
    assert evaluate_condition(condition, {}) is expected


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("int({x}) == 7", "7", True),
        ("int({x}) == 7", " 7 ", True),
        ("int({x}) == -7", "-7", True),
        ("int({x}) == 5", "5.0", True),
        ("int({x}) == 7", 7.9, True),
        ("int({x}) == -7", -7.9, True),
        ("double({x}) == 2.5", "2.5", True),
        ("double({x}) == 1000.0", "1e3", True),
        ("double({x}) == 3.0", 3, True),
        ("double(int({x})) == 4.0", "4", True),
        ("{x} == 5", "5", False),
        ("{x} != 5", "5", True),
        ("{x} == 1", True, False),
        ("{x} == 0", False, False),
        ("{x} == 2", 2.0, True),
        ("{x} == null", None, True),
        ("{x} == 'None'", None, False),
        ("{x} == 'a'", ["a"], False),
        ("{x} == {y}", [1, "a", [True]], True),
        ("{x} == {y}", {"k": [1.0]}, True),
    ],
    ids=[
        "int-from-text",
        "int-from-padded-text",
        "int-from-negative-text",
        "int-from-whole-double-text",
        "int-truncates-double",
        "int-truncates-toward-zero",
        "double-from-text",
        "double-from-exponent-text",
        "double-from-int",
        "double-of-int-of-text",
        "text-is-not-a-number",
        "text-differs-from-number",
        "bool-is-not-int",
        "false-is-not-zero",
        "int-equals-double",
        "null-equals-null",
        "null-is-not-text",
        "list-is-not-string",
        "lists-equal",
        "maps-equal",
    ],
)
def test_types_and_conversions(condition: str, value: Any, expected: bool) -> None:
    condition = condition.format(x=ref("x"), y=ref("y"))
    other = [1.0, "a", [True]] if isinstance(value, list) else {"k": [1]}
    assert evaluate_condition(condition, params({"x": value, "y": other})) is expected


def test_and_or_short_circuit_like_cel() -> None:
    bad = "int('not a number') > 1"
    assert evaluate_condition(f"false && {bad}", {}) is False
    assert evaluate_condition(f"true || {bad}", {}) is True
    with pytest.raises(PipelineLoadError, match="cannot convert the string 'not a number'"):
        evaluate_condition(f"true && {bad}", {})


@pytest.mark.parametrize("blank", ["", "   "], ids=["empty", "spaces"])
def test_empty_condition_means_run(blank: str) -> None:
    assert evaluate_condition(blank, {}) is True


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (f"{COIN} ==", r"cannot be parsed: expected a value at column \d+, found the end"),
        (f"({COIN} == 'x'", r"expected '\)' at column \d+, found the end"),
        (f"{COIN} == 'x')", r"unexpected '\)' at column \d+; the condition should end"),
        (f"{COIN} = 'x'", r"unexpected character '=' at column \d+"),
        ("1 + 2", r"unexpected character '\+' at column 3"),
        (f"{COIN} == 'it's'", r"has no closing '; the KFP compiler does not escape quotes"),
        (f"{COIN} == 'C:\\path'", r"invalid escape sequence '\\p' at column \d+.*written twice"),
        (f"size({COIN}) > 0", r"the function size\(\) is not supported.*int\(\) and double\(\)"),
        (f"{COIN} == inf", r"unknown name 'inf' at column \d+"),
        (f"{COIN} == heads", r"unknown name 'heads'"),
        ("inputs.parameters['x'] == 1", r"inputs\.parameters is not supported"),
        ("inputs.parameter_values[x] == 1", r"expected a string at column 25, found 'x'"),
        ("__import__('os').system('true')", r"the function __import__\(\) is not supported"),
    ],
    ids=[
        "missing-operand",
        "unclosed-parenthesis",
        "extra-parenthesis",
        "single-equals",
        "arithmetic",
        "unescaped-quote-in-constant",
        "bad-escape-in-constant",
        "unsupported-function",
        "infinity-constant",
        "bare-word",
        "old-parameters-field",
        "unquoted-name",
        "python-code",
    ],
)
def test_syntax_errors_quote_the_condition(condition: str, message: str) -> None:
    with pytest.raises(PipelineLoadError, match=message) as caught:
        evaluate_condition(condition, params({"flip-coin-Output": "heads"}))
    assert str(caught.value).startswith(f"Trigger condition {condition!r}")


@pytest.mark.parametrize(
    ("condition", "value", "message"),
    [
        (f"{ref('nope')} == 'x'", "v", r"reads the parameter 'pipelinechannel--nope', which is"),
        (f"int({ref('x')}) > 1", "heads", r"int\(\) cannot convert the string 'heads'"),
        (f"int({ref('x')}) > 1", "5.5", r"int\(\) cannot convert the string '5.5'"),
        (f"int({ref('x')}) > 1", True, r"int\(\) cannot convert bool True"),
        (f"int({ref('x')}) > 1", float("nan"), r"int\(\) cannot convert nan"),
        (f"double({ref('x')}) > 1", "1_000", r"double\(\) cannot convert the string '1_000'"),
        (f"double({ref('x')}) > 1", None, r"double\(\) cannot convert null"),
        (f"{ref('x')} > 5", "7", r"'>' cannot order string '7' and int 5"),
        (f"{ref('x')} < true", 1, r"'<' cannot order int 1 and bool True"),
        (f"{ref('x')}", "true", r"it evaluates to string 'true', not to true or false"),
        (f"!{ref('x')}", 1, r"'!' needs true or false, got int 1"),
        (f"{ref('x')} && true", "yes", r"'&&' needs true or false, got string 'yes'"),
        (f"-{ref('x')} < 0", "3", r"'-' needs a number, got string '3'"),
    ],
    ids=[
        "unknown-parameter",
        "int-of-word",
        "int-of-fraction-text",
        "int-of-bool",
        "int-of-nan",
        "double-of-underscored-text",
        "double-of-null",
        "order-text-and-number",
        "order-int-and-bool",
        "result-not-bool",
        "not-of-int",
        "and-of-text",
        "negate-text",
    ],
)
def test_evaluation_errors(condition: str, value: Any, message: str) -> None:
    with pytest.raises(PipelineLoadError, match=message) as caught:
        evaluate_condition(condition, params({"x": value}))
    assert str(caught.value).startswith(f"Trigger condition {condition!r}")


def test_unknown_parameter_is_refused_even_when_not_reached() -> None:
    with pytest.raises(PipelineLoadError, match=r"inputs \('pipelinechannel--x'\)"):
        evaluate_condition(f"false && {ref('typo')} == 'a'", params({"x": 1}))


def test_condition_parameters_lists_every_name_read() -> None:
    condition = BRANCHES["else"]
    assert condition_parameters(condition) == {
        "pipelinechannel--flip-coin-Output",
        "pipelinechannel--random-num-Output",
    }
    assert condition_parameters("") == frozenset()
    with pytest.raises(PipelineLoadError, match="cannot be parsed"):
        condition_parameters("int(")


def _tasks_with_conditions(document: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "tasks" and isinstance(value, dict):
                for name, task in value.items():
                    if (task.get("triggerPolicy") or {}).get("condition"):
                        yield name, task
            yield from _tasks_with_conditions(value)
    elif isinstance(document, list):
        for item in document:
            yield from _tasks_with_conditions(item)


def test_every_corpus_condition_parses_and_reads_declared_inputs(conformance: Path) -> None:
    checked = 0
    for path in sorted(conformance.rglob("*.yaml")):
        for document in yaml.load_all(path.read_text(), Loader=LOADER):
            for name, task in _tasks_with_conditions(document):
                condition = task["triggerPolicy"]["condition"]
                declared = set((task.get("inputs") or {}).get("parameters") or {})
                names = condition_parameters(condition)
                assert names, f"{path.name}: task {name} reads no parameter"
                assert names <= declared, f"{path.name}: task {name} reads {names - declared}"
                checked += 1
    assert checked > 0


def test_public_api() -> None:
    assert conditions.__all__ == ["condition_parameters", "evaluate_condition"]
