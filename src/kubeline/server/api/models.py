"""The model registry over REST: models, versions with lineage, aliases, registration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from kubeline import registry
from kubeline.errors import ConfigError, NotFoundError
from kubeline.server.api.common import ApiBody
from kubeline.server.deps import get_settings, get_store
from kubeline.server.settings import ServerSettings
from kubeline.store import ModelVersionRecord, RunStore

router = APIRouter(prefix="/kubeline/api", tags=["models"])


def _resolve(store: RunStore, reference: str) -> ModelVersionRecord:
    try:
        return registry.resolve(store, reference)
    except ConfigError as exc:  # a name no model can have: no such model either
        raise NotFoundError(str(exc)) from exc


@router.get("/models")
def model_summaries(store: RunStore = Depends(get_store)) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": m.model.name,
                "created_at": m.model.created_at.isoformat(),
                "versions": len(m.versions),
                "latest": m.latest.version if m.latest else None,
                "aliases": m.aliases,
            }
            for m in registry.model_summaries(store)
        ]
    }


@router.get("/models/{name}")
def get_model(name: str, store: RunStore = Depends(get_store)) -> dict[str, Any]:
    versions = registry.model_versions(store, name)
    aliases = registry.aliases_by_version(store, name)
    return {
        "name": name,
        "versions": [registry.version_dict(v, aliases.get(v.version, [])) for v in versions],
    }


@router.get("/models/{name}/versions/{version}")
def get_version(name: str, version: int, store: RunStore = Depends(get_store)) -> dict[str, Any]:
    found = _resolve(store, f"{name}:{version}")
    aliases = registry.aliases_by_version(store, name).get(found.version, [])
    return registry.version_dict(found, aliases)


class AliasBody(ApiBody):
    version: int


@router.put("/models/{name}/aliases/{alias}")
def set_alias(
    name: str, alias: str, body: AliasBody, store: RunStore = Depends(get_store)
) -> dict[str, Any]:
    found = _resolve(store, f"{name}:{body.version}")
    alias = registry.check_alias(alias)
    registry.set_alias(store, found, alias)
    return {"name": name, "alias": alias, "version": found.version}


@router.delete("/models/{name}/aliases/{alias}")
def delete_alias(name: str, alias: str, store: RunStore = Depends(get_store)) -> dict[str, Any]:
    registry.remove_alias(store, name, alias)
    return {}


class RegisterBody(ApiBody):
    artifact_id: str
    name: str | None = None


@router.post("/models:register")
def register(
    body: RegisterBody,
    store: RunStore = Depends(get_store),
    settings: ServerSettings = Depends(get_settings),
) -> dict[str, Any]:
    """Register a Model artifact of any run (the same content gives the same version)."""
    version, new = registry.register_artifact(
        store, body.artifact_id, body.name, models_root=settings.home / "models"
    )
    aliases = registry.aliases_by_version(store, version.name).get(version.version, [])
    return {**registry.version_dict(version, aliases), "new": new}
