"""The connection to the store's database, and the table operations every section shares.

Every write is one transaction, so a crash never leaves half of one. On SQLite the store
is shared by the threads of a process and by several processes (the CLI and the server on
one file): WAL lets readers go on while one writer writes, and writers take the lock up
front (``BEGIN IMMEDIATE``) so that they queue for ``busy_timeout`` instead of failing.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import Field, fields
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kubeline.errors import AlreadyExistsError, ConfigError, NotFoundError
from kubeline.store import postgres
from kubeline.store.filters import check_aware, columns_of
from kubeline.store.migrations import migrate
from kubeline.store.schema import metadata

__all__ = ["Database", "Record", "noun", "upsert", "values_of"]


class Record(Protocol):
    """A record class of :mod:`kubeline.store.records`: built from a row's columns."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def __init__(self, **values: Any) -> None: ...


R = TypeVar("R", bound=Record)

# Execution option that marks a connection as a writer (see _begin_sqlite).
_WRITE = "kubeline_write"


class Database:
    """One database's engine, and the reads and writes of whole records.

    Args:
        url: A SQLAlchemy database URL, e.g. ``sqlite:///path/to/kubeline.db`` or
            ``postgresql+psycopg://user:password@host/db`` (``postgresql://`` too). Missing
            tables are created, an older schema is migrated, and a SQLite file's folder is
            made if missing.

    Raises:
        ConfigError: the URL is malformed, its driver is missing, or its database server
            cannot be reached or refuses the login.
    """

    def __init__(self, url: str | sa.URL) -> None:
        url = _parse(url)
        if url.get_backend_name() == "sqlite":
            if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"check_same_thread": False})
            sa.event.listen(engine, "connect", _connect_sqlite)
            sa.event.listen(engine, "begin", _begin_sqlite)
        else:
            engine = _server_engine(url)
        self.engine = engine
        self._writer = engine.execution_options(**{_WRITE: True})
        #: Why this database was opened read-only (a full disk), else None.
        self.read_only_reason: str | None = None
        try:
            self._prepare()
        except sa.exc.OperationalError as exc:
            if url.get_backend_name() == "sqlite":
                if not self._open_read_only(url, exc):
                    raise
                return
            engine.dispose()
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise ConfigError(
                f"Cannot open the store's database {_shown(url)}: {reason}. Check the URL "
                "(KUBELINE_DATABASE_URL) and that the database server is up."
            ) from exc

    def _open_read_only(self, url: sa.URL, exc: sa.exc.OperationalError) -> bool:
        """On a full disk, open an existing SQLite file read-only, so lists and logs can
        still be read; whether it did. Its tables are not made or migrated, and what a
        killed process left in the write-ahead log is not seen until there is space."""
        path = url.database or ""
        if not path or path == ":memory:" or path.startswith("file:") or not Path(path).is_file():
            return False
        text = str(exc.orig or exc).lower()
        free = _free_bytes(Path(path).parent)
        if "disk is full" not in text and not ("disk i/o error" in text and free < _FULL_BELOW):
            return False
        self.engine.dispose()
        absolute = Path(path).resolve().as_posix()
        engine = sa.create_engine(
            f"sqlite:///file:{absolute}?immutable=1&uri=true",
            connect_args={"check_same_thread": False},
        )
        sa.event.listen(engine, "connect", _connect_sqlite_read_only)
        self.engine = engine
        self._writer = engine.execution_options(**{_WRITE: True})
        self.read_only_reason = (
            f"the disk holding the store ({Path(path).parent}) is full "
            f"({max(free, 0) / 2**20:.1f} MB free): the store is open read-only, and "
            "writes (migrations, failing runs a killed process left RUNNING) wait until "
            "there is space"
        )
        return True

    def _prepare(self) -> None:
        """Make missing tables and indexes, and migrate an older schema, in one transaction."""
        with self.write() as conn:
            if conn.dialect.name == "postgresql":
                # Processes opening a new database at once (a team's server and CLI runs)
                # take turns making its tables: SQLite's writers always do.
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(postgres.SCHEMA_LOCK)))
            metadata.create_all(conn)
            # create_all skips the indexes of tables that already exist, so a database made
            # by an older kubeline would miss those added since (the runs' pipeline ids).
            for table in metadata.sorted_tables:
                for index in table.indexes:
                    index.create(conn, checkfirst=True)
            # A database made by an older kubeline gets its data moved to today's rules.
            migrate(conn)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def read(self) -> sa.Connection:
        """A connection for reading, to use in a ``with`` block."""
        return self.engine.connect()

    def write(self) -> AbstractContextManager[sa.Connection]:
        """A write transaction, to use in a ``with`` block (commits at its end)."""
        return self._writer.begin()

    def insert(self, table: sa.Table, record: Record) -> None:
        with self.write() as conn:
            conn.execute(table.insert().values(values_of(record)))

    def add(self, table: sa.Table, record: Record) -> None:
        """Insert a record, saying which constraint it breaks if it breaks one.

        Raises:
            AlreadyExistsError: Its key, or its name where names are unique, is taken.
            NotFoundError: A row it refers to does not exist.
        """
        values = values_of(record)
        try:
            with self.write() as conn:
                conn.execute(table.insert().values(values))
        except sa.exc.IntegrityError as exc:
            self._explain(exc, table, type(record), values)
            raise

    def update(
        self, table: sa.Table, record_type: type[R], key: str, values: dict[str, Any]
    ) -> bool:
        """Set some fields of the row ``key``; whether it exists.

        Raises:
            ValueError: A name is not a field of ``record_type``, or is its key.
            AlreadyExistsError: A new value takes a unique name.
        """
        (key_column,) = table.primary_key.columns
        allowed = {f.name for f in fields(record_type)} - {key_column.name}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ValueError(
                f"cannot update {record_type.__name__} field(s) {', '.join(map(repr, unknown))}; "
                f"expected any of {', '.join(sorted(allowed))}"
            )
        if not values:
            return self.get(table, record_type, key) is not None
        check_aware(values)
        try:
            with self.write() as conn:
                update = table.update().where(key_column == key).values(values)
                return bool(conn.execute(update).rowcount > 0)
        except sa.exc.IntegrityError as exc:
            current = self.get(table, record_type, key)
            if current is not None:
                self._explain(exc, table, record_type, {**values_of(current), **values}, key=key)
            raise

    def delete(self, table: sa.Table, key: str) -> bool:
        """Delete the row ``key`` (and what cascades from it); whether it existed."""
        (key_column,) = table.primary_key.columns
        with self.write() as conn:
            return bool(conn.execute(table.delete().where(key_column == key)).rowcount > 0)

    def get(self, table: sa.Table, record_type: type[R], key: str) -> R | None:
        (key_column,) = table.primary_key.columns
        records = self.all(record_type, sa.select(table).where(key_column == key))
        return records[0] if records else None

    def all(self, record_type: type[R], query: sa.Select[Any]) -> list[R]:
        with self.read() as conn:
            return [record_type(**row._mapping) for row in conn.execute(query)]

    def page(
        self,
        table: sa.Table,
        record_type: type[R],
        where: Sequence[sa.ColumnElement[bool]],
        order_by: str,
        descending: bool,
        limit: int,
        offset: int,
    ) -> list[R]:
        """One page of ``table``, sorted by ``order_by`` with ties broken by creation time,
        then key; rows without a value sort last either way, the same on every database."""
        columns = columns_of(table)
        if order_by not in columns:
            raise ValueError(
                f"cannot order {table.name.replace('_', ' ')} by {order_by!r}; "
                f"expected one of {', '.join(sorted(columns))}"
            )
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must be >= 0, got {limit} and {offset}")
        (key_column,) = table.primary_key.columns
        keys = [
            columns[order_by],
            *(c for c in (table.c.created_at, key_column) if c.name != order_by),
        ]
        query = (
            sa.select(table)
            .where(*where)
            .order_by(*((k.desc() if descending else k.asc()).nulls_last() for k in keys))
            .limit(limit)
            .offset(offset)
        )
        return self.all(record_type, query)

    def count(self, table: sa.Table, where: Sequence[sa.ColumnElement[bool]]) -> int:
        query = sa.select(sa.func.count()).select_from(table).where(*where)
        with self.read() as conn:
            return int(conn.execute(query).scalar_one())

    def _explain(
        self,
        exc: sa.exc.IntegrityError,
        table: sa.Table,
        record_type: type,
        row: dict[str, Any],
        *,
        key: str | None = None,
    ) -> None:
        """Turn ``exc``, met writing ``row`` to ``table``, into an AlreadyExistsError or a
        NotFoundError that names the offending values, if a look at the table shows the
        cause; else return, and the caller re-raises ``exc``. ``key`` is the primary key of
        an updated row, which is no duplicate of itself.

        Looking is simpler than parsing each database's message, and finds a concurrent
        writer that took the name first just the same.
        """
        record_noun = noun(record_type)
        (key_column,) = table.primary_key.columns
        unique = [
            table.primary_key,
            *(c for c in table.constraints if isinstance(c, sa.UniqueConstraint)),
        ]
        with self.read() as conn:
            for constraint in unique:
                columns = list(constraint.columns)
                match = [column == row[column.name] for column in columns]
                if key is not None:
                    match.append(key_column != key)
                if conn.execute(sa.select(key_column).where(*match).limit(1)).first():
                    taken = " and ".join(f"{c.name}={row[c.name]!r}" for c in columns)
                    article = "an" if record_noun[0] in "aeiou" else "a"
                    raise AlreadyExistsError(
                        f"{article} {record_noun} with {taken} already exists; "
                        f"choose another {columns[-1].name}"
                    ) from exc
            for foreign_key in table.foreign_keys:
                value = row[foreign_key.parent.name]
                target = foreign_key.column
                query = sa.select(target).where(target == value)
                if value is not None and conn.execute(query).first() is None:
                    missing = noun(target.table)
                    raise NotFoundError(
                        f"{foreign_key.parent.name}={value!r} names no {missing}; "
                        f"add that {missing} before the {record_noun}"
                    ) from exc


