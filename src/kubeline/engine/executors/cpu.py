"""How much CPU a running task's processes use, read without a Linux-only dependency.

A :class:`CpuProbe` gives the CPU seconds a process and its descendants have used so far.
On Linux it reads ``/proc``; elsewhere it uses psutil when that is installed; with neither,
:func:`default_probe` is None and admission stays at the core count (no measurement, no
guess).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Protocol

__all__ = ["CpuProbe", "ProcProbe", "PsutilProbe", "default_probe"]


class CpuProbe(Protocol):
    def cpu_seconds(self, pid: int) -> float | None:
        """CPU seconds (user + system) used by ``pid`` and its living and waited-for
        descendants; None once it is gone."""


class ProcProbe:
    """Linux: ``/proc/<pid>/stat`` of the process and its descendants (found through
    ``/proc/<pid>/task/<tid>/children``)."""

    def __init__(self) -> None:
        self._tick = float(os.sysconf("SC_CLK_TCK"))

    def _ticks(self, pid: int) -> int | None:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return None
        # The command name may hold spaces and parentheses: count after its last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        # utime, stime, cutime, cstime are fields 14-17 (1-based, the pid being field 1).
        return sum(int(x) for x in fields[11:15])

    @staticmethod
    def _children(pid: int) -> list[int]:
        found: list[int] = []
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children") as f:
                    found.extend(int(x) for x in f.read().split())
        return found

    def cpu_seconds(self, pid: int) -> float | None:
        total = self._ticks(pid)
        if total is None:
            return None
        todo, seen = self._children(pid), {pid}
        while todo and len(seen) < 256:  # a fork bomb must not make sampling slow
            child = todo.pop()
            if child in seen:
                continue
            seen.add(child)
            total += self._ticks(child) or 0
            todo.extend(self._children(child))
        return total / self._tick


class PsutilProbe:
    """Anywhere psutil is installed (it is not a dependency of kubeline)."""

    def __init__(self, psutil: Any) -> None:
        self._psutil = psutil

    def cpu_seconds(self, pid: int) -> float | None:
        try:
            process = self._psutil.Process(pid)
            processes = [process, *process.children(recursive=True)]
        except (self._psutil.Error, OSError):
            return None
        total = 0.0
        for each in processes:
            with contextlib.suppress(self._psutil.Error, OSError):
                times = each.cpu_times()
                total += times.user + times.system
        return total


def _has_proc_children() -> bool:
    pid = os.getpid()
    return os.path.exists(f"/proc/{pid}/stat") and os.path.exists(
        f"/proc/{pid}/task/{pid}/children"
    )


def default_probe() -> CpuProbe | None:
    """The best probe this machine has, or None when it has none."""
    if _has_proc_children():
        with contextlib.suppress(ValueError, OSError):
            return ProcProbe()
    try:
        import psutil  # type: ignore[import-untyped]  # optional, not a dependency
    except ImportError:
        return None
    return PsutilProbe(psutil)
