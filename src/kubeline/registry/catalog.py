"""Reading the registry: the models with their versions, the version a reference names,
and the aliases (``production``, ``staging``) that point at versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubeline.errors import ConfigError, NotFoundError
from kubeline.registry.names import ModelReference, check_alias, parse_reference
from kubeline.store import ModelRecord, ModelVersionRecord

if TYPE_CHECKING:
    from kubeline.store import RunStore

__all__ = [
    "ModelNotFoundError",
    "ModelSummary",
    "aliases_by_version",
    "model_summaries",
    "model_versions",
    "remove_alias",
    "resolve",
    "set_alias",
]


class ModelNotFoundError(NotFoundError, ConfigError):
    """No such model, version or alias: a NotFoundError (404, exit 2; NotFoundError comes
    first, so :func:`kubeline.errors.codes_of` reads its row), and a ConfigError too, which
    ``kubeline.get_model`` and the registry raised for these before: code that catches
    ConfigError keeps working."""


@dataclass(frozen=True)
class ModelSummary:
    """A model with its versions (newest first) and its aliases (alias -> version)."""

    model: ModelRecord
    versions: list[ModelVersionRecord]
    aliases: dict[str, int]

    @property
    def latest(self) -> ModelVersionRecord | None:
        return self.versions[0] if self.versions else None


def model_summaries(store: RunStore) -> list[ModelSummary]:
    """Every registered model, by name."""
    return [
        ModelSummary(
            model,
            store.models.list_versions(model.name),
            {a.alias: a.version for a in store.models.aliases(model.name)},
        )
        for model in store.models.list()
    ]


def model_versions(store: RunStore, name: str) -> list[ModelVersionRecord]:
    """A model's versions, newest first.

    Raises:
        ModelNotFoundError: no model has that name (or it has no version).
    """
    versions = store.models.list_versions(name)
    if not versions:
        raise ModelNotFoundError(f"No model named '{name}'.")
    return versions


def resolve(store: RunStore, reference: str | ModelReference) -> ModelVersionRecord:
    """The version a reference (``NAME``, ``NAME:VERSION``, ``NAME@ALIAS``) names.

    Raises:
        ConfigError: the text is not a reference.
        ModelNotFoundError: no such model, version or alias; the message lists what exists.
    """
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    versions = store.models.list_versions(ref.name)
    if not versions:
        known = ", ".join(m.name for m in store.models.list()) or "none yet"
        raise ModelNotFoundError(
            f"No model named '{ref.name}'. Registered models: {known}. A lifecycle run "
            "registers one; 'kubeline models register ARTIFACT --name NAME' adds any other."
        )
    if ref.alias:
        aliases = {a.alias: a.version for a in store.models.aliases(ref.name)}
        if ref.alias not in aliases:
            named = ", ".join(f"@{a}" for a in sorted(aliases)) or "none"
            raise ModelNotFoundError(
                f"Model '{ref.name}' has no alias '{ref.alias}' (aliases: {named}). Set one "
                f"with 'kubeline models promote {ref.name}:VERSION {ref.alias}'."
            )
        wanted = aliases[ref.alias]
    else:
        wanted = ref.version if ref.version is not None else versions[0].version
    found = next((v for v in versions if v.version == wanted), None)
    if found is None:
        numbers = ", ".join(str(v.version) for v in reversed(versions))
        raise ModelNotFoundError(
            f"Model '{ref.name}' has no version {wanted} (versions: {numbers})."
        )
    return found


def aliases_by_version(store: RunStore, name: str) -> dict[int, list[str]]:
    """A model's aliases grouped by the version each points at."""
    found: dict[int, list[str]] = {}
    for alias in store.models.aliases(name):
        found.setdefault(alias.version, []).append(alias.alias)
    return found


def set_alias(store: RunStore, version: ModelVersionRecord, alias: str) -> int | None:
    """Point ``alias`` at ``version``, moving it if it pointed elsewhere.

    Returns:
        The version the alias pointed at before (None when it is new).

    Raises:
        ConfigError: ``alias`` cannot name an alias.
    """
    alias = check_alias(alias)
    before = {a.alias: a.version for a in store.models.aliases(version.name)}.get(alias)
    store.models.set_alias(version.name, alias, version.version)
    return before


def remove_alias(store: RunStore, name: str, alias: str) -> None:
    """Remove ``name@alias``.

    Raises:
        ModelNotFoundError: the model has no such alias.
    """
    if not store.models.delete_alias(name, alias):
        raise ModelNotFoundError(f"Model '{name}' has no alias '{alias}'.")
