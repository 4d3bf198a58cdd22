"""The executor a local run uses: each job to the executor that can run it, all of them
admitted by one :class:`~.admission.RunAdmission`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future

from kubeline.engine.executors.admission import (
    AdmissionController,
    AdmissionNote,
    RunAdmission,
    process_admission,
)
from kubeline.engine.executors.base import Executor, Outcome
from kubeline.engine.executors.forked import ForkedExecutor
from kubeline.engine.executors.host import HostCommandExecutor
from kubeline.engine.executors.processes import GRACE_SECONDS
from kubeline.engine.executors.spawned import SpawnedExecutor
from kubeline.engine.forkserver import ForkServerClient
from kubeline.engine.leaf import LeafJob
from kubeline.engine.startmethod import StartMethod, start_method

__all__ = ["Route", "RoutingExecutor", "is_warm_python", "local_executor"]

#: Which jobs an executor takes: the first route whose test accepts a job runs it.
Route = tuple[Callable[[LeafJob], bool], Executor]


def is_warm_python(job: LeafJob) -> bool:
    """A lightweight Python component that runs with this environment's packages."""
    return job.kind == "python" and job.python is None


class RoutingExecutor(Executor):
    """Sends each job to the first of ``routes`` that takes it (a container executor
    joins by adding a route)."""

    def __init__(self, routes: Sequence[Route], capacity: int) -> None:
        self.routes = list(routes)
        self.capacity = capacity

    def _executors(self) -> Iterable[Executor]:
        return dict.fromkeys(executor for _, executor in self.routes)

    def submit(self, job: LeafJob) -> Future[Outcome]:
        for accepts, executor in self.routes:
            if accepts(job):
                return executor.submit(job)
        raise ValueError(f"no executor takes the '{job.kind}' job of task '{job.task_path}'")

    def cancel(self, force: bool = False) -> None:
        for executor in self._executors():
            executor.cancel(force)

    def close(self) -> None:
        for executor in self._executors():
            executor.close()


def local_executor(
    workers: int | None = None,
    preload: list[str] | None = None,
    fork_server: ForkServerClient | None = None,
    *,
    on_admission: Callable[[AdmissionNote], None] | None = None,
    admission: AdmissionController | None = None,
    grace: float = GRACE_SECONDS,
    method: StartMethod | None = None,
    log_cap: int | None = None,
) -> Executor:
    """The executor of a local run.

    Python components run forked from the warm ``fork_server`` (started on the first such
    task, with ``preload`` imported, when none is given; closed with the executor), or
    one fresh interpreter each where ``os.fork`` does not exist or ``method`` is ``spawn``;
    anything else, and Python components in an install venv, run on the host.

    Args:
        workers: exactly this many tasks at once (``--workers``); default: adaptive, by
            the process's admission controller, shared with every other run.
        on_admission: hears the admission decisions worth a run event (called from the
            executor's threads).
        admission: the controller to share (default: the process's).
        grace: seconds a canceled task has to end before it is killed.
        method: how Python tasks start (default: :func:`~kubeline.engine.startmethod.start_method`,
            from ``$KUBELINE_START_METHOD``); with ``spawn``, a ``fork_server`` given is
            closed unused.
        log_cap: each task's log is kept under this many bytes, its middle cut (0: no
            cap; default: :func:`~kubeline.engine.executors.logcap.log_cap_bytes`).
    """
    run_admission = RunAdmission(admission or process_admission(), workers, on_admission)
    python: Executor
    if (method or start_method()) == "fork" and hasattr(os, "fork"):
        python = ForkedExecutor(run_admission, preload, fork_server, grace)
    else:
        if fork_server is not None:
            fork_server.close()
        python = SpawnedExecutor(run_admission, grace)
    host = HostCommandExecutor(run_admission, grace)
    if log_cap is not None:
        python.log_cap = host.log_cap = log_cap
    return RoutingExecutor(
        [(is_warm_python, python), (lambda _job: True, host)], run_admission.capacity
    )
