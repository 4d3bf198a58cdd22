"""The one error the model server raises on purpose, with the HTTP status it answers with.

KServe's and the Open Inference Protocol's error body is ``{"error": "<message>"}`` for
both protocols, so the message is all a client sees: it says what was wrong and with
which value. Any other kubeline error becomes one with the status of kubeline's one table
(:func:`inference_error`).
"""

from __future__ import annotations

import reprlib
from typing import Any

from kubeline.errors import StatusError, codes_of

__all__ = ["InferenceError", "inference_error", "shown"]

# Bounded in depth and width: a request may nest lists a thousand deep (orjson allows
# 1024 levels), deeper than ``repr`` can go without a RecursionError.
_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 60


class InferenceError(StatusError):
    """A request the server refuses (4xx) or could not answer (5xx)."""

    def body(self) -> dict[str, str]:
        return {"error": self.message}

    def __repr__(self) -> str:
        return f"InferenceError({self.status}, {self.message!r})"


def inference_error(error: BaseException) -> InferenceError:
    """``error`` as the model server answers it: its own status when it carries one, else
    the status kubeline's table gives its class (500 for anything unexpected)."""
    if isinstance(error, InferenceError):
        return error
    return InferenceError(codes_of(error).http_status, str(error))


def shown(value: Any, limit: int = 60) -> str:
    """``value`` as an error message quotes it: its ``repr``, cut to ``limit`` characters,
    lists and objects only a few levels deep."""
    text = _REPR.repr(value) if isinstance(value, (list, dict, tuple)) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
