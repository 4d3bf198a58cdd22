"""A full disk as a clear failure: how the engine recognises one (an ENOSPC from a task or
a store write), what it says about it, and the small reserve it frees so it can still
record the failure.

A run whose store write fails on a full disk must not be left RUNNING with a raw
database error: the engine frees its reserve file in ``KUBELINE_HOME``, writes the run's
end, and says how full the disk is. When even that fails, the run stays RUNNING until
the next engine start marks it FAILED (orphan recovery), and the error says so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from kubeline.errors import RunFailedError

__all__ = [
    "RESERVE_BYTES",
    "RESERVE_FILE",
    "DiskFullError",
    "DiskGuard",
    "free_mb",
    "is_disk_full",
    "mentions_disk_full",
]

#: What the engine keeps aside in KUBELINE_HOME to record a run's end on a full disk.
RESERVE_BYTES = 2 * 1024 * 1024
RESERVE_FILE = ".kubeline-space-reserve"
#: Under this much free space the home's disk counts as full.
_FULL_BELOW = 1024 * 1024
# What a full disk says through SQLite, PostgreSQL and the C library.
_TEXTS = (
    "database or disk is full",
    "no space left on device",
    "disk quota exceeded",
    "could not extend file",
)
_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class DiskFullError(RunFailedError):
    """The disk holding KUBELINE_HOME is full (CLI exit 1, like a failed run)."""


def mentions_disk_full(text: str | None) -> bool:
    """Whether an error's text says a disk is full."""
    lowered = (text or "").lower()
    return any(t in lowered for t in _TEXTS) or "[errno 28]" in lowered


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it, e.g. a DBAPI error under SQLAlchemy's) is a full
    disk."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DiskFullError):
            return True
        if isinstance(current, OSError) and current.errno in _ERRNOS:
            return True
        if mentions_disk_full(str(current)):
            return True
        orig = getattr(current, "orig", None)  # SQLAlchemy's DBAPIError
        todo += [current.__cause__, current.__context__]
        if isinstance(orig, BaseException):
            todo.append(orig)
    return False


def free_mb(path: Path) -> float:
    """Free space (MB) on the disk holding ``path`` (-1 when it cannot be read)."""
    try:
        return shutil.disk_usage(path).free / (1024 * 1024)
    except OSError:
        return -1.0


class DiskGuard:
    """The home's disk as one run sees it: its reserve, and whether it was found full."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.reserve = home / RESERVE_FILE
        self.was_full = False
        self._free_at_full: float | None = None

    def keep_reserve(self) -> None:
        """Set the reserve aside if it is not there (never fails: no room, no reserve)."""
        with contextlib.suppress(OSError):
            if self.reserve.is_file() and self.reserve.stat().st_size >= RESERVE_BYTES:
                return
            if shutil.disk_usage(self.home).free < 4 * RESERVE_BYTES:
                return
            fd = os.open(self.reserve, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                if hasattr(os, "posix_fallocate"):
                    os.posix_fallocate(fd, 0, RESERVE_BYTES)
                else:  # pragma: no cover - macOS, Windows
                    os.write(fd, b"\0" * RESERVE_BYTES)
            except OSError:
                os.close(fd)
                with contextlib.suppress(OSError):
                    self.reserve.unlink()
                return
            os.close(fd)

    def full(self) -> bool:
        """The disk was found full: note how much was free and free the reserve; whether
        the reserve was there to free (a write worth trying again)."""
        if not self.was_full:
            self.was_full = True
            self._free_at_full = free_mb(self.home)
        try:
            self.reserve.unlink()
        except OSError:
            return False
        return True

    def looks_full(self) -> bool:
        """Whether the disk was found full during the run, or is nearly full now."""
        if self.was_full:
            return True
        free = free_mb(self.home)
        return 0 <= free < _FULL_BELOW / (1024 * 1024)

    def message(self) -> str:
        """``the disk holding KUBELINE_HOME is full: N MB free`` (as it was when found full)."""
        free = self._free_at_full if self._free_at_full is not None else free_mb(self.home)
        amount = f"{max(free, 0.0):.1f} MB free" if free >= 0 else "free space unknown"
        return f"the disk holding KUBELINE_HOME ({self.home}) is full: {amount}"

    def error(self, what: str, exc: BaseException | None = None) -> DiskFullError:
        """The error to raise when ``what`` could not be written even so."""
        detail = f" ({_first_line(exc)})" if exc is not None else ""
        return DiskFullError(f"{_capital(self.message())}: {what}{detail}.")


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if isinstance(orig, BaseException) else exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
