"""A task's process as the executors see it: wait for it, stop it (terminate, then kill
after a grace period), whether it is a host process tree or a child of the fork server.
Either way the task is its whole process tree (:mod:`.tree`)."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Protocol

from kubeline.engine.executors.winjob import WindowsJob, attach_job
from kubeline.engine.tasktree import leader_command

__all__ = [
    "GRACE_SECONDS",
    "HostProcess",
    "StartFailed",
    "TaskProcess",
    "start_host_process",
    "start_logged",
    "wait_or_stop",
]

#: How long a task has to end after it is asked to stop, before it is killed.
GRACE_SECONDS = 5.0
_POSIX = os.name == "posix"


class StartFailed(Exception):
    """The task's process could not be started; the message says why."""


class TaskProcess(Protocol):
    """What an executor needs of a running task."""

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit code once it ended (< 0: the signal that killed it), else None."""

    def terminate(self) -> None:
        """Ask it (and what it started) to end."""

    def kill(self) -> None:
        """End it (and what it started) now."""


class HostProcess:
    """A task started on the host with its process tree in hand.

    On POSIX the command runs under a leader of its own (:mod:`kubeline.engine.tasktree`),
    in a session of its own: a Ctrl-C in the terminal reaches only the engine, which stops
    the tasks itself and records that it did; the leader ends the whole tree when asked,
    when the command ends, and when the engine dies. On Windows a Job object holds the tree
    (:mod:`.winjob`).
    """

    def __init__(self, process: subprocess.Popen[bytes], job: WindowsJob | None = None) -> None:
        self.process = process
        self.pid = process.pid
        self._job = job
        # Where Linux has one, a descriptor that becomes readable the moment the process
        # ends: waiting with a timeout then wakes at once, not at Popen's next poll (up to
        # 50 ms later, on every task).
        self._ended: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self._ended = os.pidfd_open(process.pid)

    def wait(self, timeout: float | None = None) -> int | None:
        if timeout is not None and self._ended is not None and self.process.returncode is None:
            with contextlib.suppress(OSError, ValueError):
                ready, _, _ = select.select([self._ended], [], [], timeout)
                if not ready:
                    return None
                timeout = 5.0  # it ended: Popen reaps it now
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        if self._ended is not None:
            with contextlib.suppress(OSError):
                os.close(self._ended)
            self._ended = None
        if self.process.stdin is not None:  # the leader's pipe from the engine
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        if self._job is not None:  # what the task left running ends with it
            self._job.terminate()
            self._job.close()
            self._job = None
        return code

    def _signal(self, signum: int) -> None:
        if self.process.returncode is not None:
            return
        with contextlib.suppress(OSError):
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        """Ask the tree to end: the leader sends SIGTERM to it and kills it after its grace
        (Windows: a CTRL_BREAK to the process group is not reliable, so the Job ends)."""
        if _POSIX:
            self._signal(signal.SIGTERM)
        elif self._job is not None:  # pragma: no cover - Windows
            self._job.terminate()
        else:  # pragma: no cover - Windows without a Job
            self.process.terminate()

    def kill(self) -> None:
        """End the tree now. Should the leader itself not end, its group is killed."""
        if not _POSIX:  # pragma: no cover - Windows
            if self._job is not None:
                self._job.terminate()
            self.process.kill()
            return
        self._signal(signal.SIGUSR1)
        if self.wait(_LEADER_SECONDS) is None:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)


#: How long the leader has to end the tree once told to kill it, before it is killed too.
_LEADER_SECONDS = 3.0


def _find_program(argv: list[str], env: dict[str, str]) -> None:
    """Raise the OSError starting ``argv`` would raise when its program is missing (the
    leader would only say so in the log)."""
    program = argv[0]
    if os.path.dirname(program):
        found: str | None = program if os.path.isfile(program) else None
    else:
        found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", program)
    if not os.access(found, os.X_OK):
        raise PermissionError(errno.EACCES, "Permission denied", program)


def start_host_process(
    argv: list[str], env: dict[str, str], log: IO[bytes], grace: float = GRACE_SECONDS
) -> HostProcess:
    """Start ``argv`` with ``env``, its output appended to ``log``, nothing on its stdin;
    ``grace``: seconds its tree has to end once asked, before it is killed.

    Raises:
        OSError: the program cannot be started.
    """
    if _POSIX:
        _find_program(argv, env)
        # The leader's stdin is a pipe nobody writes to: it closes when the engine dies.
        leader = subprocess.Popen(
            leader_command(argv, grace),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        return HostProcess(leader)
    process = subprocess.Popen(  # pragma: no cover - Windows
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
    )
    return HostProcess(process, attach_job(process))  # pragma: no cover - Windows


def start_logged(
    argv: list[str], env: dict[str, str], log_path: str, grace: float = GRACE_SECONDS
) -> HostProcess:
    """:func:`start_host_process` with the output appended to the task's log.

    Raises:
        StartFailed: naming the program that could not start.
    """
    if not argv:
        raise StartFailed("the task has no command to run")
    with open(log_path, "ab") as log:
        try:
            return start_host_process(argv, env, log, grace)
        except OSError as exc:
            raise StartFailed(f"cannot start '{argv[0]}': {exc}") from exc


def wait_or_stop(
    process: TaskProcess,
    stop: threading.Event,
    grace: float = GRACE_SECONDS,
    tick: Callable[[], None] | None = None,
    force: threading.Event | None = None,
) -> int:
    """Wait for ``process`` to end; once ``stop`` is set, terminate it, and kill it if it
    is still there ``grace`` seconds later, or as soon as ``force`` is set. Returns its
    exit code. ``tick`` is called about ten times a second meanwhile (the log's cap)."""
    asked_at: float | None = None
    while True:
        code = process.wait(0.1 if asked_at is None else 0.05)
        if code is not None:
            return code
        if tick is not None:
            tick()
        if not stop.is_set():
            continue
        if asked_at is None:
            asked_at = time.monotonic()
            process.terminate()
        elif time.monotonic() - asked_at >= grace or (force is not None and force.is_set()):
            process.kill()
            code = process.wait(None)
            return -9 if code is None else code
