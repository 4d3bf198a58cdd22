"""A task's Model output becomes a version in the model registry when it asks to be.

The convention is kubeline's own, and any pipeline can use it: a ``system.Model`` output
whose metadata holds ``register_as: NAME`` is recorded as the next version of ``NAME`` when
its task succeeds (or is answered from the cache: the same content gives the same version).
The rest of its metadata, where present, fills the version: ``framework``, ``libraries``,
``features`` and ``feature_types`` (the input signature, in order), ``classes``,
``target``, ``metrics``, ``params``, ``data_digest`` and ``card_uri``. On a cluster the same
metadata lands in KFP's metadata store, so the pipeline runs unchanged there.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from kubeline.engine.artifacts import ArtifactRef
from kubeline.store import ModelVersionRecord

__all__ = ["REGISTER_KEY", "model_version_from", "wants_registration"]

REGISTER_KEY = "register_as"
_MODEL = "system.Model"


def wants_registration(ref: ArtifactRef) -> bool:
    return ref.schema_title == _MODEL and bool(str(ref.metadata.get(REGISTER_KEY) or "").strip())


def _dict(value: Any) -> dict[str, Any]:
    """A dict from metadata that may hold one as JSON text (KFP stores what it is given)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


def model_version_from(
    ref: ArtifactRef, *, run_id: str | None, task_id: str | None
) -> ModelVersionRecord:
    """The registry version a Model artifact describes (its number is set by the store)."""
    meta = ref.metadata
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
        name=str(meta[REGISTER_KEY]).strip(),
        version=0,
        created_at=datetime.now(timezone.utc),
        uri=ref.uri,
        digest=ref.digest,
        framework=str(meta.get("framework") or ""),
        libraries=_dict(meta.get("libraries")),
        signature=signature,
        metrics=_dict(meta.get("metrics")),
        parameters=parameters,
        data_digest=str(meta.get("data_digest") or ""),
        run_id=run_id,
        task_id=task_id,
        artifact_id=ref.artifact_id,
        card_uri=str(meta.get("card_uri") or ""),
        metadata=dict(meta),
    )
