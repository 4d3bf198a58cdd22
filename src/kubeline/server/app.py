"""The server's app factory: KFP's v2beta1 API over the engine and the store.

State (store, run manager, schedule loop) is built in the lifespan, never in globals, so a
test can start as many servers as it likes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from kubeline import __version__
from kubeline.engine.diskspace import is_disk_full
from kubeline.engine.runner import recover_orphans
from kubeline.httpguard import GuardMiddleware, RequestGuard, token_matches
from kubeline.server.api import router
from kubeline.server.bodylimit import BodyLimitMiddleware
from kubeline.server.errors import error_body, install_error_handlers
from kubeline.server.manager import RunManager
from kubeline.server.schedules import ScheduleLoop
from kubeline.server.settings import ServerSettings
from kubeline.server.web import TOKEN_COOKIE, install_web
from kubeline.store import RunStore, open_store

__all__ = ["create_app"]

_OPEN_PATHS = ("/healthz", "/apis/v2beta1/healthz", "/login")
_OPEN_PREFIXES = ("/kubeline/static/",)
_API_PREFIXES = ("/apis/", "/kubeline/api/")


def _prepare_store(store: RunStore) -> None:
    """Fail the runs a killed server left RUNNING and make the Default experiment; on a
    full disk, skip both and say why writes fail (reads still work)."""
    if store.read_only_reason:
        print(f"kubeline server: warning: {store.read_only_reason}.", file=sys.stderr)
        return
    try:
        recover_orphans(store)
        store.experiments.ensure_default()
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        print(
            "kubeline server: warning: the disk holding KUBELINE_HOME is full: new runs "
            "fail until there is space; runs a killed server left RUNNING are marked "
            "FAILED at a later start.",
            file=sys.stderr,
        )


def create_app(settings: ServerSettings) -> FastAPI:
    """The server for ``settings``; what the environment supplies (the store's URL) is read
    here, once, and passed down inside the settings."""
    settings.check()
    settings = settings.resolved()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.home.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.store_url)
        _prepare_store(store)
        manager = RunManager(store, settings)
        schedules = ScheduleLoop(store, manager, settings.schedule_interval_seconds)
        app.state.settings, app.state.store, app.state.manager = settings, store, manager
        app.state.schedules = schedules
        schedules.start()
        try:
            yield
        finally:
            schedules.stop()
            manager.shutdown()
            store.close()

    app = FastAPI(
        title="kubeline",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # served by the web UI from packaged assets (web/api_docs.py)
        redoc_url=None,
        openapi_url="/kubeline/api/openapi.json",
    )
    install_error_handlers(app)
    if settings.token:
        expected = f"Bearer {settings.token}"

        @app.middleware("http")
        async def _require_token(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            given = request.headers.get("authorization", "")
            # A browser cannot add the header to page loads: the login page stores the
            # token in an HTTP-only cookie instead.
            cookie = f"Bearer {request.cookies.get(TOKEN_COOKIE, '')}"
            path = request.url.path
            if (
                path in _OPEN_PATHS
                or path.startswith(_OPEN_PREFIXES)
                or token_matches(given, expected)
                or token_matches(cookie, expected)
            ):
                return await call_next(request)
            if request.method == "GET" and not path.startswith(_API_PREFIXES):
                return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
            return JSONResponse(
                error_body(401, "Missing or wrong token: send 'Authorization: Bearer <token>'."),
                status_code=401,
            )

    app.include_router(router)
    install_web(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes)
    # Outermost: a request from a rebinding name or another origin's page is refused
    # before it reaches the token check or any route.
    app.add_middleware(
        GuardMiddleware,
        guard=RequestGuard.for_bind(
            settings.host,
            allow_hosts=settings.allow_hosts,
            trusted_proxies=settings.trusted_proxies,
        ),
        refusal=_refusal,
    )
    return app


def _refusal(status: int, message: str) -> tuple[bytes, bytes]:
    return json.dumps(error_body(status, message)).encode(), b"application/json"
