"""The engine's registration hook: a task's Model output becomes a version in the model
registry when it asks to be (metadata ``register_as: NAME``), when its task succeeds or is
answered from the cache (the same content gives the same version).

What a version holds, and the copy the registry keeps, are the registry's
(:mod:`kubeline.registry`); this module only reads the engine's artifact references.
"""

from __future__ import annotations

from kubeline.engine.artifacts import ArtifactRef
from kubeline.registry import keep_copy, version_of_output
from kubeline.registry import wants_registration as _asks
from kubeline.store import ModelVersionRecord

__all__ = ["keep_copy", "model_version_from", "wants_registration"]


def wants_registration(ref: ArtifactRef) -> bool:
    return _asks(ref.schema_title, ref.metadata)


def model_version_from(
    ref: ArtifactRef, *, run_id: str | None, task_id: str | None
) -> ModelVersionRecord:
    """The registry version a Model artifact describes (its number is set by the store).

    Raises:
        ConfigError: its ``register_as`` name cannot name a model.
    """
    return version_of_output(
        ref.metadata,
        uri=ref.uri,
        digest=ref.digest,
        artifact_id=ref.artifact_id,
        run_id=run_id,
        task_id=task_id,
    )
