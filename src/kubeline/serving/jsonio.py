"""JSON in and out of the request path: orjson for speed, with the standard library as a
fallback reader so that ``NaN`` / ``Infinity`` literals (which Python's ``json.dumps``
writes for missing values) still reach the NaN checks instead of failing as bad JSON.

The fallback reads numbers as orjson does (integers past 64 bits become floats), and a
number past a float's range (``1e400``, or an integer of 400 digits) is a 400 that names
it, not an overflow deep in numpy."""

from __future__ import annotations

import json
from typing import Any

import orjson

from kubeline.serving.errors import InferenceError

__all__ = ["dumps", "loads"]

_FLOAT_DIGITS = 309  # an integer of more digits is past float64's largest, about 1.8e308


def loads(body: bytes) -> Any:
    """Parse a request body; malformed JSON is a 400 that says where it broke."""
    if not body.strip():
        raise InferenceError(400, "The request body is empty; send a JSON object.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as fast_error:
        try:
            return json.loads(body, parse_int=_integer, parse_float=_float)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InferenceError(400, f"The request body is not valid JSON: {fast_error}") from None


def dumps(value: Any) -> bytes:
    """Serialise a response; numpy arrays pass through as they are (no ``tolist``)."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def _integer(text: str) -> int | float:
    if len(text) <= 18:
        return int(text)
    if len(text.lstrip("-")) <= _FLOAT_DIGITS:  # never int() a string of thousands of digits
        value = int(text)
        if -(2**63) <= value < 2**64:
            return value
        try:
            return float(value)
        except OverflowError:
            pass
    raise _too_large(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # a finite literal that overflowed: 1e400
        raise _too_large(text)
    return value


def _too_large(text: str) -> InferenceError:
    shown = text if len(text) <= 24 else f"{text[:10]}...{text[-4:]} ({len(text)} characters)"
    return InferenceError(
        400,
        f"The number {shown} is out of range: JSON numbers here must fit a 64-bit float "
        "(magnitude at most about 1.8e308).",
    )
