"""Find a running kubeline server by asking it, never by its port alone.

A port says nothing about who listens on it: 8888 is Jupyter's as often as anyone's, and a
record left by a server that was killed may name a port that another program holds now.
So a candidate address counts only when its ``/healthz`` answers, quickly and briefly, with
JSON that says it is kubeline (``{"kubeline": {"version": ..., "instance": ...}}``, next to
KFP's own fields).

Where to ask, in order: the addresses the caller names; the servers ``kubeline server``
recorded in ``$KUBELINE_HOME/servers/`` when they started (one small JSON file per port,
removed on a clean exit; a record is believed only when the server that answers at its
address has the record's instance id, so a stale one is skipped); then the default
address, ``http://127.0.0.1:8740``.

Layer-free (standard library only) so that the CLI, the server and the notebook views can
all use it: it imports no kubeline layer.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import http.client
    import socket

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_URL",
    "find_server",
    "forget_server",
    "identity",
    "kubeline_at",
    "new_instance",
    "record_server",
]

#: kubeline's default port. Not 8888 (Jupyter's, and KFP's API service in a cluster), nor
#: any other port that common ML tools take by default; unassigned in IANA's registry
#: (8734-8749). docs/server.md says why.
DEFAULT_PORT = 8740
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"

#: A health reply is a few hundred bytes; more than this is not kubeline's.
_MAX_REPLY = 16 * 1024
_RECORDS = "servers"


def new_instance() -> str:
    """A fresh id for one server start: its health reply and its record both carry it."""
    return os.urandom(8).hex()


def identity(version: str, instance: str) -> dict[str, str]:
    """What a kubeline server adds to its ``/healthz`` reply, under the key ``kubeline``."""
    return {"version": version, "instance": instance}


def find_server(
    candidates: Iterable[str] = (),
    *,
    home: str | os.PathLike[str] | None = None,
    timeout: float = 0.5,
    default: bool = True,
) -> str | None:
    """The base URL of a running kubeline server, or ``None`` when none answers.

    Args:
        candidates: Base URLs to ask first (``http://host:port``, optionally with a path
            prefix), in order.
        home: Where ``kubeline server`` records the servers it starts; ``None`` for
            ``$KUBELINE_HOME`` or ``~/.kubeline``.
        timeout: Seconds for each address asked (connection and reply together).
        default: Ask the default address last. False for a link to something of
            ``home`` (a run's page): a server there may keep another home's runs.

    Returns:
        The first address whose ``/healthz`` says it is kubeline, without a trailing
        slash. A dead port costs a refused connection, which is immediate on this machine.
    """
    replies: dict[str, dict[str, object] | None] = {}  # each address asked once
    tries: list[tuple[str, str | None]] = [(url, None) for url in candidates]
    tries += _recorded(_home(home))
    if default:
        tries.append((DEFAULT_URL, None))
    for url, instance in tries:
        base = url.rstrip("/")
        if base not in replies:
            replies[base] = kubeline_at(base, timeout=timeout)
        reply = replies[base]
        if reply is not None and (instance is None or reply.get("instance") == instance):
            return base
    return None


def record_server(
    url: str, instance: str, *, home: str | os.PathLike[str] | None = None
) -> Path | None:
    """Write down that a server with ``instance`` answers at ``url``; returns the record,
    or None when it could not be written (a full disk or a read-only home must not stop
    the server: it is then found by its address only).

    One record per port: a server that starts on a port replaces whatever record an earlier
    server on it left behind.
    """
    port = urlsplit(url).port or 80
    folder = _home(home) / _RECORDS
    record = folder / f"{port}.json"
    document = {"url": url, "instance": instance, "pid": os.getpid()}
    partial = folder / f".{port}.{instance}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(document), encoding="utf-8")
        os.replace(partial, record)  # readers see the old record or the new one, never half
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
        return None
    return record


def forget_server(record: Path | None, instance: str) -> None:
    """Remove ``record`` if it is still this server's (another may have replaced it)."""
    if record is not None and _read_record(record).get("instance") == instance:
        with contextlib.suppress(OSError):
            record.unlink()


def _home(home: str | os.PathLike[str] | None) -> Path:
    if home is not None:
        return Path(home).expanduser()
    return Path(os.environ.get("KUBELINE_HOME") or Path.home() / ".kubeline").expanduser()


def _recorded(home: Path) -> list[tuple[str, str | None]]:
    """(url, instance) of the recorded servers, the newest record first."""
    folder = home / _RECORDS
    try:
        records = [p for p in folder.glob("*.json") if p.is_file()]
    except OSError:
        return []
    records.sort(key=_mtime, reverse=True)
    found: list[tuple[str, str | None]] = []
    for record in records[:32]:  # a few are normal; more is somebody else's folder
        document = _read_record(record)
        url, instance = document.get("url"), document.get("instance")
        if isinstance(url, str) and isinstance(instance, str) and instance:
            found.append((url, instance))
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read_record(record: Path) -> dict[str, object]:
    try:
        with record.open("rb") as f:
            document = json.loads(f.read(_MAX_REPLY))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def kubeline_at(base: str, *, timeout: float = 0.5) -> dict[str, object] | None:
    """What the kubeline server at ``base`` says of itself (``version``, ``instance``), or
    ``None`` when nothing answers there, or something that is not kubeline does."""
    import http.client  # here: it costs ``kubeline run``, which imports this module, 15 ms

    base = base.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    deadline = time.monotonic() + timeout
    connection_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_type(parts.hostname, port, timeout=timeout)
    try:
        connection.request(
            "GET", f"{parts.path.rstrip('/')}/healthz", headers={"Accept": "application/json"}
        )
        sock = connection.sock  # kept: getresponse may hand it over to the response
        response = connection.getresponse()
        if response.status != 200:
            return None
        body = _read_bounded(response, sock, deadline)
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()
    if body is None:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    mark = document.get("kubeline") if isinstance(document, dict) else None
    if isinstance(mark, dict) and isinstance(mark.get("version"), str):
        return mark
    return None


def _read_bounded(
    response: http.client.HTTPResponse, sock: socket.socket | None, deadline: float
) -> bytes | None:
    """At most :data:`_MAX_REPLY` bytes, before ``deadline``: a server that sends more, or
    sends it a byte at a time, is not the one we look for."""
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        if sock is not None:
            sock.settimeout(remaining)  # the response reads through this socket
        chunk = response.read1(4096)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > _MAX_REPLY:
            return None
        chunks.append(chunk)
