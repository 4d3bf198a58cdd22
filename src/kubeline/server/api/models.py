"""The model registry over REST: models, versions with lineage, aliases, registration."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kubeline.errors import ConfigError
from kubeline.server.api.common import ApiBody
from kubeline.server.deps import get_settings, get_store
from kubeline.server.errors import ApiError
from kubeline.server.settings import ServerSettings
from kubeline.serving.registry import aliases_by_version, check_alias, version_dict
from kubeline.store import ModelVersionRecord, RunStore

router = APIRouter(prefix="/kubeline/api", tags=["models"])


def _resolve(store: RunStore, reference: str) -> ModelVersionRecord:
    from kubeline.serving.registry import resolve

    try:
        return resolve(store, reference)
    except ConfigError as exc:
        raise ApiError(404, str(exc)) from exc


@router.get("/models")
def list_models(store: RunStore = Depends(get_store)) -> dict:
    models = []
    for model in store.models.list():
        versions = store.models.list_versions(model.name)
        models.append(
            {
                "name": model.name,
                "created_at": model.created_at.isoformat(),
                "versions": len(versions),
                "latest": versions[0].version if versions else None,
                "aliases": {a.alias: a.version for a in store.models.aliases(model.name)},
            }
        )
    return {"models": models}


@router.get("/models/{name}")
def get_model(name: str, store: RunStore = Depends(get_store)) -> dict:
    versions = store.models.list_versions(name)
    if not versions:
        raise ApiError(404, f"No model named '{name}'.")
    aliases = aliases_by_version(store, name)
    return {
        "name": name,
        "versions": [version_dict(v, aliases.get(v.version, [])) for v in versions],
    }


@router.get("/models/{name}/versions/{version}")
def get_version(name: str, version: int, store: RunStore = Depends(get_store)) -> dict:
    found = _resolve(store, f"{name}:{version}")
    return version_dict(found, aliases_by_version(store, name).get(found.version, []))


class AliasBody(ApiBody):
    version: int


@router.put("/models/{name}/aliases/{alias}")
def set_alias(name: str, alias: str, body: AliasBody, store: RunStore = Depends(get_store)) -> dict:
    found = _resolve(store, f"{name}:{body.version}")
    try:
        alias = check_alias(alias)
    except ConfigError as exc:
        raise ApiError(400, str(exc)) from exc
    store.models.set_alias(name, alias, found.version)
    return {"name": name, "alias": alias, "version": found.version}


@router.delete("/models/{name}/aliases/{alias}")
def delete_alias(name: str, alias: str, store: RunStore = Depends(get_store)) -> dict:
    if not store.models.delete_alias(name, alias):
        raise ApiError(404, f"Model '{name}' has no alias '{alias}'.")
    return {}


class RegisterBody(ApiBody):
    artifact_id: str
    name: str | None = None


@router.post("/models:register")
def register(
    body: RegisterBody,
    store: RunStore = Depends(get_store),
    settings: ServerSettings = Depends(get_settings),
) -> dict:
    """Register a Model artifact of any run (the same content gives the same version)."""
    from kubeline.serving.registry import register_artifact

    version, new = register_artifact(
        store, body.artifact_id, body.name, models_root=settings.home / "models"
    )
    aliases = aliases_by_version(store, version.name).get(version.version, [])
    return {**version_dict(version, aliases), "new": new}
