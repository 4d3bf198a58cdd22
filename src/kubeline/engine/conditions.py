"""Evaluate the trigger conditions that KFP writes for ``dsl.If`` / ``dsl.Elif`` / ``dsl.Else``.

The KFP v2 compiler turns each branch into a ``triggerPolicy.condition``: a small CEL
expression over the task's input parameters, for example::

    int(inputs.parameter_values['pipelinechannel--roll-Output']) > 5
    !(inputs.parameter_values['pipelinechannel--flip-Output'] == 'heads') && ...

The KFP backend hands these to cel-go; ``kfp.local`` rewrites them into Python and calls
``eval``. Kubeline does neither: it reads the subset of CEL the compiler emits with its own
tokenizer and recursive-descent parser, so a condition in a pipeline file can never run
code. The subset is literals (strings, ints, doubles, ``true``, ``false``, ``null``),
``inputs.parameter_values['NAME']``, ``int(x)`` and ``double(x)``, ``!``, unary ``-``,
``== != < <= > >=``, ``&&``, ``||`` and parentheses.

Values keep their types as CEL does: ``'5' == 5`` is false and ``'5' < 5`` is an error.
``int()`` and ``double()`` convert numeric text, as CEL's do, because a parameter may reach
the engine as the string a component printed (``kfp.local`` relies on Python's ``int()``
for the same reason). Kubeline is a little more lenient than cel-go there: it ignores
surrounding spaces and lets ``int()`` read a whole number written as a double (``"5.0"``).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

from kubeline.errors import PipelineLoadError

__all__ = ["condition_parameters", "evaluate_condition"]

# Longest operators first, so that "<=" is not read as "<" then "=".
_OPERATORS = ("&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "-", "(", ")", "[", "]", ".")
_RELATIONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_KEYWORDS = {"true": True, "false": False, "null": None}
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.\d+|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = re.compile(r"\s+")
_SIMPLE_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
    "?": "?",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}
_HEX_ESCAPE_LENGTHS = {"x": 2, "u": 4, "U": 8}
_INT_TEXT = re.compile(r"[+-]?\d+")
_FUNCTIONS = ("int", "double")


class _Problem(Exception):
    """What is wrong with a condition; the public functions add the condition itself."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "ident", "op" or "end"
    text: str
    value: Any
    position: int


@dataclass(frozen=True)
class _Const:
    value: Any


@dataclass(frozen=True)
class _Param:
    name: str


@dataclass(frozen=True)
class _Call:
    function: str
    argument: _Node


@dataclass(frozen=True)
class _Unary:
    operator: str
    operand: _Node


@dataclass(frozen=True)
class _Binary:
    operator: str
    left: _Node
    right: _Node


_Node = _Const | _Param | _Call | _Unary | _Binary


def evaluate_condition(expression: str, parameters: dict[str, Any]) -> bool:
    """Decide whether a conditional branch runs.

    Args:
        expression: A ``triggerPolicy.condition`` from a compiled PipelineSpec. An empty
            string means no condition (proto3 writes "unset" as ""), so the branch runs.
        parameters: The task's input parameter values by input name, for example
            ``{"pipelinechannel--flip-coin-Output": "heads"}``.

    Returns:
        The value of the condition.

    Raises:
        PipelineLoadError: The condition does not parse, names a parameter that is not in
            ``parameters``, calls a function other than ``int``/``double``, compares values
            that cannot be ordered, or does not evaluate to true or false.
    """
    if not expression.strip():
        return True
    tree = _parse_or_raise(expression)
    try:
        _check_names(tree, parameters)
        result = _evaluate(tree, parameters)
        if not isinstance(result, bool):
            raise _Problem(f"it evaluates to {_describe(result)}, not to true or false.")
    except _Problem as problem:
        raise PipelineLoadError(f"Trigger condition {expression!r}: {problem}") from problem
    return result


