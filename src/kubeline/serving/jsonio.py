"""JSON in and out of the request path: orjson for speed, with the standard library as a
fallback reader so that ``NaN`` / ``Infinity`` literals (which Python's ``json.dumps``
writes for missing values) still reach the NaN checks instead of failing as bad JSON."""

from __future__ import annotations

import json
from typing import Any

import orjson

from kubeline.serving.errors import InferenceError

__all__ = ["dumps", "loads"]


def loads(body: bytes) -> Any:
    """Parse a request body; malformed JSON is a 400 that says where it broke."""
    if not body.strip():
        raise InferenceError(400, "The request body is empty; send a JSON object.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as fast_error:
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InferenceError(400, f"The request body is not valid JSON: {fast_error}") from None


def dumps(value: Any) -> bytes:
    """Serialise a response; numpy arrays pass through as they are (no ``tolist``)."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