def _parse(url: str | sa.URL) -> sa.URL:
    """``url`` as a SQLAlchemy URL; a plain ``postgresql://`` means the driver kubeline's
    ``postgresql`` extra installs (psycopg 3), not SQLAlchemy's default (psycopg2).

    Raises:
        ConfigError: it is no database URL (the text is not repeated: it may hold a password).
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            "The store's URL is not a database URL; expected e.g. sqlite:///path/kubeline.db "
            "or postgresql+psycopg://user:password@host/database."
        ) from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _server_engine(url: sa.URL) -> sa.Engine:
    """The engine of a database server (PostgreSQL...), whose connections may go stale.

    Raises:
        ConfigError: the URL's driver is not installed, or SQLAlchemy knows no such database.
    """
    # A host that does not answer fails the open in seconds, not minutes.
    waits = url.get_driver_name() in ("psycopg", "psycopg2") and "connect_timeout" not in url.query
    options: dict[str, Any] = {"connect_args": {"connect_timeout": 10} if waits else {}}
    if url.get_backend_name() == "postgresql":  # records round-trip as on SQLite
        options.update(json_serializer=postgres.dumps_json, json_deserializer=postgres.loads_json)
    try:
        engine = sa.create_engine(url, pool_pre_ping=True, **options)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        hint = (
            "install it with pip install 'kubeline[postgresql]' and write the URL as "
            "postgresql+psycopg://... (or postgresql://...)"
            if url.get_backend_name() == "postgresql"
            else "install that database's SQLAlchemy driver"
        )
        raise ConfigError(
            f"Cannot open the store's database {_shown(url)}: no driver for "
            f"{url.drivername!r} ({exc}); {hint}."
        ) from exc
    if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg":
        sa.event.listen(engine, "connect", postgres.keep_text_without_nul)
    return engine


def _shown(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def values_of(record: Record) -> dict[str, Any]:
    """A record's fields by name, checked to hold no naive datetime."""
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    check_aware(values)
    return values


