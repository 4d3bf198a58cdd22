"""A model version made from a Model artifact's metadata, and shown as programs read it.

The metadata convention is kubeline's own, and any pipeline can use it: a ``system.Model``
output whose metadata holds ``register_as: NAME`` becomes the next version of ``NAME``. The
rest of its metadata, where present, fills the version: ``framework``, ``libraries``,
``features`` and ``feature_types`` (the input signature, in order), ``classes``,
``target``, ``metrics``, ``params``, ``family``, ``data_digest`` and ``card_uri``. On a
cluster the same metadata lands in KFP's metadata store, so the pipeline runs unchanged there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from kubeline.store import ModelVersionRecord

__all__ = [
    "MODEL_SCHEMA",
    "NOTES_KEY",
    "REGISTER_KEY",
    "notes",
    "version_dict",
    "version_from_metadata",
    "wants_registration",
]

#: The metadata key that asks for a Model artifact to be registered, under its value.
REGISTER_KEY = "register_as"
#: Where a version's metadata keeps what registering it left out, and why.
NOTES_KEY = "registry_notes"
MODEL_SCHEMA = "system.Model"


def wants_registration(schema_title: str, metadata: Mapping[str, Any]) -> bool:
    """Whether an artifact asks to be registered: a Model with a ``register_as`` name."""
    return schema_title == MODEL_SCHEMA and bool(str(metadata.get(REGISTER_KEY) or "").strip())


def _dict(value: Any) -> dict[str, Any]:
    """A dict from metadata that may hold one as JSON text (KFP stores what it is given)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


def version_from_metadata(
    meta: Mapping[str, Any],
    *,
    name: str,
    uri: str,
    digest: str | None,
    artifact_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
) -> ModelVersionRecord:
    """The version a Model artifact's metadata describes (its number is set on register)."""
    signature = {
        "features": list(meta.get("features") or []),
        "types": list(meta.get("feature_types") or []),
        "classes": list(meta.get("classes") or []),
        "target": meta.get("target"),
    }
    parameters = _dict(meta.get("params"))
    if meta.get("family"):
        parameters = {"family": meta["family"], **parameters}
    return ModelVersionRecord(
        name=name.strip(),
        version=0,
        created_at=datetime.now(timezone.utc),
        uri=uri,
        digest=digest,
        framework=str(meta.get("framework") or ""),
        libraries=_dict(meta.get("libraries")),
        signature=signature,
        metrics=_dict(meta.get("metrics")),
        parameters=parameters,
        data_digest=str(meta.get("data_digest") or ""),
        run_id=run_id,
        task_id=task_id,
        artifact_id=artifact_id,
        card_uri=str(meta.get("card_uri") or ""),
        metadata=dict(meta),
    )


def notes(version: ModelVersionRecord) -> list[str]:
    """What registering the version left out, and why (e.g. a card outside the run)."""
    found = version.metadata.get(NOTES_KEY)
    return [str(n) for n in found] if isinstance(found, list) else []


def version_dict(version: ModelVersionRecord, aliases: list[str]) -> dict[str, Any]:
    """A version as programs read it: ``--output json`` and the REST API."""
    return {
        "name": version.name,
        "version": version.version,
        "aliases": aliases,
        "created_at": version.created_at.isoformat(),
        "uri": version.uri,
        "digest": version.digest,
        "framework": version.framework,
        "libraries": version.libraries,
        "signature": version.signature,
        "metrics": version.metrics,
        "parameters": version.parameters,
        "data_digest": version.data_digest,
        "run_id": version.run_id,
        "task_id": version.task_id,
        "artifact_id": version.artifact_id,
        "card_uri": version.card_uri,
        "notes": notes(version),
    }
