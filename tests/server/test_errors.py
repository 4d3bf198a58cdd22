"""The API's error answers come from kubeline's one table, in KFP's google.rpc.Status shape:
a route raises a typed error and the handler picks the status and the gRPC code."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from kubeline import errors
from kubeline.registry import ModelNotFoundError
from kubeline.server.errors import ApiError, install_error_handlers


def _answer(error: BaseException) -> httpx.Response:
    """What the API answers for a route that raises ``error`` (in process, no server)."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fail")
    def fail() -> None:
        raise error

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/fail")

    return asyncio.run(get())


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.ConfigError("page_size must be 1 or more."), 400, 3),
        (errors.NotFoundError("Run 'x' not found."), 404, 5),
        # A NotFoundError that is a ConfigError too (for callers written before): still 404.
        (ModelNotFoundError("No model named 'x'."), 404, 5),
        (errors.AlreadyExistsError("A pipeline named 'p' already exists."), 409, 6),
        (errors.ConflictError("Run 'x' already ended (SUCCEEDED)."), 400, 3),
        (ApiError(413, "The file is larger than 1 byte."), 413, 8),
        (errors.RunFailedError("a task failed"), 500, 13),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_a_typed_error_becomes_its_status_and_grpc_code(
    error: BaseException, status: int, code: int
) -> None:
    answer = _answer(error)
    assert answer.status_code == status
    assert answer.json() == {
        "error": str(error),
        "code": code,
        "message": str(error),
        "details": [],
    }
