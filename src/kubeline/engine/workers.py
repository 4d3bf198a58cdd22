"""The scheduler's old interface to the executors, kept until the scheduler uses
:func:`kubeline.engine.executors.local_executor` itself (then this module goes)."""

from __future__ import annotations

import os
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from kubeline.engine.executors import local_executor
from kubeline.engine.executors.base import Outcome
from kubeline.engine.forkserver import ForkServerClient
from kubeline.engine.leaf import LeafJob

__all__ = ["JobResult", "WorkerPool", "default_workers"]


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class JobResult:
    exit_code: int
    error: str | None = None
    started_at: datetime | None = None  # when a worker took it (it may have queued)


class WorkerPool:
    """Runs jobs concurrently through the local executor."""

    def __init__(
        self,
        workers: int | None = None,
        preload: list[str] | None = None,
        fork_server: ForkServerClient | None = None,
    ) -> None:
        self._executor = local_executor(workers, preload, fork_server)
        self.workers = self._executor.capacity

    def submit(self, job: LeafJob) -> Future[JobResult]:
        result: Future[JobResult] = Future()

        def done(future: Future[Outcome]) -> None:
            try:
                outcome = future.result()
            except BaseException as exc:  # noqa: BLE001 - handed to the scheduler
                result.set_exception(exc)
                return
            error = str(outcome.error) if outcome.error is not None else None
            result.set_result(JobResult(outcome.exit_code, error, outcome.started_at))

        self._executor.submit(job).add_done_callback(done)
        return result

    def cancel(self) -> None:
        self._executor.cancel()

    def close(self) -> None:
        self._executor.close()
