"""KFP's list conventions: ``filter`` (a JSON list of predicates), ``sort_by``
(``"created_at desc"``), and opaque page tokens. A malformed one is the client's mistake:
a ConfigError, which the API answers with 400 (kubeline.errors.CODES)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kubeline.errors import ConfigError

__all__ = ["ListQuery", "Page", "list_query", "parse_filter", "parse_page", "parse_sort"]

# KFP clients send operations by name or by their protobuf number.
_OPERATIONS = {
    1: "EQUALS",
    2: "NOT_EQUALS",
    3: "GREATER_THAN",
    5: "GREATER_THAN_EQUALS",
    6: "LESS_THAN",
    7: "LESS_THAN_EQUALS",
    8: "IN",
    9: "IS_SUBSTRING",
}
_SCALAR_KEYS = {
    "string_value": "string_value",
    "stringValue": "string_value",
    "int_value": "int_value",
    "intValue": "int_value",
    "long_value": "long_value",
    "longValue": "long_value",
    "timestamp_value": "timestamp_value",
    "timestampValue": "timestamp_value",
    "bool_value": "bool_value",
    "boolValue": "bool_value",
}
_LIST_KEYS = {
    "string_values": "string_value",
    "stringValues": "string_value",
    "int_values": "int_value",
    "intValues": "int_value",
    "long_values": "long_value",
    "longValues": "long_value",
}
# Store columns whose values are not text; every other filterable column holds text.
_TIME_COLUMNS = frozenset(
    {"created_at", "finished_at", "started_at", "updated_at", "last_run_created_at"}
)
_BOOL_COLUMNS = frozenset({"enabled"})
_INT64 = (-(2**63), 2**63 - 1)
MAX_PAGE_SIZE = 1000
MAX_IN_VALUES = 1000
# Far past any real list, and far from SQLite's 64-bit limit for LIMIT + OFFSET.
MAX_OFFSET = 2**53
_TOKEN_HINT = "use the next_page_token of the previous page, or leave page_token out."


def _shown(value: Any, limit: int = 80) -> str:
    """A client's value, quoted and cut short, for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Page:
    offset: int
    size: int

    def next_token(self, total: int) -> str:
        nxt = self.offset + self.size
        if nxt >= total:
            return ""
        return base64.urlsafe_b64encode(json.dumps({"offset": nxt}).encode()).decode()


def _token_offset(page_token: str) -> int:
    """The offset a page token holds; ConfigError (400) for anything this server did not make."""
    try:
        document = json.loads(base64.urlsafe_b64decode(page_token.encode()))
    except ValueError as exc:  # binascii.Error, JSONDecodeError, UnicodeDecodeError
        raise ConfigError(f"Invalid page_token {_shown(page_token)}: {_TOKEN_HINT}") from exc
    offset = document.get("offset") if isinstance(document, dict) else None
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise ConfigError(f"Invalid page_token {_shown(page_token)}: {_TOKEN_HINT}")
    if not 0 <= offset <= MAX_OFFSET:
        raise ConfigError(
            f"Invalid page_token {_shown(page_token)}: its offset {_shown(offset)} is out of "
            f"range (0 to {MAX_OFFSET}); {_TOKEN_HINT}",
        )
    return offset


def parse_page(page_token: str | None, page_size: int | None) -> Page:
    size = page_size or 20
    if size < 0 or size > MAX_PAGE_SIZE:
        raise ConfigError(f"page_size must be between 1 and {MAX_PAGE_SIZE}. Got {size}.")
    offset = _token_offset(page_token) if page_token else 0
    return Page(offset=offset, size=size)


def parse_sort(sort_by: str | None, fields: dict[str, str]) -> tuple[str, bool]:
    """``"created_at desc"`` -> (column, descending). ``fields`` maps API names to columns."""
    if not sort_by:
        return "created_at", True
    words = sort_by.replace(",", " ").split()
    if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
        raise ConfigError(
            f"Invalid sort_by {_shown(sort_by)}: write a field name, optionally followed by asc "
            "or desc (e.g. 'created_at desc'), or leave sort_by out.",
        )
    name = words[0]
    descending = len(words) > 1 and words[1].lower() == "desc"
    if name not in fields:
        raise ConfigError(
            f"Cannot sort by {_shown(name)}. Sort by one of: {', '.join(sorted(fields))}."
        )
    return fields[name], descending


