"""A task's log, read in chunks from an offset, so a page can follow it while it grows.

Only a file inside the run's own folder (under the server's ``runs/``) is served: the path
comes from the store, which a hostile pipeline or an edited database could point anywhere."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kubeline.engine.safepath import UnsafePathError, ensure_inside
from kubeline.errors import ConfigError, NotFoundError
from kubeline.server.api.common import require
from kubeline.server.deps import get_settings, get_store
from kubeline.server.errors import ApiError
from kubeline.server.settings import ServerSettings
from kubeline.store import RunStore

router = APIRouter(prefix="/kubeline/api", tags=["logs"])

_CHUNK = 256 * 1024


@router.get("/runs/{run_id}/tasks/{task_id}/log")
def task_log(
    run_id: str,
    task_id: str,
    offset: int = 0,
    store: RunStore = Depends(get_store),
    settings: ServerSettings = Depends(get_settings),
) -> Response:
    """Up to 256 KB of the log from ``offset``; headers say where the next read starts,
    how big the log is now and the task's state (a reader stops when it is final)."""
    task = require(store.tasks.get(task_id), "Task", task_id)
    if task.run_id != run_id:
        raise NotFoundError(f"Task '{task_id}' is not part of run '{run_id}'.")
    if offset < 0:
        raise ConfigError("offset must be 0 or more.")
    data, total = b"", 0
    path = (
        _log_in_run_folder(store, run_id, task_id, task.log_path, settings)
        if task.log_path
        else None
    )
    if path is not None and path.is_file():
        with path.open("rb") as log:
            total = log.seek(0, 2)
            log.seek(min(offset, total))
            data = log.read(_CHUNK)
    return Response(
        data,
        media_type="text/plain; charset=utf-8",
        headers={
            "X-Kubeline-Next-Offset": str(min(offset, total) + len(data)),
            "X-Kubeline-Total-Size": str(total),
            "X-Kubeline-Task-State": task.state,
            "Cache-Control": "no-store",
        },
    )


def _log_in_run_folder(
    store: RunStore, run_id: str, task_id: str, log_path: str, settings: ServerSettings
) -> Path:
    """The log's resolved path once it, symlinks followed, lies in the run's folder, itself
    one folder of the server's ``runs/``; else a 403 that says so."""
    run = require(store.runs.get(run_id), "Run", run_id)
    folder = Path(run.root)
    try:
        if not run.root or folder.resolve().parent != (settings.home / "runs").resolve():
            raise UnsafePathError(f"run folder '{run.root}' is not one of {settings.home}/runs")
        ensure_inside(Path(log_path), folder)
    except UnsafePathError as exc:
        raise ApiError(
            403,
            f"The log of task '{task_id}' is not inside the folder of run '{run_id}', so it "
            "is not served. Run the pipeline again to make a log kubeline can serve.",
        ) from exc
    return Path(log_path).resolve()  # the file that was checked, its links already followed
