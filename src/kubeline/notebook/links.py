"""Links from a notebook view to the run in ``kubeline ui``, when a kubeline server answers.

The server is found by asking it (:func:`kubeline.discovery.find_server`: its ``/healthz``
says it is kubeline), never by a port alone; the answer is kept a few seconds, so a cell
that shows many records asks once.
"""

from __future__ import annotations

import time
from urllib.parse import quote

__all__ = ["run_link", "server_url"]

_KEEP_SECONDS = 10.0
_found: tuple[float, str | None] | None = None


def server_url() -> str | None:
    """The base URL of a running kubeline server, or None (asked at most every 10 s)."""
    global _found
    now = time.monotonic()
    if _found is not None and now - _found[0] < _KEEP_SECONDS:
        return _found[1]
    try:
        from kubeline.discovery import find_server
    except ImportError:  # a kubeline without server discovery: no links
        url = None
    else:
        try:
            url = find_server(timeout=0.3)
        except Exception:  # noqa: BLE001 - a view must render whatever the network does
            url = None
    _found = (now, url)
    return url


def run_link(run_id: str) -> str | None:
    """The run's page in ``kubeline ui``, or None when no server answers."""
    base = server_url()
    return f"{base}/runs/{quote(run_id, safe='')}" if base else None
