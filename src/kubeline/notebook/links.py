"""Links from a notebook view to the run in ``kubeline ui``, when a kubeline server answers.

The server is found by asking it (:func:`kubeline.discovery.find_server`: its ``/healthz``
says it is kubeline), never by a port alone; each answer is kept a few seconds, so a cell
that shows many records asks once.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

from kubeline.discovery import find_server

__all__ = ["run_link", "server_url"]

_KEEP_SECONDS = 10.0
_found: dict[str, tuple[float, str | None]] = {}


def server_url(home: Path | None = None) -> str | None:
    """The base URL of a kubeline server running for ``home`` (default: kubeline's home),
    or None; asked at most every 10 seconds."""
    key = str(home or "")
    now = time.monotonic()
    kept = _found.get(key)
    if kept is not None and now - kept[0] < _KEEP_SECONDS:
        return kept[1]
    try:
        url = find_server(home=home, timeout=0.3, default=False)
    except Exception:  # noqa: BLE001 - a view must render whatever the network does
        url = None
    _found[key] = (now, url)
    return url


def run_link(run_id: str, home: Path | None = None) -> str | None:
    """The run's page in ``kubeline ui``, or None when no server answers."""
    base = server_url(home)
    return f"{base}/runs/{quote(run_id, safe='')}" if base else None