def _integer(value: Any, where: str) -> int:
    """A protobuf int64 from JSON: a number or a decimal string, within 64 bits."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and len(value) < 50 and value.strip().lstrip("+-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be a whole number, got {_shown(value)}.")
    if not _INT64[0] <= value <= _INT64[1]:
        raise ConfigError(f"{where} {_shown(value)} is out of range: it must fit in 64 bits.")
    return value


def _moment(value: Any, kind: str, where: str) -> datetime:
    """A time from an RFC 3339 string or, as KFP stores times, a count of Unix seconds."""
    if kind in ("timestamp_value", "string_value") and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConfigError(
                f"{where} {_shown(value)} is not a time: write it in RFC 3339, "
                "e.g. 2024-01-31T12:00:00Z.",
            ) from exc
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    elif kind in ("timestamp_value", "int_value", "long_value"):
        seconds = _integer(value, where)
        try:
            moment = datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError) as exc:
            raise ConfigError(f"{where} {seconds} is out of range for Unix seconds.") from exc
    else:
        raise ConfigError(f"{where} is a time: give it as timestamp_value (RFC 3339) or int_value.")
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError as exc:
        raise ConfigError(f"{where} {_shown(value)} is out of range for a time.") from exc


def _typed(column: str, kind: str, value: Any, where: str) -> Any:
    """One filter value, checked and converted to the type of the ``column`` it filters."""
    if value is None:
        raise ConfigError(f"{where} has no value (null).")
    if column in _TIME_COLUMNS:
        return _moment(value, kind, where)
    if column in _BOOL_COLUMNS:
        if kind == "bool_value" and isinstance(value, bool):
            return value
        if kind == "string_value" and value in ("true", "false"):
            return value == "true"
        raise ConfigError(f"{where} is true or false: give it as bool_value.")
    if kind != "string_value" or not isinstance(value, str):
        raise ConfigError(f"{where} is text: give it as string_value, got {_shown(value)}.")
    return value


def _value(predicate: dict[str, Any], key: str, column: str, operation: str) -> Any:
    given = [name for name in (*_SCALAR_KEYS, *_LIST_KEYS) if name in predicate]
    where = f"The filter value for {_shown(key)}"
    if not given:
        raise ConfigError(
            f"The filter predicate on {_shown(key)} has no value: give string_value, "
            "int_value, long_value, timestamp_value or bool_value (string_values, int_values "
            "or long_values for IN).",
        )
    if len(given) > 1:
        raise ConfigError(
            f"The filter predicate on {_shown(key)} has several values ({', '.join(given)}): "
            "give one.",
        )
    name = given[0]
    raw = predicate[name]
    if name in _SCALAR_KEYS:
        if operation == "IN":
            raise ConfigError(
                f"IN on {_shown(key)} takes a list: give string_values, int_values or "
                f"long_values, not {name}.",
            )
        return _typed(column, _SCALAR_KEYS[name], raw, where)
    if operation != "IN":
        raise ConfigError(f"{name} is for the IN operation; {operation} takes one value.")
    items = raw.get("values", []) if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise ConfigError(
            f"{name} of the filter on {_shown(key)} must be a list, e.g. "
            f'{{"values": ["a", "b"]}}; got {_shown(raw)}.',
        )
    if len(items) > MAX_IN_VALUES:
        raise ConfigError(f"IN takes at most {MAX_IN_VALUES} values; got {len(items)}.")
    return [_typed(column, _LIST_KEYS[name], item, where) for item in items]


def _operation(raw: Any) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return _OPERATIONS.get(raw, str(raw))
    return raw.upper() if isinstance(raw, str) else _shown(raw)


def parse_filter(text: str | None, fields: dict[str, str]) -> list[tuple[str, str, Any]]:
    """KFP's ``filter`` query parameter -> ``[(column, operation, value)]`` for the store.

    Every value is checked against its field's type here, so the store only sees values it
    can compare: a malformed filter is the client's mistake (400), never a server error.
    """
    if not text:
        return []
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"filter is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(
            'filter must be a JSON object such as {"predicates": [{"key": "name", '
            f'"operation": "EQUALS", "string_value": "x"}}]}}; got {_shown(document)}.',
        )
    predicates = document.get("predicates") or []
    if not isinstance(predicates, list):
        raise ConfigError(f"filter.predicates must be a list; got {_shown(predicates)}.")
    out = []
    for predicate in predicates:
        if not isinstance(predicate, dict):
            raise ConfigError(
                "Each filter predicate must be an object with key, operation and a value; "
                f"got {_shown(predicate)}.",
            )
        key = predicate.get("key", "")
        operation = _operation(predicate.get("operation", predicate.get("op")))
        if not isinstance(key, str) or key not in fields:
            raise ConfigError(
                f"Cannot filter on {_shown(key)}. Filter on one of: {', '.join(sorted(fields))}.",
            )
        if operation not in _OPERATIONS.values():
            raise ConfigError(
                f"Unknown filter operation {_shown(operation)}: use one of "
                f"{', '.join(_OPERATIONS.values())}.",
            )
        column = fields[key]
        if operation == "IS_SUBSTRING" and column in _TIME_COLUMNS | _BOOL_COLUMNS:
            raise ConfigError(f"IS_SUBSTRING works on text fields; {key!r} is not one.")
        out.append((column, operation, _value(predicate, key, column, operation)))
    return out


@dataclass(frozen=True)
class ListQuery:
    """A list request's page, order and filters, read from KFP's query parameters."""

    page: Page
    order_by: str
    descending: bool
    filters: list[tuple[str, str, Any]]

    def window(self) -> dict[str, Any]:
        """Keyword arguments for a store ``list_*`` call."""
        return {
            "order_by": self.order_by,
            "descending": self.descending,
            "limit": self.page.size,
            "offset": self.page.offset,
            "filters": self.filters,
        }

    def body(self, key: str, items: list[dict[str, Any]], total: int) -> dict[str, Any]:
        """KFP's list response: the items, the total, the next page's token."""
        return {key: items, "total_size": total, "next_page_token": self.page.next_token(total)}


def list_query(fields: dict[str, str]) -> Callable[..., ListQuery]:
    """A FastAPI dependency reading a list request against the API ``fields`` it allows."""

    def read(
        page_token: str | None = None,
        page_size: int | None = None,
        sort_by: str | None = None,
        filter: str | None = None,
    ) -> ListQuery:
        order, descending = parse_sort(sort_by, fields)
        return ListQuery(
            parse_page(page_token, page_size), order, descending, parse_filter(filter, fields)
        )

    return read
