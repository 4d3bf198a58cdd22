"""The model registry's tables in the store: models, numbered versions, movable aliases
(``store.models``). What a Model artifact's metadata describes is the registry's to read
(``kubeline.registry.version_from_metadata``)."""

from __future__ import annotations

import builtins
from dataclasses import replace
from datetime import datetime, timezone

import sqlalchemy as sa

from kubeline.errors import NotFoundError
from kubeline.store.database import Database, upsert, values_of
from kubeline.store.records import ModelAliasRecord, ModelRecord, ModelVersionRecord
from kubeline.store.schema import model_aliases, model_versions, models

__all__ = ["ModelRegistry"]


class ModelRegistry:
    """Models, their versions and aliases (``store.models``). A version keeps its lineage
    (run, task, artifact) as plain ids: deleting a run leaves the model it produced."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def register_version(
        self, version: ModelVersionRecord, *, description: str = ""
    ) -> tuple[ModelVersionRecord, bool]:
        """Record ``version`` as the next version of its model (made when missing).

        ``version.version`` is ignored: the next number is taken in the same transaction.
        A model whose content (``digest``) is already a version of that name is not added
        again: a cached or repeated registration gives the existing version back.

        Returns:
            The recorded version, and whether it is new.
        """
        with self._db.write() as conn:
            model = {"name": version.name, "created_at": version.created_at}
            upsert(conn, models, {**model, "description": description}, replace=False)
            # Registrations of one model take turns from here (SQLite's writers always do;
            # PostgreSQL's would otherwise both read the same latest number).
            conn.execute(
                sa.select(models.c.name).where(models.c.name == version.name).with_for_update()
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
            conn.execute(model_versions.insert().values(values_of(record)))
            return record, True

    def get(self, name: str) -> ModelRecord | None:
        return self._db.get(models, ModelRecord, name)

    def list(self) -> list[ModelRecord]:
        return self._db.all(ModelRecord, sa.select(models).order_by(models.c.name))

    def delete(self, name: str) -> bool:
        """Delete a model with its versions and aliases (not the files of its versions)."""
        return self._db.delete(models, name)

    def get_version(self, name: str, version: int) -> ModelVersionRecord | None:
        query = sa.select(model_versions).where(
            model_versions.c.name == name, model_versions.c.version == version
        )
        found = self._db.all(ModelVersionRecord, query)
        return found[0] if found else None

    def list_versions(self, name: str | None = None) -> builtins.list[ModelVersionRecord]:
        """Versions of one model (or of all), newest first."""
        query = sa.select(model_versions).order_by(
            model_versions.c.name, model_versions.c.version.desc()
        )
        if name is not None:
            query = query.where(model_versions.c.name == name)
        return self._db.all(ModelVersionRecord, query)

    def versions_of_run(self, run_id: str) -> builtins.list[ModelVersionRecord]:
        query = sa.select(model_versions).where(model_versions.c.run_id == run_id)
        return self._db.all(ModelVersionRecord, query.order_by(model_versions.c.name))

    def set_alias(self, name: str, alias: str, version: int) -> ModelAliasRecord:
        """Point ``alias`` at ``version`` of ``name``, moving it if it pointed elsewhere.

        Raises:
            NotFoundError: the model has no such version.
        """
        if self.get_version(name, version) is None:
            raise NotFoundError(f"model {name!r} has no version {version}")
        record = ModelAliasRecord(name, alias, version, datetime.now(timezone.utc))
        with self._db.write() as conn:
            # One statement: two callers moving the alias at once cannot both insert it.
            upsert(conn, model_aliases, values_of(record), replace=True)
        return record

    def delete_alias(self, name: str, alias: str) -> bool:
        with self._db.write() as conn:
            deleted = conn.execute(
                model_aliases.delete().where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            )
            return bool(deleted.rowcount > 0)

    def aliases(self, name: str | None = None) -> builtins.list[ModelAliasRecord]:
        query = sa.select(model_aliases).order_by(model_aliases.c.name, model_aliases.c.alias)
        if name is not None:
            query = query.where(model_aliases.c.name == name)
        return self._db.all(ModelAliasRecord, query)
