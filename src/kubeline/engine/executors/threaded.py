"""What every local executor does around a task's process: a thread per job waits for
admission, starts the process, waits for it (or stops it on cancel), and reads the error
the task left. Subclasses say only how a job's process starts."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from abc import abstractmethod
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from kubeline.engine.executors.admission import RunAdmission, Slot
from kubeline.engine.executors.base import Executor, Outcome, TaskError
from kubeline.engine.executors.logcap import LogCap, log_cap_bytes
from kubeline.engine.executors.processes import (
    GRACE_SECONDS,
    StartFailed,
    TaskProcess,
    wait_or_stop,
)
from kubeline.engine.executors.program import clear_error, read_error
from kubeline.engine.leaf import LeafJob

__all__ = ["CANCELED_CODE", "ThreadedExecutor", "task_kind"]

#: The exit code of a job canceled before it started (as if terminated).
CANCELED_CODE = -15


class ThreadedExecutor(Executor):
    """Runs each job on a thread of its own; at most as many at once as admission allows.

    ``log_cap`` (bytes; 0: none) caps each task's log, its middle cut (default: 50 MB or
    ``$KUBELINE_LOG_CAP_MB``).
    """

    def __init__(self, admission: RunAdmission, grace: float = GRACE_SECONDS) -> None:
        self.log_cap = log_cap_bytes()
        self.admission = admission
        self.capacity = admission.capacity
        self.grace = grace
        self._threads = ThreadPoolExecutor(
            max_workers=max(1, 2 * self.capacity),
            thread_name_prefix=f"kubeline-{type(self).__name__}",
        )
        self._stop = threading.Event()
        self._force = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[int, TaskProcess] = {}

    # ------------------------------------------------------------ contract
    def submit(self, job: LeafJob) -> Future[Outcome]:
        if self._stop.is_set():
            return _done(_canceled())
        return self._threads.submit(self._run, job)

    def cancel(self, force: bool = False) -> None:
        if force:  # each job's thread kills its tree now
            self._force.set()
        self._stop.set()
        self.admission.wake()
        with self._lock:
            running = list(self._running.values())
        for process in running:
            with contextlib.suppress(Exception):
                process.terminate()

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------ one job
    @abstractmethod
    def _start(self, job: LeafJob) -> TaskProcess:
        """Start ``job``'s process (its output to ``job.log_path``).

        Raises:
            StartFailed: it could not start; the task fails with that message.
        """

    def _finished(self, job: LeafJob, process: TaskProcess) -> None:
        """Called once ``job``'s process ended, before its outputs are read."""

    def _pid(self, process: TaskProcess) -> int | None:
        """The pid to measure the task's CPU use by, if it has one."""
        pid = getattr(process, "pid", None)
        return pid if isinstance(pid, int) else None

    def _run(self, job: LeafJob) -> Outcome:
        if self._stop.is_set():
            return _canceled()
        slot = self.admission.enter(job.task_path, self._stop, task_kind(job))
        if slot is None:
            return _canceled()
        if self._stop.is_set():  # canceled as it was admitted
            slot.release()
            return _canceled()
        try:
            started = datetime.now(timezone.utc)
            return self._run_admitted(job, slot, started)
        finally:
            slot.release()

    def _run_admitted(self, job: LeafJob, slot: Slot, started: datetime) -> Outcome:
        Path(job.log_path).parent.mkdir(parents=True, exist_ok=True)
        clear_error(job.task_root)  # an earlier attempt's
        try:
            process = self._start(job)
        except StartFailed as exc:
            return Outcome(exit_code=127, error=TaskError("", str(exc)), started_at=started)
        key = id(process)
        with self._lock:
            self._running[key] = process
        try:
            if self._stop.is_set():  # canceled while it started
                process.terminate()
            pid = self._pid(process)
            if pid is not None:
                slot.attach(pid)
            cap = LogCap(job.log_path, self.log_cap)
            code = wait_or_stop(process, self._stop, self.grace, cap.check, self._force)
            cap.finish()
        finally:
            with self._lock:
                self._running.pop(key, None)
            self._finished(job, process)
        error = None
        if code != 0 and job.kind == "python":
            found = read_error(job.task_root)
            error = TaskError.from_dict(found) if found is not None else None
        return Outcome(exit_code=code, error=error, started_at=started)


def task_kind(job: LeafJob) -> str:
    """What a job runs, to compare its CPU use with earlier tasks of the same component."""
    if job.kind == "python":
        what = [job.kind, job.function, job.source, job.python or ""]
    else:
        what = [job.kind, *job.argv[:1], job.image]
    return hashlib.sha256("\0".join(what).encode()).hexdigest()[:16]


def _canceled() -> Outcome:
    return Outcome(exit_code=CANCELED_CODE, error=TaskError("", "canceled before it started"))


def _done(outcome: Outcome) -> Future[Outcome]:
    future: Future[Outcome] = Future()
    future.set_result(outcome)
    return future
