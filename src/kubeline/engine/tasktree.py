"""A task's process tree, found and ended as one: on KFP a task is a pod, and when it ends
every process in it ends; here the same holds for the processes a task started.

A task's tree is its leader's process group, what still hangs below the leader (a
process that left the group with ``setsid`` included), and, where the leader's parent is
a Linux *child subreaper*, the orphans that parent adopted and that carry the task's mark:
every task process is started with :data:`MARK` in its environment, which its children
inherit. The fork server is such a parent for forked tasks; a host task gets one of its
own, this module run as a script (``python -I tasktree.py --grace S -- COMMAND...``), which
also ends the tree when the engine that started it dies (its stdin, a pipe from the
engine, closes). On macOS there is no subreaper: the group, the live descendants and the
marked processes are what is found. Windows uses a Job object instead (:mod:`.winjob`).

This module imports only the standard library (psutil where /proc is missing), so it runs
as a plain script under the engine's interpreter without importing kubeline.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "MARK",
    "TaskTree",
    "become_subreaper",
    "children",
    "descendants",
    "end_marked",
    "leader_command",
    "mark_of",
]

#: The environment variable every task process carries: the task's root folder.
MARK = "KUBELINE_TASK_MARK"
_LINUX = sys.platform.startswith("linux")
_PR_SET_CHILD_SUBREAPER = 36
_SIGKILL = getattr(signal, "SIGKILL", signal.SIGTERM)


def become_subreaper() -> bool:
    """Make this process adopt the orphans of its descendants (Linux only); True if it did."""
    if not _LINUX:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _psutil() -> Any:
    try:
        import psutil
    except ImportError:  # pragma: no cover - a dependency of kubeline
        return None
    return psutil


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def children(pid: int) -> list[int]:
    """The live or zombie children of ``pid``."""
    if _LINUX:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return []
        found: list[int] = []
        for tid in threads:
            data = _read(f"/proc/{pid}/task/{tid}/children")
            if data:
                found.extend(int(word) for word in data.split())
        return found
    psutil = _psutil()
    if psutil is None:  # pragma: no cover
        return []
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except (psutil.Error, OSError):
        return []


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), wherever its group or session."""
    found: list[int] = []
    queue = [pid]
    seen = {pid}
    while queue and len(found) < 100_000:
        for child in children(queue.pop()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                queue.append(child)
    return found


def alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie."""
    if _LINUX:
        data = _read(f"/proc/{pid}/stat")
        if data is None:
            return False
        # "pid (comm) S ...": the state follows the last ')' (comm may hold one).
        return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] not in (b"Z", b"X")
    psutil = _psutil()
    if psutil is None:  # pragma: no cover
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except (psutil.Error, OSError):
        return False


def mark_of(pid: int) -> str | None:
    """The task mark in ``pid``'s environment (None: none, or not readable)."""
    if _LINUX:
        data = _read(f"/proc/{pid}/environ")
        if not data:
            return None
        prefix = MARK.encode() + b"="
        for item in data.split(b"\0"):
            if item.startswith(prefix):
                return item[len(prefix) :].decode("utf-8", "replace")
        return None
    psutil = _psutil()
    if psutil is None:  # pragma: no cover
        return None
    try:
        value = psutil.Process(pid).environ().get(MARK)
    except (psutil.Error, OSError):
        return None
    return value if isinstance(value, str) else None


def _all_pids() -> Iterable[int]:
    if _LINUX:
        with contextlib.suppress(OSError):
            return [int(name) for name in os.listdir("/proc") if name.isdigit()]
        return []
    psutil = _psutil()
    return [] if psutil is None else psutil.pids()


def end_marked(prefixes: Iterable[str]) -> list[int]:
    """Kill every process whose mark starts with one of ``prefixes`` (the folders of runs a
    dead engine left behind), with its group; the pids found."""
    wanted = tuple(prefix for prefix in prefixes if prefix)
    if not wanted or os.name != "posix":
        return []
    me = os.getpid()
    found = []
    for pid in _all_pids():
        mark = mark_of(pid) if pid != me else None
        if mark is not None and mark.startswith(wanted):
            found.append(pid)
            _signal_group_of(pid, _SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(pid, _SIGKILL)
    return found


def _signal_group_of(pid: int, signum: int) -> None:
    """Signal ``pid``'s process group, unless it is this process's own."""
    with contextlib.suppress(OSError):
        group = os.getpgid(pid)
        if group != os.getpgrp():
            os.killpg(group, signum)


class TaskTree:
    """One task's processes, seen from its leader's parent.

    ``group`` is the leader's process group (the leader's pid); ``mark`` picks this task's
    orphans among what this process adopted as a subreaper (None: every adopted process
    that is not one of ``others``, for a parent with one task).
    """

    def __init__(self, leader: int, mark: str | None, others: Callable[[], set[int]]) -> None:
        self.leader = leader
        self.mark = mark
        self._others = others

    def _adopted(self) -> list[int]:
        others = self._others()
        found = []
        for pid in children(os.getpid()):
            if pid == self.leader or pid in others:
                continue
            if self.mark is None or mark_of(pid) == self.mark:
                found.append(pid)
        return found

    def _marked(self) -> list[int]:
        """Without a subreaper (macOS), an orphan is found by its mark among all processes."""
        if _LINUX or not self.mark:
            return []
        me = os.getpid()
        return [p for p in _all_pids() if p != me and mark_of(p) == self.mark]

    def members(self) -> list[int]:
        """The tree's live processes outside its group (the group is signalled whole)."""
        roots = [self.leader, *self._adopted(), *self._marked()]
        found: dict[int, None] = {}
        for root in roots:
            for pid in (root, *descendants(root)):
                if pid not in found and alive(pid) and not _in_group(pid, self.leader):
                    found[pid] = None
        return list(found)

    def signal(self, signum: int) -> bool:
        """Send ``signum`` to every process of the tree, once each; True if any was there."""
        any_there = False
        with contextlib.suppress(OSError):
            os.killpg(self.leader, signum)
            any_there = True
        for pid in self.members():
            with contextlib.suppress(OSError):
                os.kill(pid, signum)
                any_there = True
        return any_there

    def end(self, reap: Callable[[], None], timeout: float = 5.0) -> None:
        """Kill what is left of the tree until nothing is (the leader has ended): what was
        killed is reaped by ``reap`` (this process adopts the orphans it makes)."""
        deadline = time.monotonic() + timeout
        delay = 0.001
        while self.signal(_SIGKILL) and time.monotonic() < deadline:
            reap()
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        reap()


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except OSError:
        return False


def leader_command(argv: list[str], grace: float) -> list[str]:
    """The command that runs ``argv`` under a leader of its own (POSIX)."""
    return [sys.executable, "-I", os.path.abspath(__file__), "--grace", f"{grace:g}", "--", *argv]


# ---------------------------------------------------------------- the leader, as a script
class _Leader:  # pragma: no cover - runs in its own process (tests/engine/test_process_tree.py)
    """Runs one host task's command in a process group of its own and stays its parent:
    stop (SIGTERM, SIGINT, SIGHUP) = SIGTERM to the tree, ``grace`` seconds, then SIGKILL;
    SIGUSR1 kills at once; when the command ends, or the engine's pipe on stdin closes,
    what is left of the tree is ended. Exits as the command did."""

    def __init__(self, argv: list[str], grace: float) -> None:
        self.argv, self.grace = argv, grace
        self.stop_at: float | None = None
        self.force = False
        self.signals: list[int] = []

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signals.append(signum)

    def run(self) -> int:
        become_subreaper()
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(signum, self._on_signal)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        try:
            process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            print(f"kubeline: cannot start '{self.argv[0]}': {exc}", file=sys.stderr, flush=True)
            return 127
        # Everything this subreaper adopts is the task's; elsewhere its mark finds orphans.
        tree = TaskTree(process.pid, None if _LINUX else os.environ.get(MARK), set)
        engine = sys.stdin.fileno()
        watched = [wake_r, engine]
        while True:
            code = process.poll()
            if code is not None:
                break
            self._handle(tree)
            timeout = 0.5 if self.stop_at is None else 0.05
            readable, _, _ = select.select(watched, [], [], timeout)
            if wake_r in readable:
                with contextlib.suppress(OSError):
                    os.read(wake_r, 4096)
            if engine in readable and not os.read(engine, 4096):
                watched.remove(engine)  # the engine is gone: stop the task
                self.signals.append(signal.SIGTERM)
            self._reap(process.pid)
        tree.end(lambda: self._reap(process.pid))
        return code

    def _handle(self, tree: TaskTree) -> None:
        while self.signals:
            signum = self.signals.pop(0)
            if signum == signal.SIGUSR1:
                self.force = True
            elif self.stop_at is None:  # asked again: the grace period already runs
                self.stop_at = time.monotonic() + self.grace
                tree.signal(signal.SIGTERM)
        if self.force or (self.stop_at is not None and time.monotonic() >= self.stop_at):
            tree.signal(_SIGKILL)

    @staticmethod
    def _reap(leader: int) -> None:
        """Reap the orphans this subreaper adopted (the command is Popen's to reap)."""
        for pid in children(os.getpid()):
            if pid != leader:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)


def _main(args: list[str]) -> int:  # pragma: no cover - runs in its own process
    grace = 5.0
    if args[:1] == ["--grace"] and len(args) > 1:
        grace = float(args[1])
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: tasktree.py [--grace SECONDS] -- COMMAND...", file=sys.stderr)
        return 2
    code = _Leader(args, grace).run()
    sys.stdout.flush()
    if code < 0:  # end as the command ended: killed by the same signal
        with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1:]))
