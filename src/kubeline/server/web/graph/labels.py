"""The words on the graph that both layout and rendering need: a group's header (its box
is sized to it), a loop item's short name (an iteration's title), and text cut to fit.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from kubeline.server.web.graph.model import Node

__all__ = ["cut", "header_text", "item_name", "plural"]

_ITEM_CHARS = 24  # an iteration's title names its item in at most this many characters
# Keys that name a loop item, tried in this order; then keys ending in _id / Id / name.
_ITEM_KEYS = ("id", "name", "key", "title", "label")
_ITEM_KEY_SUFFIX = re.compile(r"(?i:(^|[_\-\s.])(id|name))$|[a-z0-9](Id|ID|Name)$")


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def header_text(node: Node) -> str:
    """A group's header: its label; for a loop its iterations and parallelism, for an
    iteration its item's short name (the box widens for it: it is already cut short)."""
    parts = [node.label]
    if node.kind == "iteration" and node.item_name:
        parts.append(node.item_name)
    if node.kind == "loop":
        if node.iterations is None:
            parts.append("loop")
        else:
            parts.append(plural(node.iterations, "iteration"))
        if node.parallelism:
            parts.append(f"parallelism {node.parallelism}")
    return " · ".join(parts)


def item_name(item: Any) -> str:
    """A loop item, short enough for its iteration's title: a JSON object (or a string
    holding one, as the lifecycle's trials are) by its identifying field (an id or name,
    else its first plain value), anything else as text; cut to fit. The title's tooltip
    keeps the whole item."""
    if isinstance(item, str) and item.lstrip().startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            item = json.loads(item)
    if isinstance(item, dict):
        text = _dict_name(item)
    elif isinstance(item, str):
        text = item
    else:
        text = json.dumps(item, default=str)
        if isinstance(item, list) and len(text) > _ITEM_CHARS:
            text = plural(len(item), "item")
    return cut(" ".join(text.split()), _ITEM_CHARS)


def _dict_name(item: dict[Any, Any]) -> str:
    plain = {
        str(key): value if isinstance(value, str) else json.dumps(value)
        for key, value in item.items()
        if isinstance(value, (str, int, float, bool)) and value != ""
    }
    lowered = {key.lower(): key for key in plain}
    for wanted in _ITEM_KEYS:
        if wanted in lowered:
            return plain[lowered[wanted]]
    for key, value in plain.items():
        if _ITEM_KEY_SUFFIX.search(key):
            return value
    if plain:
        key, value = next(iter(plain.items()))
        return f"{key}={value}"
    return json.dumps(item, sort_keys=True, default=str)
