"""Workers that run one task each, side by side, up to a limit.

A lightweight Python task runs in a fresh process forked from a warm parent
(:mod:`kubeline.engine.forkserver`) that imported kfp (and numpy, pandas, scikit-learn...
when present) once, so a task costs milliseconds instead of a Python start-up and imports.
Where ``os.fork`` does not exist (Windows), each task is a fresh interpreter: slower, same
results. Anything else runs
its resolved command on the host. A thread per running task waits on its process, so the
scheduler's own thread never blocks.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from kubeline.engine.forkserver import ForkServerClient
from kubeline.engine.leaf import LeafJob
from kubeline.engine.preload import DEFAULT_PRELOAD, importable
from kubeline.engine.taskenv import task_environ

__all__ = ["JobResult", "WorkerPool", "default_workers"]


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class JobResult:
    exit_code: int
    error: str | None = None
    started_at: datetime | None = None  # when a worker took it (it may have queued)


class WorkerPool:
    """Runs jobs concurrently, at most ``workers`` at a time."""

    def __init__(
        self,
        workers: int | None = None,
        preload: list[str] | None = None,
        fork_server: ForkServerClient | None = None,
    ) -> None:
        self.workers = workers or default_workers()
        self.forking = hasattr(os, "fork")
        self._preload = importable([*DEFAULT_PRELOAD, *(preload or [])])
        self._server: ForkServerClient | None = fork_server
        self._threads = ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix="kubeline-worker"
        )
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, job: LeafJob) -> Future[JobResult]:
        return self._threads.submit(self._run, job)

    def _run(self, job: LeafJob) -> JobResult:
        if self._closed:
            return JobResult(exit_code=-15, error="canceled before it started")
        started = datetime.now(timezone.utc)
        Path(job.log_path).parent.mkdir(parents=True, exist_ok=True)
        if job.kind == "python" and job.python is None:
            if self.forking:
                result = JobResult(exit_code=self._fork_server().run(job))
            else:
                result = self._run_spawned(job)
        else:
            result = self._run_command(job)
        return replace(result, started_at=started)

    def _fork_server(self) -> ForkServerClient:
        with self._lock:
            if self._server is None:
                self._server = ForkServerClient(self._preload)
            return self._server

    def _run_spawned(self, job: LeafJob) -> JobResult:
        """No fork on this OS: one fresh interpreter per task (slower, same result)."""
        job_file = Path(job.task_root) / ".program" / "job.pickle"
        job_file.parent.mkdir(parents=True, exist_ok=True)
        job_file.write_bytes(pickle.dumps(job))
        argv = [sys.executable, "-m", "kubeline.engine.forkserver", "--once", str(job_file)]
        return self._popen(job, argv)

    def _run_command(self, job: LeafJob) -> JobResult:
        argv = job.argv
        if job.kind == "python":  # in an install venv: same executor, another interpreter
            argv = [
                job.python or sys.executable,
                "-c",
                _VENV_BOOTSTRAP,
                job.task_root,
                job.source,
                job.function,
                job.executor_input,
            ]
        return self._popen(job, argv)

    def _popen(self, job: LeafJob, argv: list[str]) -> JobResult:
        env = task_environ(job.env)
        with open(job.log_path, "ab") as log:
            try:
                process = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL
                )
            except OSError as exc:
                return JobResult(exit_code=127, error=f"cannot start '{argv[0]}': {exc}")
            with self._lock:
                # By folder: two tasks can share a logical path ('a/b', and 'b' inside 'a').
                self._running[job.task_root] = process
            code = process.wait()
        with self._lock:
            self._running.pop(job.task_root, None)
        return JobResult(exit_code=code)

    def cancel(self) -> None:
        """Stop every running job (Ctrl-C, or a run being terminated)."""
        self._closed = True
        with self._lock:
            running = list(self._running.values())
            server = self._server
        if server is not None:
            server.kill()
        for process in running:
            with contextlib.suppress(OSError):
                process.terminate()

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        if self._server is not None:
            self._server.close()


# Runs a lightweight component under another interpreter (a cached install venv).
_VENV_BOOTSTRAP = """
import os, sys, pathlib
root, source, function, executor_input = sys.argv[1:5]
path = pathlib.Path(root) / ".program" / "ephemeral_component.py"
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(source, encoding="utf-8")
os.environ["_KFP_RUNTIME"] = "true"
sys.argv = ["kfp.dsl.executor_main", "--component_module_path", str(path),
            "--executor_input", executor_input, "--function_to_execute", function]
from kfp.dsl import executor_main
executor_main.executor_main()
"""
