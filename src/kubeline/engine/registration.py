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

import shutil
import uuid
from dataclasses import replace
from pathlib import Path

from kubeline.engine.artifacts import ArtifactRef, local_path
from kubeline.store import ModelVersionRecord
from kubeline.store.model_registry import version_from_metadata

__all__ = ["REGISTER_KEY", "keep_copy", "model_version_from", "wants_registration"]

REGISTER_KEY = "register_as"
_MODEL = "system.Model"


def wants_registration(ref: ArtifactRef) -> bool:
    return ref.schema_title == _MODEL and bool(str(ref.metadata.get(REGISTER_KEY) or "").strip())


def model_version_from(
    ref: ArtifactRef, *, run_id: str | None, task_id: str | None
) -> ModelVersionRecord:
    """The registry version a Model artifact describes (its number is set by the store)."""
    return version_from_metadata(
        ref.metadata,
        name=str(ref.metadata[REGISTER_KEY]),
        uri=ref.uri,
        digest=ref.digest,
        artifact_id=ref.artifact_id,
        run_id=run_id,
        task_id=task_id,
    )


def keep_copy(version: ModelVersionRecord, models_root: Path) -> ModelVersionRecord:
    """The version with its model copied to ``models_root/NAME/DIGEST/`` (content-addressed,
    so registering the same model twice copies it once): a registered model outlives the
    run folder it came from, which a user may delete."""
    source = local_path(version.uri)
    if source is None or not source.exists() or not version.digest:
        return version  # remote, or nothing to copy: the version keeps pointing at it
    folder = models_root / version.name / version.digest[:16]
    target = folder / source.name
    if not target.exists():
        staging = folder.parent / f".{folder.name}.{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        try:
            copy = staging / source.name
            if source.is_dir():
                shutil.copytree(source, copy)
            else:
                shutil.copy2(source, copy)
            card = local_path(version.card_uri) if version.card_uri else None
            if card is not None and card.is_file():
                shutil.copy2(card, staging / "card.md")
            try:
                staging.rename(folder)  # atomic: never a half-copied model
            except OSError:
                if not target.exists():  # not merely a concurrent twin that won
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    card_copy = folder / "card.md"
    return replace(
        version,
        uri=str(target),
        card_uri=str(card_copy) if card_copy.is_file() else version.card_uri,
    )
