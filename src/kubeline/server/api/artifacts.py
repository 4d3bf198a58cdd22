"""Artifact read-out for the UI: metadata, and file content bounded in size. A path is
served only when it lies inside the run folders kubeline keeps."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, Response

from kubeline.engine.artifacts import local_path
from kubeline.errors import ConfigError, NotFoundError
from kubeline.server.api.common import require
from kubeline.server.deps import get_settings, get_store
from kubeline.server.errors import ApiError
from kubeline.server.settings import ServerSettings
from kubeline.store import RunStore

router = APIRouter(prefix="/kubeline/api", tags=["artifacts"])


@router.get("/artifacts/{artifact_id}")
def get_artifact(artifact_id: str, store: RunStore = Depends(get_store)) -> dict:
    a = require(store.artifacts.get(artifact_id), "Artifact", artifact_id)
    return {
        "artifact_id": a.artifact_id,
        "run_id": a.run_id,
        "name": a.name,
        "output_name": a.output_name,
        "uri": a.uri,
        "type": a.schema_title,
        "metadata": a.metadata,
        "digest": a.digest,
        "size": a.size,
        "producer_task_id": a.producer_task_id,
        "consumers": [
            {"task_id": t, "input_name": n} for t, n in store.artifacts.consumers(a.artifact_id)
        ],
    }


def _inside(path: Path, home: Path) -> bool:
    runs = (home / "runs").resolve()
    try:
        path.resolve().relative_to(runs)
    except ValueError:
        return False
    return True


@router.get("/artifacts/{artifact_id}/content")
def artifact_content(
    artifact_id: str,
    offset: int = 0,
    limit: int | None = None,
    download: bool = False,
    store: RunStore = Depends(get_store),
    settings: ServerSettings = Depends(get_settings),
) -> Response:
    a = require(store.artifacts.get(artifact_id), "Artifact", artifact_id)
    path = local_path(a.uri)
    if path is None or not _inside(path, settings.home):
        raise ApiError(
            403,
            f"Artifact '{artifact_id}' is not in kubeline's artifact store "
            f"({a.uri}); it is not served.",
        )
    if not path.is_file():
        raise NotFoundError(
            f"Artifact '{artifact_id}' has no file content (it may be a "
            "folder, or hold only metadata, like Metrics).",
        )
    media_type = _MEDIA_TYPES.get(a.schema_title, "application/octet-stream")
    # An artifact's HTML is the pipeline's, not ours: sandboxed (no scripts, no cookies,
    # a unique origin) even when opened on its own, and never sniffed into something else.
    safety = {
        "Content-Security-Policy": "sandbox; frame-ancestors 'self'",
        "X-Content-Type-Options": "nosniff",
    }
    if download:
        filename = (a.name or a.output_name or artifact_id) + _SUFFIXES.get(a.schema_title, "")
        return FileResponse(path, media_type=media_type, filename=filename, headers=safety)
    if offset < 0 or (limit is not None and limit < 0):
        raise ConfigError(f"offset and limit must be 0 or more. Got {offset} and {limit}.")
    size = min(limit or settings.preview_bytes, settings.preview_bytes)
    total = path.stat().st_size
    with path.open("rb") as f:
        f.seek(min(offset, total))  # past the end reads nothing, as a file does
        data = f.read(size)
    return Response(
        data,
        media_type=media_type,
        headers={
            **safety,
            "X-Kubeline-Total-Size": str(total),
            "X-Kubeline-Truncated": "true" if offset + len(data) < total else "false",
        },
    )


# How a browser should take an artifact's bytes, by its type.
_MEDIA_TYPES = {
    "system.HTML": "text/html; charset=utf-8",
    "system.Markdown": "text/markdown; charset=utf-8",
}
_SUFFIXES = {"system.HTML": ".html", "system.Markdown": ".md"}
