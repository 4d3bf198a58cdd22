"""Runs: create (inline spec or pipeline version), list, get with task details, terminate,
retry, archive, unarchive, delete."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from kubeline.errors import ConflictError
from kubeline.server.api.common import ApiBody, pipeline_spec_of, require
from kubeline.server.deps import get_manager, get_settings, get_store
from kubeline.server.listing import ListQuery, list_query
from kubeline.server.manager import RunManager
from kubeline.server.serialize import run_json
from kubeline.server.settings import ServerSettings
from kubeline.store import RunStore

router = APIRouter(tags=["runs"])

_FIELDS = {
    "display_name": "display_name",
    "name": "display_name",
    "created_at": "created_at",
    "finished_at": "finished_at",
    "scheduled_at": "started_at",
    "state": "state",
    "run_id": "run_id",
    "experiment_id": "experiment_id",
    "storage_state": "storage_state",
    "pipeline_version_id": "pipeline_version_id",
    "recurring_run_id": "recurring_run_id",
    "pipeline_name": "pipeline_name",
}
_LIST = list_query(_FIELDS)
_FINAL = ("SUCCEEDED", "FAILED", "CANCELED", "SKIPPED")


class Reference(BaseModel):
    pipeline_id: str | None = None
    pipeline_version_id: str | None = None


class RuntimeConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")
    parameters: dict[str, Any] = {}
    pipeline_root: str = ""


class RunBody(ApiBody):
    display_name: str = ""
    description: str = ""
    experiment_id: str | None = None
    pipeline_spec: dict[str, Any] | None = None
    pipeline_version_reference: Reference | None = None
    pipeline_version_id: str | None = None
    runtime_config: RuntimeConfig = RuntimeConfig()
    service_account: str = ""


def experiment_for(store: RunStore, experiment_id: str | None) -> str:
    if experiment_id:
        require(store.experiments.get(experiment_id), "Experiment", experiment_id)
        return experiment_id
    return store.experiments.ensure_default().experiment_id


@router.post("/runs")
def create_run(
    body: RunBody, store: RunStore = Depends(get_store), manager: RunManager = Depends(get_manager)
) -> dict:
    reference = (
        body.pipeline_version_reference.model_dump()
        if (body.pipeline_version_reference)
        else (
            {"pipeline_version_id": body.pipeline_version_id} if body.pipeline_version_id else None
        )
    )
    spec, pipeline_id, version_id = pipeline_spec_of(store, body.pipeline_spec, reference)
    experiment_id = experiment_for(store, body.experiment_id)
    record = manager.start(
        spec,
        body.runtime_config.parameters,
        display_name=body.display_name,
        extra={
            "experiment_id": experiment_id,
            "pipeline_id": pipeline_id,
            "pipeline_version_id": version_id,
        },
    )
    store.experiments.update(experiment_id, last_run_created_at=record.created_at)
    return run_json(record, tasks=[])


@router.get("/runs")
def list_runs(
    experiment_id: str | None = None,
    namespace: str | None = None,
    query: ListQuery = Depends(_LIST),
    store: RunStore = Depends(get_store),
) -> dict:
    total = store.runs.count(experiment_id=experiment_id, filters=query.filters)
    found = store.runs.list(experiment_id=experiment_id, **query.window())
    return query.body("runs", [run_json(x, with_spec=False) for x in found], total)


@router.get("/runs/{run_id}")
def get_run(run_id: str, store: RunStore = Depends(get_store)) -> dict:
    record = require(store.runs.get(run_id), "Run", run_id)
    return run_json(record, tasks=store.tasks.list(run_id))


def _requester(request: Request) -> str:
    """Who asks, as far as a server without user accounts knows: a page of the web UI (a
    browser sends Origin on its script's POSTs) or another client, and from which address."""
    kind = "the web UI" if request.headers.get("origin") else "an API client"
    return f"{kind} from {request.client.host}" if request.client else kind


@router.post("/runs/{run_id}:terminate")
def terminate_run(
    run_id: str,
    request: Request,
    store: RunStore = Depends(get_store),
    manager: RunManager = Depends(get_manager),
) -> dict:
    record = require(store.runs.get(run_id), "Run", run_id)
    if record.state in _FINAL:
        raise ConflictError(f"Run '{run_id}' already ended ({record.state}); nothing to terminate.")
    if not manager.terminate(run_id, by=_requester(request)):
        raise ConflictError(
            f"Run '{run_id}' is not running in this server (it may run in a "
            "'kubeline run' process: stop that with Ctrl-C).",
        )
    return {}


@router.post("/runs/{run_id}:retry")
def retry_run(
    run_id: str, store: RunStore = Depends(get_store), manager: RunManager = Depends(get_manager)
) -> dict:
    record = require(store.runs.get(run_id), "Run", run_id)
    if record.state not in ("FAILED", "CANCELED"):
        raise ConflictError(
            f"Only a failed or canceled run can be retried; run '{run_id}' is {record.state}."
        )
    manager.retry(record)
    return {}


def _storage(store: RunStore, run_id: str, state: str) -> dict:
    require(store.runs.get(run_id), "Run", run_id)
    store.runs.update(run_id, storage_state=state)
    return {}


@router.post("/runs/{run_id}:archive")
def archive_run(run_id: str, store: RunStore = Depends(get_store)) -> dict:
    return _storage(store, run_id, "ARCHIVED")


@router.post("/runs/{run_id}:unarchive")
def unarchive_run(run_id: str, store: RunStore = Depends(get_store)) -> dict:
    return _storage(store, run_id, "AVAILABLE")


@router.delete("/runs/{run_id}")
def delete_run(
    run_id: str,
    store: RunStore = Depends(get_store),
    manager: RunManager = Depends(get_manager),
    settings: ServerSettings = Depends(get_settings),
) -> dict:
    record = require(store.runs.get(run_id), "Run", run_id)
    if record.state not in _FINAL or manager.running(run_id):
        raise ConflictError(f"Run '{run_id}' is still {record.state}: terminate it first.")
    store.runs.delete(run_id)
    _remove_run_folder(record.root, settings)
    return {}


def _remove_run_folder(root: str, settings: ServerSettings) -> None:
    """The run's own folder (made by kubeline under runs/), never anything else."""
    runs = (settings.home / "runs").resolve()
    folder = Path(root).resolve()
    if root and folder.parent == runs and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
