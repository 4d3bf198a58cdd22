"""The cache section of the store: task results keyed by content, which outlive the run
that made them."""

from __future__ import annotations

from kubeline.store.database import Database, upsert, values_of
from kubeline.store.records import CacheRecord
from kubeline.store.schema import cache_entries

__all__ = ["Cache"]


class Cache:
    """Cache entries (``store.cache``), by key."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str) -> CacheRecord | None:
        return self._db.get(cache_entries, CacheRecord, key)

    def put(self, record: CacheRecord) -> None:
        """Insert a cache entry, replacing any entry with the same key."""
        with self._db.write() as conn:
            upsert(conn, cache_entries, values_of(record), replace=True)

    def delete(self, key: str) -> None:
        with self._db.write() as conn:
            conn.execute(cache_entries.delete().where(cache_entries.c.key == key))
