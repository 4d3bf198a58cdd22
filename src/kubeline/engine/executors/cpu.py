"""How much CPU a running task's processes want, read without a Linux-only dependency.

A :class:`CpuProbe` gives the seconds a process and its descendants have spent running or
ready to run. On Linux it reads ``/proc/<pid>/task/<tid>/schedstat`` (time on a CPU plus
time waiting in the run queue: a task that computes counts as a whole core even while
other programs keep the machine busy, where its CPU time alone would make it look idle);
elsewhere it uses psutil's CPU times; where psutil cannot read them either,
:func:`default_probe` is None and admission stays at the core count (no measurement, no
guess).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Protocol

__all__ = ["CpuProbe", "ProcProbe", "PsutilProbe", "default_probe"]


class CpuProbe(Protocol):
    def busy_seconds(self, pid: int) -> float | None:
        """Seconds ``pid`` and its descendants have run (or waited for a CPU, where the
        OS tells); None once it is gone."""


class ProcProbe:
    """Linux: the scheduler's statistics of every thread of the process and of its
    descendants (found through ``/proc/<pid>/task/<tid>/children``)."""

    @staticmethod
    def _seconds(pid: int) -> float | None:
        total = 0
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return None
        for tid in threads:
            with (
                contextlib.suppress(OSError, ValueError),
                open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f,
            ):
                running, waiting = f.read().split()[:2]
                total += int(running) + int(waiting)
        return total / 1e9

    @staticmethod
    def _children(pid: int) -> list[int]:
        found: list[int] = []
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children") as f:
                    found.extend(int(x) for x in f.read().split())
        return found

    def busy_seconds(self, pid: int) -> float | None:
        total = self._seconds(pid)
        if total is None:
            return None
        todo, seen = self._children(pid), {pid}
        while todo and len(seen) < 256:  # a fork bomb must not make sampling slow
            child = todo.pop()
            if child in seen:
                continue
            seen.add(child)
            total += self._seconds(child) or 0.0
            todo.extend(self._children(child))
        return total


class PsutilProbe:
    """Where /proc cannot be read: psutil's CPU times of the task's processes."""

    def __init__(self, psutil: Any) -> None:
        self._psutil = psutil

    def busy_seconds(self, pid: int) -> float | None:
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


def _has_proc_schedstat() -> bool:
    pid = os.getpid()
    return os.path.exists(f"/proc/{pid}/task/{pid}/schedstat") and os.path.exists(
        f"/proc/{pid}/task/{pid}/children"
    )


def default_probe() -> CpuProbe | None:
    """The best probe this machine has, or None when it has none."""
    if _has_proc_schedstat():
        return ProcProbe()
    try:
        import psutil
    except ImportError:
        return None
    return PsutilProbe(psutil)
