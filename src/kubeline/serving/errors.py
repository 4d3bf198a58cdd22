"""The one error the model server raises on purpose, with the HTTP status it answers with.

KServe's and the Open Inference Protocol's error body is ``{"error": "<message>"}`` for
both protocols, so the message is all a client sees: it says what was wrong and with
which value.
"""

from __future__ import annotations

__all__ = ["InferenceError"]


class InferenceError(Exception):
    """A request the server refuses (4xx) or could not answer (5xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.message}

    def __repr__(self) -> str:
        return f"InferenceError({self.status}, {self.message!r})"
