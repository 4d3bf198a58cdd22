"""Registering a model: a run's Model output (by the engine's hook, or later by its
artifact id) or a saved model file, as the next version of a name. The same content
again gives the existing version.

A run's registration never opens the model file (that would run its pickle, and the
engine runs inside ``kubeline server`` too): its version comes from the metadata alone.
Registering an artifact or a file afterwards reads the signature off the model in a
child process (:func:`kubeline.registry.probe.inspect_model`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeline.digest import content_digest
from kubeline.errors import ConfigError, DataError
from kubeline.paths import local_path
from kubeline.registry.copies import check_card, keep_copy
from kubeline.registry.files import inside
from kubeline.registry.names import check_model_name
from kubeline.registry.probe import inspect_model
from kubeline.registry.versions import MODEL_SCHEMA, REGISTER_KEY, version_from_metadata
from kubeline.store import ArtifactRecord, ModelVersionRecord

if TYPE_CHECKING:
    from kubeline.store import RunStore

__all__ = ["register", "register_artifact", "register_file", "version_of_output"]


def version_of_output(
    metadata: Mapping[str, Any],
    *,
    uri: str,
    digest: str | None,
    artifact_id: str | None,
    run_id: str | None,
    task_id: str | None,
) -> ModelVersionRecord:
    """The version a run's Model output asks for with ``register_as`` (its number is set
    by the store).

    Raises:
        ConfigError: the ``register_as`` name cannot name a model.
    """
    return version_from_metadata(
        metadata,
        name=check_model_name(str(metadata[REGISTER_KEY])),
        uri=uri,
        digest=digest,
        artifact_id=artifact_id,
        run_id=run_id,
        task_id=task_id,
    )


def _register(
    store: RunStore,
    meta: Mapping[str, Any],
    path: Path,
    name: str,
    models_root: Path | None,
    roots: list[Path],
    *,
    uri: str,
    digest: str | None,
    artifact_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
) -> tuple[ModelVersionRecord, bool]:
    found = inspect_model(path)
    merged = {**found, **{k: v for k, v in meta.items() if v not in (None, "", [], {})}}
    record = version_from_metadata(
        merged,
        name=name,
        uri=uri,
        digest=digest or content_digest(str(path)),
        artifact_id=artifact_id,
        run_id=run_id,
        task_id=task_id,
    )
    if models_root is not None:
        record = keep_copy(record, models_root, roots=[*roots, models_root])
    else:
        record = check_card(record, roots)
    return store.models.register_version(record)


def _artifact_roots(store: RunStore, artifact: ArtifactRecord) -> list[Path]:
    """The folders an artifact's files may come from: its run's, and for a task answered
    from the cache, that of the run which first made the files."""
    roots = []
    run = store.runs.get(artifact.run_id)
    if run is not None and run.root:
        roots.append(Path(run.root))
    task = store.tasks.get(artifact.producer_task_id)
    if task is not None and task.cache_hit and task.cache_key:
        entry = store.cache.get(task.cache_key)
        source = store.runs.get(entry.run_id) if entry is not None and entry.run_id else None
        if source is not None and source.root:
            roots.append(Path(source.root))
    return roots


def register_artifact(
    store: RunStore,
    artifact_id: str,
    name: str | None = None,
    *,
    models_root: Path | None = None,
) -> tuple[ModelVersionRecord, bool]:
    """Register a Model artifact of any run as the next version of ``name`` (default: the
    name its metadata asks for).

    Only a model inside its run's folder (or the registry, ``models_root``) is taken: an
    artifact's URI is data (an importer's is whatever the pipeline says), and taking it
    would copy, and open, any file on this machine. A ``card_uri`` outside them is left
    out, with a note in the version.

    Raises:
        ConfigError: no such artifact (a wrong argument: the REST API answers 400, as for
            any bad field of a request), not a Model, no name to register it under, or its
            file is outside its run's folder and the registry.
        DataError: its file is gone or is not a loadable model.
    """
    artifact = store.artifacts.get(artifact_id)
    if artifact is None:
        raise ConfigError(
            f"No artifact with id '{artifact_id}'. 'kubeline runs show RUN --output json' "
            "lists a run's artifacts with their ids."
        )
    if artifact.schema_title != MODEL_SCHEMA:
        raise ConfigError(
            f"Artifact '{artifact_id}' is a {artifact.schema_title}, not a {MODEL_SCHEMA}."
        )
    chosen = name or str(artifact.metadata.get(REGISTER_KEY) or "")
    if not chosen:
        raise ConfigError("Name the model to register it under: --name NAME.")
    path = local_path(artifact.uri)
    if path is None:
        raise DataError(f"Artifact '{artifact_id}' is not on this machine ({artifact.uri}).")
    roots = _artifact_roots(store, artifact)
    allowed = [*roots, models_root] if models_root is not None else roots
    if path.exists() and not inside(path, allowed):
        where = ", ".join(str(r) for r in allowed) or "none: its run is gone"
        raise ConfigError(
            f"Artifact '{artifact_id}' points at '{artifact.uri}', which is outside its run's "
            f"folder and the model registry ({where}); kubeline registers only models a run "
            "wrote. Write the model as a task's Model output, or register a file of your own "
            "with 'kubeline models register PATH --name NAME'."
        )
    return _register(
        store,
        artifact.metadata,
        path,
        check_model_name(chosen),
        models_root,
        roots,
        uri=artifact.uri,
        digest=artifact.digest,
        artifact_id=artifact.artifact_id,
        run_id=artifact.run_id,
        task_id=artifact.producer_task_id,
    )


def register_file(
    store: RunStore, path: Path, name: str, *, models_root: Path | None = None
) -> tuple[ModelVersionRecord, bool]:
    """Register a saved model file (joblib) made outside any run: the caller names the
    file, so it may be anywhere (the REST API offers no way to name one).

    With ``models_root`` the registry keeps its own copy (``models_root/NAME/DIGEST/``), so
    the version outlives the file or run folder it came from.
    """
    path = path.expanduser().resolve()
    return _register(
        store, {}, path, check_model_name(name), models_root, [path], uri=str(path), digest=None
    )


def register(
    store: RunStore, artifact: str, name: str | None, *, models_root: Path
) -> tuple[ModelVersionRecord, bool]:
    """Register ``artifact``: the id of a run's Model artifact, else a model file's path."""
    if store.artifacts.get(artifact) is not None:
        return register_artifact(store, artifact, name, models_root=models_root)
    path = Path(artifact).expanduser()
    if path.exists() or "/" in artifact or "\\" in artifact:
        if not name:
            raise ConfigError("Name the model to register the file under (a name is needed).")
        return register_file(store, path, name, models_root=models_root)
    return register_artifact(store, artifact, name, models_root=models_root)  # says: no such id
