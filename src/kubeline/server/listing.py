"""KFP's list conventions: ``filter`` (a JSON list of predicates), ``sort_by``
(``"created_at desc"``), and opaque page tokens."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubeline.server.errors import ApiError

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
_VALUE_KEYS = (
    "string_value",
    "stringValue",
    "int_value",
    "intValue",
    "long_value",
    "longValue",
    "timestamp_value",
    "timestampValue",
    "bool_value",
    "boolValue",
)
_LIST_KEYS = (
    "string_values",
    "stringValues",
    "int_values",
    "intValues",
    "long_values",
    "longValues",
)
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Page:
    offset: int
    size: int

    def next_token(self, total: int) -> str:
        nxt = self.offset + self.size
        if nxt >= total:
            return ""
        return base64.urlsafe_b64encode(json.dumps({"offset": nxt}).encode()).decode()


def parse_page(page_token: str | None, page_size: int | None) -> Page:
    size = page_size or 20
    if size < 0 or size > MAX_PAGE_SIZE:
        raise ApiError(400, f"page_size must be between 1 and {MAX_PAGE_SIZE}. Got {size}.")
    offset = 0
    if page_token:
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(page_token.encode()))["offset"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiError(
                400,
                f"Invalid page_token '{page_token}': use the next_page_token of the previous page.",
            ) from exc
    return Page(offset=max(0, offset), size=size)


def parse_sort(sort_by: str | None, fields: dict[str, str]) -> tuple[str, bool]:
    """``"created_at desc"`` -> (column, descending). ``fields`` maps API names to columns."""
    if not sort_by:
        return "created_at", True
    words = sort_by.replace(",", " ").split()
    name = words[0]
    descending = len(words) > 1 and words[1].lower() == "desc"
    if name not in fields:
        raise ApiError(
            400, f"Cannot sort by '{name}'. Sort by one of: {', '.join(sorted(fields))}."
        )
    return fields[name], descending


def _value(predicate: dict[str, Any]) -> Any:
    for key in _LIST_KEYS:
        if key in predicate:
            values = predicate[key]
            return values.get("values", []) if isinstance(values, dict) else values
    for key in _VALUE_KEYS:
        if key in predicate:
            value = predicate[key]
            if key.startswith(("timestamp",)) and isinstance(value, str):
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            if key.startswith(("int", "long")):
                return int(value)
            return value
    raise ApiError(400, f"Filter predicate {predicate} has no value.")


def parse_filter(text: str | None, fields: dict[str, str]) -> list[tuple[str, str, Any]]:
    """KFP's ``filter`` query parameter -> ``[(column, operation, value)]`` for the store."""
    if not text:
        return []
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"filter is not valid JSON: {exc}") from exc
    out = []
    for predicate in document.get("predicates", []) if isinstance(document, dict) else []:
        key = predicate.get("key", "")
        operation = predicate.get("operation", predicate.get("op"))
        operation = (
            _OPERATIONS.get(operation, operation)
            if isinstance(operation, int)
            else (str(operation or "").upper())
        )
        if key not in fields:
            raise ApiError(
                400, f"Cannot filter on '{key}'. Filter on one of: {', '.join(sorted(fields))}."
            )
        if operation not in _OPERATIONS.values():
            raise ApiError(400, f"Unknown filter operation '{operation}'.")
        out.append((fields[key], operation, _value(predicate)))
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
