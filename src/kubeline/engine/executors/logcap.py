"""A cap on each task's log: past it, the middle of the log is cut, its head and its tail
kept, and a line says how much was cut.

The task's process writes its log itself (a fd opened with ``O_APPEND``, by the forked
child, the spawned interpreter or the host command), so the cap is kept from outside:
while the task runs, the executor's thread looks at the log's size a few times a second
and, past the cap, rewrites the part after the head (the line, then the last bytes) and
truncates the file there. Appends go to the file's end, so the task keeps writing after
the cut. Nothing is held in memory beyond one tail; what the task writes in the few
microseconds between the last look and the truncation can be lost.
"""

from __future__ import annotations

import contextlib
import os
from typing import BinaryIO

__all__ = ["DEFAULT_LOG_CAP_MB", "LOG_CAP_ENV", "LogCap", "log_cap_bytes"]

#: The default cap of one task's log, in MB.
DEFAULT_LOG_CAP_MB = 50.0
#: The environment variable that sets it (MB; 0 for no cap).
LOG_CAP_ENV = "KUBELINE_LOG_CAP_MB"
_MB = 1024 * 1024
_CHUNK = 1024 * 1024


def log_cap_bytes(cap_mb: float | None = None) -> int:
    """The cap in bytes: ``cap_mb``, else ``$KUBELINE_LOG_CAP_MB``, else 50 MB; 0 means
    none.

    Raises:
        ValueError: the variable is not a number of MB.
    """
    if cap_mb is None:
        text = os.environ.get(LOG_CAP_ENV, "").strip()
        try:
            cap_mb = float(text) if text else DEFAULT_LOG_CAP_MB
        except ValueError:
            raise ValueError(
                f"{LOG_CAP_ENV}={text!r} is not a size in MB (e.g. 50, or 0 for no cap)"
            ) from None
    return max(0, int(cap_mb * _MB))


class LogCap:
    """Keeps one log under ``cap`` bytes (give or take what is written between looks).

    Args:
        path: the log.
        cap: its cap in bytes (0: no cap, :meth:`check` does nothing).
    """

    def __init__(self, path: str, cap: int) -> None:
        self.path = path
        self.cap = cap
        self.head = cap // 2
        self.tail = max(0, cap - self.head - 200)  # room for the line
        # Cut only once the log is this far over, so a chatty task is not cut at every look.
        self.slack = max(cap // 10, 64 * 1024)
        self.cut = 0  # bytes cut so far

    def check(self) -> None:
        """Cut the log's middle if it is over its cap (never raises)."""
        if self.cap <= 0:
            return
        with contextlib.suppress(OSError):
            if os.path.getsize(self.path) > self.cap + self.slack:
                self._cut()

    def finish(self) -> None:
        """After the task ended: bring the log under its cap for good."""
        if self.cap <= 0:
            return
        with contextlib.suppress(OSError):
            if os.path.getsize(self.path) > self.cap:
                self._cut()

    def _line(self) -> bytes:
        return (
            f"\n--- kubeline: {self.cut / _MB:.1f} MB cut from the middle of this log "
            f"(cap {self.cap / _MB:g} MB, {LOG_CAP_ENV}) ---\n"
        ).encode()

    def _cut(self) -> None:
        # A file object, not os.pread/pwrite: those do not exist on Windows.
        with open(self.path, "r+b", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            start = max(self.head, size - self.tail)  # where the kept tail begins
            old_line = len(self._line()) if self.cut else 0
            self.cut += start - self.head - old_line
            line = self._line()
            f.seek(self.head)
            _write_all(f, line)
            where = self.head + len(line)
            # Move the tail down in chunks (never all of it in memory); then whatever the
            # task appended meanwhile, until the size stops moving, then truncate.
            read_at = start
            while True:
                end = os.fstat(f.fileno()).st_size
                while read_at < end:
                    f.seek(read_at)
                    data = f.read(min(_CHUNK, end - read_at))
                    if not data:
                        break
                    f.seek(where)
                    _write_all(f, data)
                    read_at += len(data)
                    where += len(data)
                if os.fstat(f.fileno()).st_size == end:
                    f.truncate(where)
                    return


def _write_all(f: BinaryIO, data: bytes) -> None:
    """Write all of ``data`` (an unbuffered file may take part of it)."""
    view = memoryview(data)
    while view:
        written = f.write(view)
        if not written:
            raise OSError("the log took no bytes")
        view = view[written:]
