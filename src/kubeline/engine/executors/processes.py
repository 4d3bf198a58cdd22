"""A task's process as the executors see it: wait for it, stop it (terminate, then kill
after a grace period), whether it is a host process tree or a child of the fork server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Protocol

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
    """A process started on the host in a session of its own, so stopping it stops the
    whole tree it started (a shell and its commands), and a Ctrl-C in the terminal reaches
    the engine, which stops the tasks itself and records that it did."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.pid = process.pid

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _signal(self, signum: int) -> None:
        if self.process.returncode is not None:
            return
        with contextlib.suppress(OSError):
            if _POSIX:
                os.killpg(self.pid, signum)
            elif signum == signal.SIGTERM:
                self.process.terminate()
            else:
                self.process.kill()

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(getattr(signal, "SIGKILL", signal.SIGTERM))


def start_host_process(argv: list[str], env: dict[str, str], log: IO[bytes]) -> HostProcess:
    """Start ``argv`` with ``env``, its output appended to ``log``, nothing on its stdin.

    Raises:
        OSError: the program cannot be started.
    """
    options: dict[str, object] = {}
    if _POSIX:
        options["start_new_session"] = True
    else:  # pragma: no cover - Windows
        options["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    process = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        **options,  # type: ignore[call-overload]
    )
    return HostProcess(process)


def start_logged(argv: list[str], env: dict[str, str], log_path: str) -> HostProcess:
    """:func:`start_host_process` with the output appended to the task's log.

    Raises:
        StartFailed: naming the program that could not start.
    """
    if not argv:
        raise StartFailed("the task has no command to run")
    with open(log_path, "ab") as log:
        try:
            return start_host_process(argv, env, log)
        except OSError as exc:
            raise StartFailed(f"cannot start '{argv[0]}': {exc}") from exc


def wait_or_stop(
    process: TaskProcess,
    stop: threading.Event,
    grace: float = GRACE_SECONDS,
    tick: Callable[[], None] | None = None,
) -> int:
    """Wait for ``process`` to end; once ``stop`` is set, terminate it, and kill it if it
    is still there ``grace`` seconds later. Returns its exit code. ``tick`` is called
    about ten times a second meanwhile (the log's cap)."""
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
        elif time.monotonic() - asked_at >= grace:
            process.kill()
            code = process.wait(None)
            return -9 if code is None else code