def condition_parameters(expression: str) -> frozenset[str]:
    """The input parameter names a condition reads, so a spec can be checked before it runs.

    Raises:
        PipelineLoadError: The condition does not parse.
    """
    if not expression.strip():
        return frozenset()
    return frozenset(_names(_parse_or_raise(expression)))


def _parse_or_raise(expression: str) -> _Node:
    try:
        return _parse(expression)
    except _Problem as problem:
        raise PipelineLoadError(
            f"Trigger condition {expression!r} cannot be parsed: {problem} Recompile the "
            "pipeline with the KFP SDK, or correct the condition."
        ) from problem


# --- tokens ---------------------------------------------------------------------------


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(expression):
        space = _SPACE.match(expression, position)
        if space:
            position = space.end()
            continue
        token = _next_token(expression, position)
        tokens.append(token)
        position += len(token.text)
    tokens.append(_Token("end", "", None, len(expression)))
    return tokens


def _next_token(expression: str, position: int) -> _Token:
    char = expression[position]
    if char in "'\"":
        return _string_token(expression, position)
    number = _NUMBER.match(expression, position)
    if number:
        return _number_token(number.group(), position)
    ident = _IDENT.match(expression, position)
    if ident:
        return _Token("ident", ident.group(), ident.group(), position)
    for operator in _OPERATORS:
        if expression.startswith(operator, position):
            return _Token("op", operator, operator, position)
    raise _Problem(f"unexpected character {char!r} at column {position + 1}.")


def _number_token(text: str, position: int) -> _Token:
    if text[:2].lower() == "0x":
        value: int | float = int(text, 16)
    elif any(mark in text for mark in ".eE"):
        value = float(text)
    else:
        value = int(text)
    return _Token("number", text, value, position)


def _string_token(expression: str, start: int) -> _Token:
    """Read a quoted CEL string; KFP writes constants between single quotes, unescaped."""
    quote = expression[start]
    chars: list[str] = []
    position = start + 1
    while position < len(expression):
        char = expression[position]
        if char == quote:
            return _Token("string", expression[start : position + 1], "".join(chars), start)
        if char == "\n":
            break
        if char == "\\":
            decoded, position = _escape(expression, position)
            chars.append(decoded)
            continue
        chars.append(char)
        position += 1
    raise _Problem(
        f"the string starting at column {start + 1} has no closing {quote}; the KFP compiler "
        "does not escape quotes, so a quote inside a dsl.If string constant ends it early."
    )


def _escape(expression: str, position: int) -> tuple[str, int]:
    """Decode the escape sequence at ``position`` (a backslash); return it and where it ends."""
    code = expression[position + 1 : position + 2]
    if code in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[code], position + 2
    if code in _HEX_ESCAPE_LENGTHS:
        end = position + 2 + _HEX_ESCAPE_LENGTHS[code]
        digits = expression[position + 2 : end]
        if re.fullmatch(r"[0-9a-fA-F]+", digits) and len(digits) == _HEX_ESCAPE_LENGTHS[code]:
            return chr(int(digits, 16)), end
    octal = expression[position + 1 : position + 4]
    if re.fullmatch(r"[0-3][0-7]{2}", octal):
        return chr(int(octal, 8)), position + 4
    raise _Problem(
        f"invalid escape sequence '\\{code}' at column {position + 1}. The KFP compiler copies "
        "dsl.If string constants verbatim, so a backslash in one must be written twice."
    )


# --- parser ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _parse(expression: str) -> _Node:
    """Parse once per distinct condition: a loop body re-evaluates the same one many times."""
    parser = _Parser(_tokenize(expression))
    tree = parser.expression()
    parser.expect_end()
    return tree


