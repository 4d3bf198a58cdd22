"""Text for previews: values and sizes as people read them, cut to fit, and the small
message blocks every kind uses. Every piece of artifact text goes through Markup's
escaping here, never into markup by hand.
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import date, datetime, time
from typing import Any, TypeGuard

from markupsafe import Markup

from kubeline.charts import format_number

__all__ = [
    "EMPTY",
    "brief",
    "format_bytes",
    "format_value",
    "is_number",
    "message",
    "meta_rows",
    "meta_value",
    "note_html",
    "plain",
    "plural",
    "shorten",
]

_LIST_ITEMS = 10  # metadata lists show this many items, then "... and N more"
_CELL_CHARS = 200  # a dataset cell or metadata value is cut after this many characters
EMPTY = Markup("")


def format_value(value: Any) -> str:
    """A metadata or cell value as text: numbers with 4 significant digits (integers without
    ``.0``), None as ``null``, lists and dicts as short JSON."""
    if value is None:
        return "null"
    value = plain(value)
    if isinstance(value, (bool, int, float)):
        return format_number(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (list, tuple, dict)):
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = str(value)
        return shorten(text)
    return shorten(str(value))


def plain(value: Any) -> Any:
    """A numpy or pandas scalar as the Python value it holds; anything else as it is."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (list, dict)):
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            return value.item()
    return value


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_bytes(size: int | None) -> str:
    """A byte count the way people read it (1024-based): ``512 B``, ``165.8 KB``."""
    if size is None:
        return "unknown size"
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}"
    return f"{size} B"  # unreachable; keeps type checkers content


def shorten(text: str, limit: int = _CELL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def message(text: str) -> Markup:
    return Markup('<p class="preview-message">{}</p>').format(text)


def note_html(text: str) -> Markup:
    return Markup('<p class="preview-note">{}</p>').format(text)


def brief(exc: BaseException) -> str:
    """An exception's first sentence, short enough to sit inside one of ours."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]
    return shorten(first.rstrip(".").strip(), 160)


def meta_value(value: Any) -> str:
    """A metadata value, with long lists and dicts shortened to their first items."""
    if isinstance(value, (list, tuple)):
        head = ", ".join(
            format_value(v) if not isinstance(v, str) else shorten(v, 80)
            for v in value[:_LIST_ITEMS]
        )
        extra = len(value) - _LIST_ITEMS
        return f"{head} … and {extra} more" if extra > 0 else head
    if isinstance(value, dict):
        items = list(value.items())
        head = "; ".join(f"{k}: {meta_value(v)}" for k, v in items[:_LIST_ITEMS])
        extra = len(items) - _LIST_ITEMS
        return shorten(f"{head} … and {extra} more" if extra > 0 else head, 1000)
    if isinstance(value, str):
        return shorten(value, 300)
    return format_value(value)


def meta_rows(metadata: dict[str, Any]) -> Markup:
    return Markup("").join(
        Markup('<tr><th scope="row">{}</th><td>{}</td></tr>').format(key, meta_value(value))
        for key, value in metadata.items()
    )
