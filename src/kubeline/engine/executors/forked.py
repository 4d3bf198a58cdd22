"""Lightweight Python components, each in a child forked from the warm fork server
(:mod:`kubeline.engine.forkserver`): a task costs a ``fork``, not an interpreter start-up
and its imports."""

from __future__ import annotations

import signal
import threading
from dataclasses import replace

from kubeline.engine.executors.admission import RunAdmission
from kubeline.engine.executors.processes import GRACE_SECONDS, TaskProcess
from kubeline.engine.executors.threaded import ThreadedExecutor
from kubeline.engine.forkserver import ForkedTask, ForkServerClient
from kubeline.engine.leaf import LeafJob
from kubeline.engine.preload import DEFAULT_PRELOAD, importable
from kubeline.engine.taskenv import without_secrets

__all__ = ["ForkedExecutor"]


class _ForkedProcess:
    """A forked child, stopped through the server that forked it."""

    def __init__(self, task: ForkedTask) -> None:
        self.task = task

    def wait(self, timeout: float | None = None) -> int | None:
        return self.task.wait(timeout)

    def terminate(self) -> None:
        self.task.signal(signal.SIGTERM)

    def kill(self) -> None:
        self.task.signal(getattr(signal, "SIGKILL", signal.SIGTERM))


class ForkedExecutor(ThreadedExecutor):
    """Runs ``python`` jobs (no interpreter of their own) in children of a fork server.

    The server is the one given, or one started on the first job with ``preload``
    imported; either way this executor closes it (a run's server ends with its run).
    """

    def __init__(
        self,
        admission: RunAdmission,
        preload: list[str] | None = None,
        fork_server: ForkServerClient | None = None,
        grace: float = GRACE_SECONDS,
    ) -> None:
        super().__init__(admission, grace)
        self._preload = preload
        self._server = fork_server
        self._server_lock = threading.Lock()

    def server(self) -> ForkServerClient:
        with self._server_lock:
            if self._server is None:
                self._server = ForkServerClient(
                    importable([*DEFAULT_PRELOAD, *(self._preload or [])])
                )
            return self._server

    def _start(self, job: LeafJob) -> TaskProcess:
        # The server's environment has no secrets; the job's own variables may not add any.
        return _ForkedProcess(self.server().start(replace(job, env=without_secrets(job.env))))

    def _pid(self, process: TaskProcess) -> int | None:
        assert isinstance(process, _ForkedProcess)
        return process.task.wait_started(timeout=5.0)

    def close(self) -> None:
        super().close()
        with self._server_lock:
            server = self._server
        if server is not None:
            server.close()