class _Parser:
    """Recursive descent over CEL's precedence levels: ``||`` < ``&&`` < relations < unary."""

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._index = 0

    @property
    def _current(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._current
        self._index += 1
        return token

    def _accept(self, operator: str) -> bool:
        if self._current.kind == "op" and self._current.text == operator:
            self._index += 1
            return True
        return False

    def _expect(self, kind: str, text: str | None = None) -> _Token:
        token = self._current
        if token.kind != kind or (text is not None and token.text != text):
            wanted = repr(text) if text is not None else f"a {kind}"
            raise _Problem(f"expected {wanted} at column {token.position + 1}, {_found(token)}.")
        return self._advance()

    def expect_end(self) -> None:
        if self._current.kind != "end":
            raise _Problem(
                f"unexpected {self._current.text!r} at column {self._current.position + 1}; "
                "the condition should end there."
            )

    def expression(self) -> _Node:
        node = self._conjunction()
        while self._accept("||"):
            node = _Binary("||", node, self._conjunction())
        return node

    def _conjunction(self) -> _Node:
        node = self._relation()
        while self._accept("&&"):
            node = _Binary("&&", node, self._relation())
        return node

    def _relation(self) -> _Node:
        node = self._unary()
        while self._current.kind == "op" and self._current.text in _RELATIONS:
            operator = self._advance().text
            node = _Binary(operator, node, self._unary())
        return node

    def _unary(self) -> _Node:
        for operator in ("!", "-"):
            if self._accept(operator):
                return _Unary(operator, self._unary())
        return self._primary()

    def _primary(self) -> _Node:
        token = self._current
        if token.kind in ("number", "string"):
            return _Const(self._advance().value)
        if self._accept("("):
            node = self.expression()
            self._expect("op", ")")
            return node
        if token.kind == "ident":
            return self._identifier()
        raise _Problem(f"expected a value at column {token.position + 1}, {_found(token)}.")

    def _identifier(self) -> _Node:
        token = self._advance()
        if token.text in _KEYWORDS:
            return _Const(_KEYWORDS[token.text])
        if token.text == "inputs":
            return self._parameter_reference()
        if self._accept("("):
            if token.text not in _FUNCTIONS:
                raise _Problem(
                    f"the function {token.text}() is not supported; kubeline supports "
                    "int() and double(), the conversions the KFP compiler writes."
                )
            argument = self.expression()
            self._expect("op", ")")
            return _Call(token.text, argument)
        raise _Problem(
            f"unknown name {token.text!r} at column {token.position + 1}; a condition reads "
            "inputs.parameter_values['NAME'] and literals such as 'text', 3, 2.5 and true."
        )

    def _parameter_reference(self) -> _Param:
        self._expect("op", ".")
        field = self._expect("ident")
        if field.text != "parameter_values":
            raise _Problem(
                f"inputs.{field.text} is not supported; conditions read "
                "inputs.parameter_values['NAME']."
            )
        self._expect("op", "[")
        name = self._expect("string")
        self._expect("op", "]")
        return _Param(name.value)


def _found(token: _Token) -> str:
    return "found the end of the condition" if token.kind == "end" else f"found {token.text!r}"


# --- evaluation -----------------------------------------------------------------------


def _names(node: _Node) -> list[str]:
    match node:
        case _Param(name=name):
            return [name]
        case _Call(argument=argument):
            return _names(argument)
        case _Unary(operand=operand):
            return _names(operand)
        case _Binary(left=left, right=right):
            return _names(left) + _names(right)
    return []


def _check_names(tree: _Node, parameters: dict[str, Any]) -> None:
    """Refuse unknown names before evaluating, so the error does not depend on the values."""
    for name in _names(tree):
        if name not in parameters:
            known = ", ".join(repr(key) for key in sorted(parameters)) or "none"
            raise _Problem(
                f"it reads the parameter {name!r}, which is not among the task's inputs "
                f"({known}). Check that the task's inputs.parameters list {name!r}."
            )


def _evaluate(node: _Node, parameters: dict[str, Any]) -> Any:
    match node:
        case _Const(value=value):
            return value
        case _Param(name=name):
            return parameters[name]
        case _Call(function="int", argument=argument):
            return _to_int(_evaluate(argument, parameters))
        case _Call(argument=argument):
            return _to_double(_evaluate(argument, parameters))
        case _Unary(operator="!", operand=operand):
            return not _require_bool(_evaluate(operand, parameters), "!")
        case _Unary(operand=operand):
            return _negate(_evaluate(operand, parameters))
        case _Binary(operator="&&" | "||"):
            return _logical(node, parameters)
        case _Binary(operator=operator, left=left, right=right):
            return _compare(operator, _evaluate(left, parameters), _evaluate(right, parameters))
    raise AssertionError(f"unhandled node {node!r}")  # the parser builds no other node


def _logical(node: _Binary, parameters: dict[str, Any]) -> bool:
    left = _require_bool(_evaluate(node.left, parameters), node.operator)
    if left is (node.operator == "||"):
        return left
    return _require_bool(_evaluate(node.right, parameters), node.operator)


def _require_bool(value: Any, operator: str) -> bool:
    if not isinstance(value, bool):
        raise _Problem(f"'{operator}' needs true or false, got {_describe(value)}.")
    return value


def _is_number(value: Any) -> bool:
    # bool is an int subclass in Python, but not a number in CEL.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _negate(value: Any) -> int | float:
    if not _is_number(value):
        raise _Problem(f"'-' needs a number, got {_describe(value)}.")
    negated: int | float = -value
    return negated


def _compare(operator: str, left: Any, right: Any) -> bool:
    if operator == "==":
        return _equal(left, right)
    if operator == "!=":
        return not _equal(left, right)
    if not _orderable(left, right):
        raise _Problem(
            f"'{operator}' cannot order {_describe(left)} and {_describe(right)}; "
            "compare values of one type, or convert with int() or double()."
        )
    if operator == "<":
        return bool(left < right)
    if operator == "<=":
        return bool(left <= right)
    if operator == ">":
        return bool(left > right)
    return bool(left >= right)


def _orderable(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return True
    return type(left) is type(right) and isinstance(left, str | bool)


def _equal(left: Any, right: Any) -> bool:
    """CEL equality: numbers compare by value across int and double, other types never match."""
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_equal, left, right))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_equal(left[k], right[k]) for k in left)
    return bool(left == right)


