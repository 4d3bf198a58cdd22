"""The interactive API docs at ``/kubeline/api/docs``: Swagger UI, served from this server.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script;
the UI's Content-Security-Policy blocks both (and a server may have no internet), so the
page stayed blank. Here the assets come from the ``fastapi-offline`` package (a pinned
Swagger UI 5 build) and the start-up code is our own ``static/api-docs.js``: nothing leaves
the server, nothing inline runs.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from kubeline.server.web.common import not_found
from kubeline.server.web.templating import render

__all__ = ["ASSETS", "DOCS_PATH", "router", "swagger_ui_dir"]

DOCS_PATH = "/kubeline/api/docs"
#: The Swagger UI files the page loads, by the name it asks for (nothing else is served).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}

router = APIRouter(include_in_schema=False)


def swagger_ui_dir() -> Path:
    """The folder of Swagger UI's built files inside the installed ``fastapi-offline``."""
    with as_file(files("fastapi_offline") / "static") as folder:
        return Path(folder)


@router.get(DOCS_PATH, response_class=HTMLResponse, name="web-api-docs")
def api_docs(request: Request) -> HTMLResponse:
    return render(
        request,
        "api_docs.html",
        {"openapi_url": request.app.openapi_url or "/kubeline/api/openapi.json"},
    )


@router.get("/kubeline/static/swagger-ui/{name}", name="web-swagger-ui")
def swagger_asset(request: Request, name: str) -> Response:
    if name not in ASSETS:
        return not_found(request, "File", name)
    return FileResponse(
        swagger_ui_dir() / name,
        media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )
