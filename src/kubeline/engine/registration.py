"""A task's Model output becomes a version in the model registry when it asks to be.

The convention is kubeline's own, and any pipeline can use it: a ``system.Model`` output
whose metadata holds ``register_as: NAME`` is recorded as the next version of ``NAME`` when
its task succeeds (or is answered from the cache: the same content gives the same version).
The rest of its metadata, where present, fills the version: ``framework``, ``libraries``,
``features`` and ``feature_types`` (the input signature, in order), ``classes``,
``target``, ``metrics``, ``params``, ``data_digest`` and ``card_uri``. On a cluster the same
metadata lands in KFP's metadata store, so the pipeline runs unchanged there.

Registering never opens the model file (that would run its pickle, and the engine runs
inside ``kubeline server`` too): what the version says comes from the metadata alone. The
registry's copy takes files only from inside the run folders and the registry
(:func:`keep_copy`), since ``card_uri`` is a path anyone who writes a pipeline chooses.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from kubeline.digest import SHORT
from kubeline.engine.artifacts import ArtifactRef, local_path
from kubeline.engine.safepath import ensure_inside, safe_name
from kubeline.errors import ConfigError
from kubeline.store import ModelVersionRecord
from kubeline.store.model_registry import version_from_metadata

__all__ = [
    "NOTES_KEY",
    "REGISTER_KEY",
    "check_card",
    "check_model_name",
    "default_roots",
    "inside",
    "keep_copy",
    "model_version_from",
    "wants_registration",
]

REGISTER_KEY = "register_as"
#: Where a version's metadata keeps what registering it left out, and why.
NOTES_KEY = "registry_notes"
_MODEL = "system.Model"


#: What a registered model may be called: it becomes part of NAME:VERSION references,
#: URLs and a folder name.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def check_model_name(name: str) -> str:
    """``name`` stripped, or ConfigError when it cannot name a model."""
    name = name.strip()
    if not MODEL_NAME.fullmatch(name):
        raise ConfigError(
            f"{name[:80]!r} cannot name a model: use up to 128 letters, digits, '-', '_' "
            "and '.', starting with a letter or digit."
        )
    return name


def wants_registration(ref: ArtifactRef) -> bool:
    return ref.schema_title == _MODEL and bool(str(ref.metadata.get(REGISTER_KEY) or "").strip())


def model_version_from(
    ref: ArtifactRef, *, run_id: str | None, task_id: str | None
) -> ModelVersionRecord:
    """The registry version a Model artifact describes (its number is set by the store)."""
    return version_from_metadata(
        ref.metadata,
        name=check_model_name(str(ref.metadata[REGISTER_KEY])),
        uri=ref.uri,
        digest=ref.digest,
        artifact_id=ref.artifact_id,
        run_id=run_id,
        task_id=task_id,
    )


def inside(path: Path, roots: Sequence[Path]) -> bool:
    """Whether ``path`` lies in one of ``roots``, both with symlinks resolved: ``..`` and a
    link out of a folder do not count as inside. A path that does not exist is not."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return any(real.is_relative_to(root.resolve()) for root in roots)


def _links_out(folder: Path, roots: Sequence[Path]) -> Path | None:
    """The first symlink in ``folder`` (walked without following links) that points outside
    ``roots``: copying the folder would copy what it points at."""
    for top, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            entry = Path(top) / name
            if entry.is_symlink() and not inside(entry, roots):
                return entry
    return None


def default_roots(models_root: Path) -> list[Path]:
    """What a run's registration may copy: the registry and the run folders beside it (the
    engine keeps ``runs/`` and ``models/`` side by side in ``$KUBELINE_HOME``; a task
    answered from the cache points at the folder of the run that first made its files)."""
    return [models_root, models_root.parent / "runs"]


def check_card(version: ModelVersionRecord, roots: Sequence[Path]) -> ModelVersionRecord:
    """The version without its ``card_uri`` when that names a local file outside ``roots``,
    with a note saying so: a card's path comes from artifact metadata, which anyone who can
    run a pipeline writes, and the registry copies the card and the UI shows it."""
    card = local_path(version.card_uri) if version.card_uri else None
    if card is None or inside(card, roots):
        return version  # no card, a remote reference (never read), or one of the run's files
    if not card.exists() and not card.is_symlink():
        why = "there is no file there"
    else:
        where = ", ".join(str(r) for r in roots)
        why = f"it is outside the folders a registration copies from ({where})"
    note = (
        f"card_uri '{version.card_uri}' was ignored: {why}. Write the card as an output of "
        "the run that makes the model."
    )
    before = version.metadata.get(NOTES_KEY)
    notes = [*(before if isinstance(before, list) else []), note]
    return replace(version, card_uri="", metadata={**version.metadata, NOTES_KEY: notes})


def keep_copy(
    version: ModelVersionRecord, models_root: Path, *, roots: Sequence[Path] | None = None
) -> ModelVersionRecord:
    """The version with its model copied to ``models_root/NAME/DIGEST/`` (content-addressed,
    so registering the same model twice copies it once): a registered model outlives the
    run folder it came from, which a user may delete.

    Only files inside ``roots`` (default: :func:`default_roots`) are copied, symlinks
    resolved: a model elsewhere is refused, a card elsewhere is left out with a note
    (:func:`check_card`).

    Raises:
        ConfigError: the model file, or a link in its folder, lies outside ``roots``.
    """
    allowed = default_roots(models_root) if roots is None else list(roots)
    version = check_card(version, allowed)
    source = local_path(version.uri)
    if source is None or not source.exists() or not version.digest:
        return version  # remote, or nothing to copy: the version keeps pointing at it
    where = ", ".join(str(r) for r in allowed)
    if not inside(source, allowed):
        raise ConfigError(
            f"The model '{version.uri}' is outside the folders a registration copies from "
            f"({where}). Register a model a run wrote, or a file of your own with "
            "'kubeline models register PATH --name NAME'."
        )
    real = source.resolve()
    link = _links_out(real, allowed) if real.is_dir() else None
    if link is not None:
        raise ConfigError(
            f"The model folder '{version.uri}' holds '{link}', a link to a file outside the "
            f"folders a registration copies from ({where}). Replace the link with the file."
        )
    # The name comes from the artifact's metadata: '../x' must not leave models_root.
    folder = ensure_inside(
        models_root / safe_name(version.name) / version.digest[:SHORT], models_root
    )
    target = folder / safe_name(source.name)
    if not target.exists():
        staging = folder.parent / f".{folder.name}.{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        try:
            copy = staging / target.name  # the safe name the version will point to
            if real.is_dir():
                shutil.copytree(real, copy)
            else:
                shutil.copy2(real, copy)
            card = local_path(version.card_uri) if version.card_uri else None
            if card is not None and card.is_file():
                shutil.copy2(card.resolve(), staging / "card.md")
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
