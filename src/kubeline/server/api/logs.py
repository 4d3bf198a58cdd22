"""A task's log, read in chunks from an offset, so a page can follow it while it grows."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kubeline.server.api.common import require
from kubeline.server.deps import get_store
from kubeline.server.errors import ApiError
from kubeline.store import RunStore

router = APIRouter(prefix="/kubeline/api", tags=["logs"])

_CHUNK = 256 * 1024


@router.get("/runs/{run_id}/tasks/{task_id}/log")
def task_log(
    run_id: str, task_id: str, offset: int = 0, store: RunStore = Depends(get_store)
) -> Response:
    """Up to 256 KB of the log from ``offset``; headers say where the next read starts,
    how big the log is now and the task's state (a reader stops when it is final)."""
    task = require(store.get_task(task_id), "Task", task_id)
    if task.run_id != run_id:
        raise ApiError(404, f"Task '{task_id}' is not part of run '{run_id}'.")
    if offset < 0:
        raise ApiError(400, "offset must be 0 or more.")
    data, total = b"", 0
    path = Path(task.log_path) if task.log_path else None
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
