"""The model registry: find a version by reference (``NAME``, ``NAME:VERSION``,
``NAME@ALIAS``), and register any Model artifact or model file as a new version.

Versions live in the run store (:mod:`kubeline.store.model_registry`); a lifecycle run
registers its model through the engine (:mod:`kubeline.engine.registration`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeline.errors import ConfigError, DataError
from kubeline.store import ModelVersionRecord, RunStore
from kubeline.store.model_registry import version_from_metadata

__all__ = [
    "ModelReference",
    "aliases_by_version",
    "inspect_model",
    "model_file",
    "parse_reference",
    "register",
    "register_artifact",
    "register_file",
    "resolve",
    "version_dict",
]

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_PATTERN = re.compile(rf"^(?P<name>{_NAME})(?::(?P<version>\d+)|@(?P<alias>{_NAME}))?$")


@dataclass(frozen=True)
class ModelReference:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


def parse_reference(text: str) -> ModelReference:
    """Read a reference; a bare name means its newest version.

    Raises:
        ConfigError: the text is not ``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS``.
    """
    match = _PATTERN.match(text.strip())
    if match is None:
        raise ConfigError(
            f"'{text}' is not a model reference. Use NAME (the newest version), NAME:VERSION "
            "(e.g. breast-cancer-classifier:2) or NAME@ALIAS (e.g. breast-cancer-classifier"
            "@production)."
        )
    version = match["version"]
    return ModelReference(match["name"], int(version) if version else None, match["alias"])


def resolve(store: RunStore, reference: str | ModelReference) -> ModelVersionRecord:
    """The version a reference names.

    Raises:
        ConfigError: no such model, version or alias; the message lists what exists.
    """
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    versions = store.list_model_versions(ref.name)
    if not versions:
        known = ", ".join(m.name for m in store.list_models()) or "none yet"
        raise ConfigError(
            f"No model named '{ref.name}'. Registered models: {known}. A lifecycle run "
            "registers one; 'kubeline models register ARTIFACT --name NAME' adds any other."
        )
    if ref.alias:
        aliases = {a.alias: a.version for a in store.model_aliases(ref.name)}
        if ref.alias not in aliases:
            named = ", ".join(f"@{a}" for a in sorted(aliases)) or "none"
            raise ConfigError(
                f"Model '{ref.name}' has no alias '{ref.alias}' (aliases: {named}). Set one "
                f"with 'kubeline models promote {ref.name}:VERSION {ref.alias}'."
            )
        wanted = aliases[ref.alias]
    else:
        wanted = ref.version if ref.version is not None else versions[0].version
    found = next((v for v in versions if v.version == wanted), None)
    if found is None:
        numbers = ", ".join(str(v.version) for v in reversed(versions))
        raise ConfigError(f"Model '{ref.name}' has no version {wanted} (versions: {numbers}).")
    return found


_MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle")
_NOT_MODELS = (".md", ".json", ".yaml", ".yml", ".txt")  # a card or metadata beside it


def model_file(path: Path) -> Path:
    """The model file at ``path``: the file itself, or the one model file in a folder.

    Raises:
        DataError: nothing there, or a folder with no (or several) model files.
    """
    if path.is_file():
        return path
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix in _MODEL_SUFFIXES and p.is_file())
        if not found:  # KFP names a Model output's file after the output: no suffix
            found = [
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not p.name.startswith(".") and p.suffix not in _NOT_MODELS
            ]
        if len(found) == 1:
            return found[0]
        what = "no" if not found else f"{len(found)}"
        raise DataError(
            f"The folder '{path}' holds {what} model files ({', '.join(_MODEL_SUFFIXES)}); "
            "point at the file itself."
        )
    raise DataError(f"No model at '{path}': the file does not exist (or was removed).")


def inspect_model(path: Path) -> dict[str, Any]:
    """Framework, input signature and library versions read off a saved scikit-learn model.

    Loading runs the pickle: only call it on files you trust (your own runs' models).

    Raises:
        DataError: the file is not a model joblib can load.
    """
    import platform

    import joblib
    import sklearn

    try:
        model = joblib.load(model_file(path))
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"'{path}' is not a model joblib can load: {exc}") from exc
    if not hasattr(model, "predict"):
        raise DataError(f"'{path}' holds a {type(model).__name__}, which has no predict().")
    names = getattr(model, "feature_names_in_", None)
    count = getattr(model, "n_features_in_", None)
    features = [str(n) for n in names] if names is not None else []
    if not features and count:
        features = [f"x{i}" for i in range(int(count))]
    classes = getattr(model, "classes_", None)
    module = type(model).__module__.split(".")[0]
    return {
        "framework": "sklearn" if module == "sklearn" else module,
        "features": features,
        "feature_types": ["float64"] * len(features),
        "classes": [c.item() if hasattr(c, "item") else c for c in classes]
        if classes is not None
        else [],
        "libraries": {"python": platform.python_version(), "scikit-learn": sklearn.__version__},
        "estimator": type(model).__name__,
    }


def _register(
    store: RunStore,
    meta: dict[str, Any],
    path: Path,
    name: str,
    models_root: Path | None,
    **lineage: Any,
) -> tuple[ModelVersionRecord, bool]:
    from kubeline.engine.artifacts import content_digest
    from kubeline.engine.registration import keep_copy

    found = inspect_model(path)
    merged = {**found, **{k: v for k, v in meta.items() if v not in (None, "", [], {})}}
    record = version_from_metadata(
        merged,
        name=name,
        uri=lineage.pop("uri", str(path)),
        digest=lineage.pop("digest", None) or content_digest(str(path)),
        **lineage,
    )
    if models_root is not None:
        record = keep_copy(record, models_root)
    return store.register_model_version(record)


def _check_name(name: str) -> str:
    name = name.strip()
    if not re.fullmatch(_NAME, name):
        raise ConfigError(
            f"'{name}' cannot name a model: use letters, digits, '-', '_' and '.', starting "
            "with a letter or digit."
        )
    return name


def register_artifact(
    store: RunStore,
    artifact_id: str,
    name: str | None = None,
    *,
    models_root: Path | None = None,
) -> tuple[ModelVersionRecord, bool]:
    """Register a Model artifact of any run as the next version of ``name`` (default: the
    name its metadata asks for); the same content again gives the existing version.

    Raises:
        ConfigError: no such artifact, not a Model, or no name to register it under.
        DataError: its file is gone or is not a loadable model.
    """
    from kubeline.engine.artifacts import local_path

    artifact = store.get_artifact(artifact_id)
    if artifact is None:
        raise ConfigError(
            f"No artifact with id '{artifact_id}'. 'kubeline runs show RUN --output json' "
            "lists a run's artifacts with their ids."
        )
    if artifact.schema_title != "system.Model":
        raise ConfigError(
            f"Artifact '{artifact_id}' is a {artifact.schema_title}, not a system.Model."
        )
    chosen = name or str(artifact.metadata.get("register_as") or "")
    if not chosen:
        raise ConfigError("Name the model to register it under: --name NAME.")
    path = local_path(artifact.uri)
    if path is None:
        raise DataError(f"Artifact '{artifact_id}' is not on this machine ({artifact.uri}).")
    return _register(
        store,
        artifact.metadata,
        path,
        _check_name(chosen),
        models_root,
        uri=artifact.uri,
        digest=artifact.digest,
        artifact_id=artifact.artifact_id,
        run_id=artifact.run_id,
        task_id=artifact.producer_task_id,
    )


def register_file(
    store: RunStore, path: Path, name: str, *, models_root: Path | None = None
) -> tuple[ModelVersionRecord, bool]:
    """Register a saved model file (joblib) made outside any run.

    With ``models_root`` the registry keeps its own copy (``models_root/NAME/DIGEST/``), so
    the version outlives the file or run folder it came from.
    """
    return _register(store, {}, path.expanduser().resolve(), _check_name(name), models_root)


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
    }


def aliases_by_version(store: RunStore, name: str) -> dict[int, list[str]]:
    """A model's aliases grouped by the version each points at."""
    found: dict[int, list[str]] = {}
    for alias in store.model_aliases(name):
        found.setdefault(alias.version, []).append(alias.alias)
    return found


def register(
    store: RunStore, artifact: str, name: str | None, *, models_root: Path
) -> tuple[ModelVersionRecord, bool]:
    """Register ``artifact``: the id of a run's Model artifact, else a model file's path."""
    if store.get_artifact(artifact) is not None:
        return register_artifact(store, artifact, name, models_root=models_root)
    path = Path(artifact).expanduser()
    if path.exists() or "/" in artifact or "\\" in artifact:
        if not name:
            raise ConfigError("Name the model to register the file under (a name is needed).")
        return register_file(store, path, name, models_root=models_root)
    return register_artifact(store, artifact, name, models_root=models_root)  # says: no such id
