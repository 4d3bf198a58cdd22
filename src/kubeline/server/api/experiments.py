"""Experiments: create, list, get, archive, unarchive, delete (``Default`` always exists)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends

from kubeline.errors import AlreadyExistsError, ConfigError
from kubeline.server.api.common import ApiBody, now, require
from kubeline.server.deps import get_store
from kubeline.server.listing import ListQuery, list_query
from kubeline.server.serialize import experiment_json
from kubeline.store import ExperimentRecord, RunStore

router = APIRouter(tags=["experiments"])

_FIELDS = {
    "display_name": "name",
    "name": "name",
    "created_at": "created_at",
    "experiment_id": "experiment_id",
    "storage_state": "storage_state",
    "namespace": "namespace",
    "description": "description",
}
_LIST = list_query(_FIELDS)


class ExperimentBody(ApiBody):
    display_name: str = ""
    description: str = ""
    namespace: str = ""


@router.post("/experiments")
def create_experiment(body: ExperimentBody, store: RunStore = Depends(get_store)) -> dict:
    if not body.display_name.strip():
        raise ConfigError("An experiment needs a display_name.")
    record = ExperimentRecord(
        experiment_id=str(uuid.uuid4()),
        name=body.display_name,
        display_name=body.display_name,
        description=body.description,
        namespace=body.namespace,
        created_at=now(),
    )
    try:
        store.experiments.add(record)
    except AlreadyExistsError as exc:
        raise AlreadyExistsError(
            f"An experiment named '{body.display_name}' already exists."
        ) from exc
    return experiment_json(record)


@router.get("/experiments")
def list_experiments(
    namespace: str | None = None,
    query: ListQuery = Depends(_LIST),
    store: RunStore = Depends(get_store),
) -> dict:
    total = store.experiments.count(filters=query.filters)
    found = store.experiments.list(**query.window())
    return query.body("experiments", [experiment_json(x) for x in found], total)


@router.get("/experiments/{experiment_id}")
def get_experiment(experiment_id: str, store: RunStore = Depends(get_store)) -> dict:
    return experiment_json(
        require(store.experiments.get(experiment_id), "Experiment", experiment_id)
    )


def _set_storage(store: RunStore, experiment_id: str, state: str) -> dict:
    require(store.experiments.get(experiment_id), "Experiment", experiment_id)
    store.experiments.update(experiment_id, storage_state=state)
    if state == "ARCHIVED":  # as KFP does: archiving an experiment archives its runs
        for run in store.runs.list(experiment_id=experiment_id, limit=100000):
            store.runs.update(run.run_id, storage_state="ARCHIVED")
    return {}


@router.post("/experiments/{experiment_id}:archive")
def archive_experiment(experiment_id: str, store: RunStore = Depends(get_store)) -> dict:
    return _set_storage(store, experiment_id, "ARCHIVED")


@router.post("/experiments/{experiment_id}:unarchive")
def unarchive_experiment(experiment_id: str, store: RunStore = Depends(get_store)) -> dict:
    return _set_storage(store, experiment_id, "AVAILABLE")


@router.delete("/experiments/{experiment_id}")
def delete_experiment(experiment_id: str, store: RunStore = Depends(get_store)) -> dict:
    require(store.experiments.get(experiment_id), "Experiment", experiment_id)
    store.experiments.delete(experiment_id)
    return {}
