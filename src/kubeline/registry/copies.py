"""The registry's own copy of a model: ``models_root/NAME/DIGEST/``, so a registered
version outlives the run folder or file it came from (which a user may delete).

A copy takes files only from inside the run folders and the registry: a model's URI and
its ``card_uri`` come from artifact metadata, which anyone who writes a pipeline chooses,
and copying them would copy (and later serve, or show) any file on this machine.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from kubeline.digest import SHORT
from kubeline.errors import ConfigError
from kubeline.paths import local_path, safe_name
from kubeline.registry.files import inside, link_out
from kubeline.registry.versions import NOTES_KEY
from kubeline.store import ModelVersionRecord

__all__ = ["check_card", "default_roots", "keep_copy"]


def default_roots(models_root: Path) -> list[Path]:
    """What a run's registration may copy: the registry and the run folders beside it (the
    engine keeps ``runs/`` and ``models/`` side by side in ``$KUBELINE_HOME``; a task
    answered from the cache points at the folder of the run that first made its files)."""
    return [models_root, models_root.parent / "runs"]


def check_card(version: ModelVersionRecord, roots: Sequence[Path]) -> ModelVersionRecord:
    """The version without its ``card_uri`` when that names a local file outside ``roots``,
    with a note saying so (the registry copies the card and the UI shows it)."""
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
    kept = [*(before if isinstance(before, list) else []), note]
    return replace(version, card_uri="", metadata={**version.metadata, NOTES_KEY: kept})


def keep_copy(
    version: ModelVersionRecord, models_root: Path, *, roots: Sequence[Path] | None = None
) -> ModelVersionRecord:
    """The version with its model copied to ``models_root/NAME/DIGEST/`` (content-addressed,
    so registering the same model twice copies it once).

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
    link = link_out(real, allowed) if real.is_dir() else None
    if link is not None:
        raise ConfigError(
            f"The model folder '{version.uri}' holds '{link}', a link to a file outside the "
            f"folders a registration copies from ({where}). Replace the link with the file."
        )
    folder = _version_folder(models_root, version.name, version.digest)
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


def _version_folder(models_root: Path, name: str, digest: str) -> Path:
    """``models_root/NAME/DIGEST``, refused when a symlink already there leads out: the
    name comes from artifact metadata, and ``../x`` must not leave ``models_root``."""
    folder = models_root / safe_name(name) / digest[:SHORT]
    base, resolved = models_root.resolve(), folder.resolve()
    if resolved != base and not resolved.is_relative_to(base):
        raise ConfigError(
            f"'{folder}' resolves to '{resolved}', outside the model registry '{base}'; "
            "kubeline does not write there. Remove the symlink that leads out."
        )
    return folder
