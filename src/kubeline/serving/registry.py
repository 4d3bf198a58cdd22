"""The model registry: find a version by reference (``NAME``, ``NAME:VERSION``,
``NAME@ALIAS``), and register any Model artifact or model file as a new version.

Versions live in the run store (:mod:`kubeline.store.model_registry`); a lifecycle run
registers its model through the engine (:mod:`kubeline.engine.registration`)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeline.engine.taskenv import task_environ
from kubeline.errors import ConfigError, DataError
from kubeline.store import ArtifactRecord, ModelVersionRecord, RunStore
from kubeline.store.model_registry import version_from_metadata

__all__ = [
    "INSPECT_TIMEOUT_SECONDS",
    "ModelReference",
    "aliases_by_version",
    "check_alias",
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
    versions = store.models.list_versions(ref.name)
    if not versions:
        known = ", ".join(m.name for m in store.models.list()) or "none yet"
        raise ConfigError(
            f"No model named '{ref.name}'. Registered models: {known}. A lifecycle run "
            "registers one; 'kubeline models register ARTIFACT --name NAME' adds any other."
        )
    if ref.alias:
        aliases = {a.alias: a.version for a in store.models.aliases(ref.name)}
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


#: How long opening a model file in its child process may take.
INSPECT_TIMEOUT_SECONDS = 120.0
_RESULT_BYTES = 4 * 1024 * 1024  # a signature of tens of thousands of features fits
_LOG_BYTES = 2000


def inspect_model(path: Path, *, timeout: float = INSPECT_TIMEOUT_SECONDS) -> dict[str, Any]:
    """Framework, input signature and library versions read off a saved scikit-learn model.

    Loading a model runs its pickle, so it happens in a short-lived child interpreter
    (:mod:`kubeline.serving.model_probe`, started with ``subprocess``: no fork, on every OS),
    never in this process: without kubeline's secrets in its environment, stopped after
    ``timeout`` seconds, answering in JSON of bounded size.

    Raises:
        DataError: nothing there, not a model joblib can load, or the child took too long,
            died or answered too much.
    """
    file = model_file(path).resolve()
    env = task_environ()  # the child runs the model's code: none of kubeline's secrets
    command = [sys.executable, "-m", "kubeline.serving.model_probe", str(file)]
    with tempfile.TemporaryDirectory(prefix="kubeline-probe-", ignore_cleanup_errors=True) as tmp:
        scratch = Path(tmp)  # also its working folder: nothing of ours to import or overwrite
        result, log = scratch / "result.json", scratch / "output.log"
        with log.open("wb") as output:
            child = subprocess.Popen(
                [*command, str(result)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                env=env,
                cwd=scratch,
            )
            try:
                code = child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                raise DataError(
                    f"Opening the model '{file}' took longer than {timeout:g} s, so it was "
                    "stopped. Check that it is a scikit-learn model saved with joblib."
                ) from None
        answer = _read_answer(result)
        if answer is None:
            tail = _tail(log)
            raise DataError(
                f"Opening the model '{file}' failed (its child process ended with exit code "
                f"{code} and no answer){': ' + tail if tail else '.'}"
            )
    if "error" in answer:
        raise DataError(str(answer["error"])[:_LOG_BYTES])
    found = answer.get("model")
    if not isinstance(found, dict):
        raise DataError(f"Opening the model '{file}' gave an answer kubeline cannot read.")
    return found


def _read_answer(result: Path) -> dict[str, Any] | None:
    """The child's JSON answer; None when it wrote none (or not JSON).

    Raises:
        DataError: the answer is larger than any signature needs.
    """
    try:
        with result.open("rb") as f:
            data = f.read(_RESULT_BYTES + 1)
    except OSError:
        return None
    if len(data) > _RESULT_BYTES:
        raise DataError(
            f"Opening a model gave an answer over {_RESULT_BYTES // 2**20} MiB, more than any "
            "signature needs; kubeline did not read it. Check that it is a scikit-learn model."
        )
    try:
        answer = json.loads(data)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _tail(log: Path) -> str:
    """The end of what the child printed: its error, without flooding a message."""
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - _LOG_BYTES))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _register(
    store: RunStore,
    meta: dict[str, Any],
    path: Path,
    name: str,
    models_root: Path | None,
    roots: list[Path],
    **lineage: Any,
) -> tuple[ModelVersionRecord, bool]:
    from kubeline.engine.artifacts import content_digest
    from kubeline.engine.registration import check_card, keep_copy

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
        record = keep_copy(record, models_root, roots=[*roots, models_root])
    else:
        record = check_card(record, roots)
    return store.models.register_version(record)


def _check_name(name: str) -> str:
    from kubeline.engine.registration import check_model_name

    return check_model_name(name)


def check_alias(alias: str) -> str:
    """``alias`` stripped, or ConfigError when it cannot name an alias. Aliases follow the
    rules of model names (they end up in ``NAME@ALIAS`` references and URLs), and are not
    all digits, which would read as a version."""
    from kubeline.engine.registration import MODEL_NAME

    alias = alias.strip()
    if not MODEL_NAME.fullmatch(alias) or alias.isdigit():
        raise ConfigError(
            f"{alias[:80]!r} cannot be an alias: use up to 128 letters, digits, '-', '_' and "
            "'.', starting with a letter or digit and not all digits (e.g. production)."
        )
    return alias


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
    name its metadata asks for); the same content again gives the existing version.

    Only a model inside its run's folder (or the registry, ``models_root``) is taken: an
    artifact's URI is data (an importer's is whatever the pipeline says), and taking it
    would copy, and open, any file on this machine. A ``card_uri`` outside them is left
    out, with a note in the version (``notes`` in :func:`version_dict`).

    Raises:
        ConfigError: no such artifact, not a Model, no name to register it under, or its
            file is outside its run's folder and the registry.
        DataError: its file is gone or is not a loadable model.
    """
    from kubeline.engine.artifacts import local_path
    from kubeline.engine.registration import inside

    artifact = store.artifacts.get(artifact_id)
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
        _check_name(chosen),
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
    return _register(store, {}, path, _check_name(name), models_root, [path])


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
        "notes": _notes(version),
    }


def _notes(version: ModelVersionRecord) -> list[str]:
    """What registering the version left out, and why (e.g. a card outside the run)."""
    from kubeline.engine.registration import NOTES_KEY

    found = version.metadata.get(NOTES_KEY)
    return [str(n) for n in found] if isinstance(found, list) else []


def aliases_by_version(store: RunStore, name: str) -> dict[int, list[str]]:
    """A model's aliases grouped by the version each points at."""
    found: dict[int, list[str]] = {}
    for alias in store.models.aliases(name):
        found.setdefault(alias.version, []).append(alias.alias)
    return found


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
