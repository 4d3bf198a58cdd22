"""The model registry's part of the store: models, numbered versions, movable aliases.

Kept apart from the run tables' methods; :class:`~kubeline.store.run_store.RunStore`
inherits these, so one store object serves both and they share one database.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from kubeline.store.records import ModelAliasRecord, ModelRecord, ModelVersionRecord
from kubeline.store.schema import model_aliases, model_versions, models

if TYPE_CHECKING:
    from kubeline.store.run_store import RunStore

__all__ = ["ModelRegistryStore", "version_from_metadata"]


def _row(record: Any) -> dict[str, Any]:
    from kubeline.store.run_store import _values

    return _values(record)


class ModelRegistryStore:
    """Registry methods, mixed into the run store (they use its engine and helpers)."""

    def register_model_version(
        self: RunStore, version: ModelVersionRecord, *, description: str = ""
    ) -> tuple[ModelVersionRecord, bool]:
        """Record ``version`` as the next version of its model (made when missing).

        ``version.version`` is ignored: the next number is taken in the same transaction.
        A model whose content (``digest``) is already a version of that name is not added
        again: a cached or repeated registration gives the existing version back.

        Returns:
            The recorded version, and whether it is new.
        """
        with self._writer.begin() as conn:
            found = conn.execute(sa.select(models.c.name).where(models.c.name == version.name))
            if found.first() is None:
                conn.execute(
                    models.insert().values(
                        name=version.name, created_at=version.created_at, description=description
                    )
                )
            if version.digest:
                same = conn.execute(
                    sa.select(model_versions).where(
                        model_versions.c.name == version.name,
                        model_versions.c.digest == version.digest,
                    )
                ).first()
                if same is not None:
                    return ModelVersionRecord(**same._mapping), False
            latest = conn.execute(
                sa.select(sa.func.max(model_versions.c.version)).where(
                    model_versions.c.name == version.name
                )
            ).scalar_one()
            record = replace(version, version=(latest or 0) + 1)
            conn.execute(model_versions.insert().values(_row(record)))
            return record, True

    def get_model(self: RunStore, name: str) -> ModelRecord | None:
        return self._get(models, ModelRecord, name)

    def list_models(self: RunStore) -> list[ModelRecord]:
        return self._all(ModelRecord, sa.select(models).order_by(models.c.name))

    def delete_model(self: RunStore, name: str) -> bool:
        """Delete a model with its versions and aliases (not the files of its versions)."""
        return self._delete(models, name)

    def get_model_version(self: RunStore, name: str, version: int) -> ModelVersionRecord | None:
        query = sa.select(model_versions).where(
            model_versions.c.name == name, model_versions.c.version == version
        )
        found = self._all(ModelVersionRecord, query)
        return found[0] if found else None

    def list_model_versions(self: RunStore, name: str | None = None) -> list[ModelVersionRecord]:
        """Versions of one model (or of all), newest first."""
        query = sa.select(model_versions).order_by(
            model_versions.c.name, model_versions.c.version.desc()
        )
        if name is not None:
            query = query.where(model_versions.c.name == name)
        return self._all(ModelVersionRecord, query)

    def model_versions_of_run(self: RunStore, run_id: str) -> list[ModelVersionRecord]:
        query = sa.select(model_versions).where(model_versions.c.run_id == run_id)
        return self._all(ModelVersionRecord, query.order_by(model_versions.c.name))

    def set_model_alias(self: RunStore, name: str, alias: str, version: int) -> ModelAliasRecord:
        """Point ``alias`` at ``version`` of ``name``, moving it if it pointed elsewhere.

        Raises:
            ValueError: the model has no such version.
        """
        if self.get_model_version(name, version) is None:
            raise ValueError(f"model {name!r} has no version {version}")
        record = ModelAliasRecord(name, alias, version, datetime.now(timezone.utc))
        with self._writer.begin() as conn:
            conn.execute(
                model_aliases.delete().where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            )
            conn.execute(model_aliases.insert().values(_row(record)))
        return record

    def delete_model_alias(self: RunStore, name: str, alias: str) -> bool:
        with self._writer.begin() as conn:
            deleted = conn.execute(
                model_aliases.delete().where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            )
            return deleted.rowcount > 0

    def model_aliases(self: RunStore, name: str | None = None) -> list[ModelAliasRecord]:
        query = sa.select(model_aliases).order_by(model_aliases.c.name, model_aliases.c.alias)
        if name is not None:
            query = query.where(model_aliases.c.name == name)
        return self._all(ModelAliasRecord, query)


def _dict(value: Any) -> dict[str, Any]:
    """A dict from metadata that may hold one as JSON text (KFP stores what it is given)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


def version_from_metadata(
    meta: dict[str, Any],
    *,
    name: str,
    uri: str,
    digest: str | None,
    artifact_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
) -> ModelVersionRecord:
    """The version a Model artifact's metadata describes (its number is set on register).

    Reads, where present: ``framework``, ``libraries``, ``features`` and ``feature_types``
    (the input signature, in order), ``classes``, ``target``, ``metrics``, ``params`` (a
    dict or its JSON), ``family``, ``data_digest`` and ``card_uri``.
    """
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
