"""The conditions of the store's lists, as KFP's API pages them.

A list takes ``(field, op, value)`` filters (``[("state", "IN", ["FAILED", "CANCELED"])]``),
one field to sort by, and ``limit`` / ``offset``. Fields are columns, checked against the
table, and values are bound parameters, so a filter cannot inject SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from kubeline.store.schema import runs

__all__ = [
    "FILTER_OPS",
    "Filter",
    "check_aware",
    "columns_of",
    "contains",
    "runs_matching",
    "where",
]

#: One list filter: (field, op, value), e.g. ("state", "IN", ["FAILED", "CANCELED"]).
Filter = tuple[str, str, Any]

#: KFP's filter predicates (v2beta1 Predicate.Operation), by the names KFP gives them.
FILTER_OPS = (
    "EQUALS",
    "NOT_EQUALS",
    "GREATER_THAN",
    "GREATER_THAN_EQUALS",
    "LESS_THAN",
    "LESS_THAN_EQUALS",
    "IN",
    "IS_SUBSTRING",
)
_COMPARISONS: dict[str, Callable[[Any, Any], sa.ColumnElement[bool]]] = {
    "GREATER_THAN": lambda column, value: column > value,
    "GREATER_THAN_EQUALS": lambda column, value: column >= value,
    "LESS_THAN": lambda column, value: column < value,
    "LESS_THAN_EQUALS": lambda column, value: column <= value,
}


def columns_of(table: sa.Table) -> dict[str, sa.Column[Any]]:
    """The columns one may sort and filter by: all but JSON, which databases cannot compare."""
    return {c.name: c for c in table.columns if not isinstance(c.type, sa.JSON)}


def where(
    table: sa.Table, filters: Sequence[Filter] | None, **equals: Any
) -> list[sa.ColumnElement[bool]]:
    """The conditions of ``filters`` and of ``equals`` (field=value, ``None`` meaning any).

    Raises:
        ValueError: A filter names no such column, or its op or value does not fit.
    """
    conditions = [table.c[name] == value for name, value in equals.items() if value is not None]
    for item in filters or ():
        try:
            name, op, value = item
        except (TypeError, ValueError):
            raise ValueError(f"a filter is a (field, op, value) tuple, got {item!r}") from None
        conditions.append(_condition(table, name, op, value))
    return conditions


def contains(column: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    """``column`` holds ``text``, in any case (ASCII case on SQLite)."""
    return _position(sa.func.lower(column), text.lower()) > 0


def runs_matching(text: str) -> sa.Select[Any]:
    """The ids of the runs whose id, name or pipeline name holds ``text``."""
    return sa.select(runs.c.run_id).where(
        sa.or_(
            contains(runs.c.run_id, text),
            contains(runs.c.display_name, text),
            contains(runs.c.pipeline_name, text),
        )
    )


def check_aware(values: dict[str, Any]) -> None:
    """Refuse naive datetimes here, not only in UTCDateTime, so the caller gets a plain
    ValueError rather than one wrapped in SQLAlchemy's StatementError."""
    for name, value in values.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(
                f"{name}={value.isoformat()} is a naive datetime; "
                "pass a timezone-aware one, e.g. datetime.now(timezone.utc)"
            )


def _condition(table: sa.Table, name: str, op: str, value: Any) -> sa.ColumnElement[bool]:
    columns = columns_of(table)
    if name not in columns:
        raise ValueError(
            f"cannot filter {table.name.replace('_', ' ')} by {name!r}; "
            f"expected one of {', '.join(sorted(columns))}"
        )
    column = columns[name]
    if op not in FILTER_OPS:
        raise ValueError(
            f"unknown filter op {op!r} on {name!r}; expected one of {', '.join(FILTER_OPS)}"
        )
    many = isinstance(value, (list, tuple, set, frozenset))
    if op == "IN":
        if not many:
            raise ValueError(f"filter {name} IN needs a list of values, got {value!r}")
        for item in value:
            check_aware({name: item})
        given = [item for item in value if item is not None]
        if len(given) < len(value):
            return sa.or_(column.in_(given), column.is_(None))
        return column.in_(given)
    if many:
        raise ValueError(f"filter {name} {op} needs one value, got {value!r}; only IN takes a list")
    check_aware({name: value})
    if op == "EQUALS":
        return column.is_(None) if value is None else column == value
    if op == "NOT_EQUALS":
        # Rows where the field is NULL differ from any value, so they stay.
        return column.is_not(None) if value is None else column.is_distinct_from(value)
    if value is None:
        raise ValueError(f"filter {name} {op} needs a value, got None")
    if op == "IS_SUBSTRING":
        if not isinstance(column.type, sa.String):
            raise ValueError(f"filter {name} IS_SUBSTRING needs a text field; {name} is not one")
        if not isinstance(value, str):
            raise ValueError(f"filter {name} IS_SUBSTRING needs a string, got {value!r}")
        return _position(column, value) > 0
    return _COMPARISONS[op](column, value)


class _position(FunctionElement[int]):
    """``_position(text, part)``: where ``part`` first starts in ``text``, from 1, or 0.

    A substring test without LIKE, which SQLite matches case-insensitively and in which
    ``%`` and ``_`` are wildcards.
    """

    type = sa.Integer()
    inherit_cache = True


@compiles(_position)
def _position_sql(element: _position, compiler: SQLCompiler, **kw: Any) -> str:
    text, part = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"POSITION({part} IN {text})"


@compiles(_position, "sqlite")
def _position_sqlite(element: _position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"