def noun(thing: type | sa.Table | sa.FromClause) -> str:
    """``PipelineVersionRecord`` or table ``pipeline_versions`` -> "pipeline version"."""
    if isinstance(thing, type):
        return re.sub(r"(?<!^)(?=[A-Z])", " ", thing.__name__.removesuffix("Record")).lower()
    return str(getattr(thing, "name", "row")).replace("_", " ").removesuffix("s")


def upsert(conn: sa.Connection, table: sa.Table, values: dict[str, Any], *, replace: bool) -> None:
    """Insert a row, replacing (or keeping) a row with the same primary key.

    SQLite and PostgreSQL do this in one statement, which no concurrent writer can split.
    """
    key = [column.name for column in table.primary_key.columns]
    if conn.dialect.name in ("sqlite", "postgresql"):
        dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
        insert = dialect.insert(table).values(values)
        if replace:
            rest = {name: insert.excluded[name] for name in values if name not in key}
            conn.execute(insert.on_conflict_do_update(index_elements=key, set_=rest))
        else:
            conn.execute(insert.on_conflict_do_nothing(index_elements=key))
        return
    # Other databases: two statements in the caller's transaction.
    match = sa.and_(*(table.c[name] == values[name] for name in key))
    if replace:
        conn.execute(table.delete().where(match))
    elif conn.execute(sa.select(sa.literal(1)).select_from(table).where(match)).first():
        return
    conn.execute(table.insert().values(values))


def _connect_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    # Leave BEGIN to _begin_sqlite: the sqlite3 module would otherwise open transactions
    # lazily, and a reader that turns writer mid-transaction fails at once with "database is
    # locked" instead of waiting for busy_timeout.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _connect_sqlite_read_only(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


#: Under this much free space a disk I/O error at open counts as a full disk.
_FULL_BELOW = 1024 * 1024


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return -1


def _begin_sqlite(conn: sa.Connection) -> None:
    # Writers take the write lock at BEGIN, where busy_timeout applies; readers take none.
    mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")