def _to_int(value: Any) -> int:
    if isinstance(value, str):
        return _int_from_text(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Problem(f"int() cannot convert {value!r} to an integer.")
        return int(value)  # truncates toward zero, as CEL's int(double) does
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Problem(f"int() cannot convert {_describe(value)} to an integer.")


def _int_from_text(text: str) -> int:
    stripped = text.strip()
    if _INT_TEXT.fullmatch(stripped):
        return int(stripped)
    # A whole number printed as a double ("5.0") is still that integer; "5.5" is refused
    # rather than truncated, because text with a fraction was not meant as an int.
    number = _double_from_text(text, function="int")
    if math.isfinite(number) and number.is_integer():
        return int(number)
    raise _Problem(f"int() cannot convert the string {text!r} to an integer.")


def _to_double(value: Any) -> float:
    if isinstance(value, str):
        return _double_from_text(value, function="double")
    if _is_number(value):
        return float(value)
    raise _Problem(f"double() cannot convert {_describe(value)} to a number.")


def _double_from_text(text: str, *, function: str) -> float:
    # Python's float() also accepts "1_000"; CEL does not.
    if "_" not in text:
        try:
            return float(text.strip())
        except ValueError:
            pass
    kind = "an integer" if function == "int" else "a number"
    raise _Problem(f"{function}() cannot convert the string {text!r} to {kind}.")


def _describe(value: Any) -> str:
    """Name a value with its CEL type, since Python's names (float, dict) differ from CEL's."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int):
        kind = "int"
    elif isinstance(value, float):
        kind = "double"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, list):
        kind = "list"
    elif isinstance(value, dict):
        kind = "map"
    else:
        kind = type(value).__name__
    return f"{kind} {value!r}"
