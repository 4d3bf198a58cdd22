"""kubeline's one table from an error class to its HTTP status and CLI exit code."""

from __future__ import annotations

import inspect

import pytest

import kubeline.errors as errors
from kubeline.errors import CODES, Codes, KubelineError, StatusError, codes_of


def _error_classes() -> list[type[KubelineError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, KubelineError) and cls.__module__ == errors.__name__
    ]


def test_the_table_has_a_row_for_every_error_class() -> None:
    missing = [cls.__name__ for cls in _error_classes() if cls not in CODES]
    assert missing == []
    assert all(cls.__name__ in errors.__all__ for cls in _error_classes())


@pytest.mark.parametrize(
    ("error", "codes"),
    [
        (errors.UserError("x"), Codes(400, 2)),
        (errors.ConfigError("x"), Codes(400, 2)),
        (errors.DataError("x"), Codes(400, 2)),
        (errors.DataValidationError("x"), Codes(400, 2)),
        (errors.PipelineLoadError("x"), Codes(400, 2)),
        (errors.NotFoundError("x"), Codes(404, 2)),
        (errors.AlreadyExistsError("x"), Codes(409, 2)),
        (errors.ConflictError("x"), Codes(400, 2)),  # KFP's FAILED_PRECONDITION is a 400
        (errors.RunFailedError("x"), Codes(500, 1)),
        (errors.KubelineError("x"), Codes(500, 1)),
        (StatusError(413, "x"), Codes(413, 2)),
        (StatusError(503, "x"), Codes(503, 1)),
        (ValueError("x"), Codes(500, 1)),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else "",
)
def test_each_error_is_answered_as_before(error: BaseException, codes: Codes) -> None:
    assert codes_of(error) == codes


def test_a_subclass_elsewhere_takes_its_nearest_ancestors_row() -> None:
    from kubeline.engine.safepath import UnsafePathError

    class Gone(errors.NotFoundError):
        pass

    assert codes_of(UnsafePathError("x")) == CODES[errors.UserError]
    assert codes_of(Gone("x")) == Codes(404, 2)


def test_the_servers_own_errors_carry_their_status() -> None:
    from kubeline.server.errors import ApiError
    from kubeline.serving.errors import InferenceError, inference_error

    assert codes_of(ApiError(403, "no")) == Codes(403, 2)
    assert isinstance(InferenceError(400, "bad"), KubelineError)
    assert inference_error(errors.NotFoundError("gone")).status == 404
    assert inference_error(RuntimeError("boom")).status == 500
    kept = InferenceError(503, "later")
    assert inference_error(kept) is kept and kept.body() == {"error": "later"}
