"""The web UI: server-rendered pages (Jinja2) with a little JavaScript, served by
``kubeline server`` at ``/``. Every asset ships in this folder; nothing is built.

Pages read the store directly; what changes state (upload, start, terminate, retry,
archive) goes through the same REST API ``kfp.Client`` uses, or through a form post checked
by the same engine functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from kubeline.server.errors import allowed_methods, error_body
from kubeline.server.web import (
    api_docs,
    compare,
    experiments,
    lineage,
    models,
    pipelines,
    recurring_new,
    run_groups,
    run_page,
    runs,
)
from kubeline.server.web.common import error_page
from kubeline.server.web.login import TOKEN_COOKIE
from kubeline.server.web.login import router as login_router
from kubeline.server.web.templating import STATIC_DIR

__all__ = ["TOKEN_COOKIE", "install_web"]

_API_PREFIXES = ("/apis/", "/kubeline/api/", "/healthz")


def _router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/runs", status_code=307)

    router.include_router(login_router)
    router.include_router(pipelines.router)
    # /runs/new and /runs/compare before /runs/{run_id}.
    router.include_router(runs.router)
    # /recurring/new before /recurring/{recurring_run_id}.
    router.include_router(recurring_new.router)
    router.include_router(compare.router)
    router.include_router(run_page.router)
    router.include_router(experiments.router)
    router.include_router(run_groups.router)
    router.include_router(lineage.router)
    router.include_router(models.router)
    router.include_router(api_docs.router)
    return router


#: Pages load nothing from elsewhere (the UI works offline), run no inline script, frame
#: only this server's artifact content (itself served sandboxed), and are framed by no one
#: (no clickjacking). Artifact content keeps ``frame-ancestors 'self'`` for the previews.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def install_web(app: FastAPI) -> None:
    """Add the pages, their static files, and HTML error pages for browser paths."""
    app.include_router(_router())

    @app.middleware("http")
    async def _page_policy(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        # Run ids, pipeline names and sign-in links never leave in a Referer header.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.headers.get("content-type", "").startswith("text/html") and (
            "content-security-policy" not in response.headers
        ):
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    app.mount("/kubeline/static", StaticFiles(directory=str(STATIC_DIR)), name="web-static")

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith(_API_PREFIXES):
            message = exc.detail if isinstance(exc.detail, str) else "Request failed."
            if exc.status_code == 404:
                message = f"No such API path: {request.url.path}"
            elif message == "There was an error parsing the body":  # FastAPI's words
                message = (
                    "The request body could not be read: send JSON in UTF-8, nested less "
                    "than a few hundred levels deep."
                )
            headers = dict(exc.headers or {})
            if exc.status_code == 405:  # RFC 9110: a 405 says which methods the path takes
                headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
                message = (
                    f"{request.method} is not allowed on {request.url.path}; "
                    f"use {headers['Allow']}."
                )
            return JSONResponse(
                error_body(exc.status_code, message), status_code=exc.status_code, headers=headers
            )
        if exc.status_code == 404:
            return error_page(
                request,
                404,
                "Page not found",
                f"There is no page at {request.url.path}.",
            )
        page = error_page(request, exc.status_code, "Request failed", str(exc.detail))
        page.headers.update(exc.headers or {})
        return page
