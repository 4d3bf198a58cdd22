"""Parameter values as the KFP backend gives them to a task.

The backend keeps every parameter as a protobuf ``Value`` and turns it into text with Go:
a number with ``strconv.FormatFloat(x, 'f', -1, 64)`` (``1``, not ``1.0``), a bool as
``true`` / ``false``, a list or dict as compact JSON (Go's ``json.Marshal`` of protojson:
keys sorted, integral numbers without ``.0``, ``<``, ``>`` and ``&`` escaped). That text is
what a ``STRING`` input receives when given a number, list or dict (the driver's
conversion) and what an ``{{$.inputs.parameters[...]}}`` placeholder becomes in a command
or an f-string (the launcher's). Python's ``str``, ``repr`` or ``json.dumps`` differ in
each of these, so kubeline writes them here.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["kfp_json", "kfp_text", "whole_numbers"]

# Go's encoding/json escapes these inside strings (HTML safety and JavaScript line ends).
_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def whole_numbers(value: Any) -> Any:
    """Integral floats back to ints, inside lists and dicts too.

    Protobuf's Struct keeps every number as a double, and Python's json_format prints
    ``1`` back as ``1.0``; the KFP backend's JSON (Go's protojson) prints ``1``, so a
    collected list of ints reaches a component as ints there. This does the same here.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    return value


def kfp_text(value: Any) -> str:
    """The text the KFP backend makes of a parameter value (Go's ``PbValueToText``)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _plain_number(value)
    return kfp_json(value)


def kfp_json(value: Any) -> str:
    """Compact JSON as Go's ``json.Marshal`` writes a protobuf list or struct value."""
    text = _json(value)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)  # only string contents can hold these
    return text


def _json(value: Any) -> str:
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_string(k)}:{_json(v)}" for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json(v) for v in value) + "]"
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_number(value)
    return _string(str(value))


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _plain_number(number: float) -> str:
    """``strconv.FormatFloat(x, 'f', -1, 64)``: shortest digits, never an exponent."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0 and math.copysign(1.0, number) < 0:
        return "-0"
    if number.is_integer():
        return str(int(number))
    from decimal import Decimal  # only here: every task's process imports this module

    return format(Decimal(repr(number)), "f")


def _json_number(number: float) -> str:
    """protojson's number: plain between 1e-6 and 1e21, else ``1e+21`` / ``1e-7``."""
    if math.isnan(number) or math.isinf(number):
        return '"NaN"' if math.isnan(number) else ('"Infinity"' if number > 0 else '"-Infinity"')
    size = abs(number)
    if size == 0 or 1e-6 <= size < 1e21:
        return _plain_number(number)
    from decimal import Decimal

    sign, digits, exponent = Decimal(repr(number)).as_tuple()
    shown = "".join(map(str, digits)).rstrip("0") or "0"
    power = int(exponent) + len(digits) - 1
    mantissa = shown[0] + (f".{shown[1:]}" if len(shown) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'+' if power >= 0 else '-'}{abs(power)}"
