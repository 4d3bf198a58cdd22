"""Which processes a test's KUBELINE_HOME left running, read from Linux's /proc.

A task process carries ``KUBELINE_TASK_MARK`` (its task's folder, under the run's folder in
KUBELINE_HOME), and so do its children, which inherit the environment. A process that
dropped its environment is still found when its command line names a path in the home (the
chaos pipelines' grandchildren name their output file). And a process of a killed engine
(its fork server, a host task's leader) is a kubeline program with ``KUBELINE_HOME`` set to
the test's home while no live engine is its ancestor (a database server the test started
has the home in its environment too, but is no kubeline program).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Leftover", "kill_all", "leftovers", "wait_for_none"]

TASK_MARK = "KUBELINE_TASK_MARK"
#: A command line of kubeline's own: ``python -m kubeline...`` (the CLI, the server, the
#: fork server) or a script of its engine (a host task's leader).
KUBELINE_PROGRAM = re.compile(r"-m kubeline\b|kubeline[/\\]engine[/\\]")
PROC = Path("/proc")


@dataclass(frozen=True)
class Leftover:
    """A process the home left behind, and why it counts as one."""

    pid: int
    ppid: int
    why: str
    cmdline: str

    @property
    def run_id(self) -> str | None:
        """The run whose folder the process names (its mark, else its command line)."""
        found = re.search(r"[/\\]runs[/\\]([^/\\ ]+)", self.why + " " + self.cmdline)
        return found.group(1) if found else None

    def __str__(self) -> str:
        return f"pid {self.pid} (ppid {self.ppid}, {self.why}): {self.cmdline[:200]}"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:  # gone, or not ours to read
        return None


def _stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and parent pid (``None`` when it is gone)."""
    raw = _read(PROC / str(pid) / "stat")
    if raw is None:
        return None
    # "pid (comm) S ppid ...": comm may hold spaces and parentheses; the last ")" ends it.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1])


def _environ(pid: int) -> dict[str, str]:
    raw = _read(PROC / str(pid) / "environ") or b""
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def _descendants(roots: set[int], parents: dict[int, int]) -> set[int]:
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def leftovers(home: Path, *, engines: Collection[int] = (), busy: bool = False) -> list[Leftover]:
    """The processes ``home`` left behind: task processes of any engine (no run is active
    when this is asked), and any process of an engine that is gone.

    ``engines`` are the pids of the engines still alive (the running server): they and
    their descendants without a task mark (a fork server kept warm) are not left over.
    ``busy``: those engines may still run tasks, so their task processes are not left over
    either; what is found then is what engines that are gone left behind (a process
    orphaned by a killed engine is adopted by init, never by another engine).
    Zombies are skipped: they hold no resources but a pid, and their parent reaps them.
    """
    prefix = str(home)
    parents: dict[int, int] = {}
    states: dict[int, str] = {}
    for pid in _pids():
        stat = _stat(pid)
        if stat is not None:
            states[pid], parents[pid] = stat
    alive_engines = _descendants(set(engines), parents)
    mine = {os.getpid()}
    found = []
    for pid, ppid in parents.items():
        if pid in mine or states.get(pid) in ("Z", "X") or (busy and pid in alive_engines):
            continue
        env = _environ(pid)
        cmdline = (
            (_read(PROC / str(pid) / "cmdline") or b"")
            .replace(b"\0", b" ")
            .decode(errors="replace")
        )
        mark = env.get(TASK_MARK, "")
        if mark.startswith(prefix):
            why = f"{TASK_MARK}={mark}"
        elif prefix in cmdline:
            why = "its command line names the home"
        elif (
            env.get("KUBELINE_HOME") == prefix
            and KUBELINE_PROGRAM.search(cmdline)
            and pid not in alive_engines
        ):
            why = "a kubeline process on the home with no live engine as its ancestor"
        else:
            continue
        found.append(Leftover(pid, ppid, why, cmdline.strip()))
    return found


def wait_for_none(
    home: Path, seconds: float, *, engines: Collection[int] = (), busy: bool = False
) -> list[Leftover]:
    """Poll until ``home`` leaves no process (empty list), or return what is still there
    after ``seconds``: processes being ended need a moment to go."""
    deadline = time.monotonic() + seconds
    while True:
        found = leftovers(home, engines=engines, busy=busy)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def kill_all(found: list[Leftover]) -> None:
    """SIGKILL what a failed check found, so it does not outlive the test."""
    for process in found:
        with contextlib.suppress(OSError):  # gone already
            os.kill(process.pid, signal.SIGKILL)
