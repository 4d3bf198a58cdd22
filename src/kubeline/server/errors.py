"""HTTP errors in KFP's shape (a google.rpc.Status: code, message, details), their status
read from kubeline's one table (:data:`kubeline.errors.CODES`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.routing import Match

from kubeline.errors import KubelineError, StatusError, codes_of

__all__ = ["ApiError", "allowed_methods", "install_error_handlers"]

# HTTP status -> gRPC code, as KFP's API server reports them.
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 413: 8, 500: 13, 501: 12}


class ApiError(StatusError):
    """A refusal with its own HTTP status (413, or a 400 the typed errors do not name)."""


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": message, "code": _GRPC.get(status, 2), "message": message, "details": []}


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this request's path, for a 405's ``Allow``.

    Starlette names only the first route whose path matched; ``/experiments`` has one
    route for GET and another for POST, and a client must learn of both.
    """
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


def _problem(error: dict[str, Any]) -> str:
    """One validation error as ``where: what`` (a validator's own message says both)."""
    where = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "value_error":
        message = message.removeprefix("Value error, ")
        if message.startswith(where):
            return message
    return f"{where}: {message}"


def _respond(status: int, message: str) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(_problem(e) for e in exc.errors()[:10])
        return _respond(400, f"Invalid request: {problems}")

    @app.exception_handler(KubelineError)
    async def _kubeline(_: Request, exc: KubelineError) -> JSONResponse:
        return _respond(codes_of(exc).http_status, str(exc))
