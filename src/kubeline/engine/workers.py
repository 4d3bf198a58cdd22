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

from kubeline.engine.leaf import LeafJob

__all__ = ["DEFAULT_PRELOAD", "JobResult", "WorkerPool", "default_workers"]

#: Imported once by the fork server, with the modules the pipeline's components import
#: (:mod:`kubeline.engine.preload`); a module that is not installed is skipped.
DEFAULT_PRELOAD = ("kubeline.engine.workers", "kfp.dsl.executor_main")


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class JobResult:
    exit_code: int
    error: str | None = None
    started_at: datetime | None = None  # when a worker took it (it may have queued)


def _importable(names: list[str]) -> list[str]:
    from importlib.util import find_spec

    found = []
    for name in names:
        with contextlib.suppress(ImportError, ValueError):
            if find_spec(name.split(".")[0]) is not None:
                found.append(name)
    return found


def _redirect_output(log_path: str) -> None:
    """Send this process's stdout and stderr (Python's and the C level's) to the log."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115


def _limit_native_threads(env: dict[str, str]) -> None:
    """Honour OMP_NUM_THREADS & co. set on the task: a forked worker inherited thread pools
    that already read the environment, so set their limits directly."""
    value = (
        env.get("OMP_NUM_THREADS") or env.get("OPENBLAS_NUM_THREADS") or env.get("MKL_NUM_THREADS")
    )
    if not value or not value.isdigit():
        return
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=int(value))


def run_python_job(job: LeafJob) -> None:
    """Worker process body: run a lightweight component with kfp's own executor."""
    _redirect_output(job.log_path)
    os.environ.update(job.env)
    os.environ["_KFP_RUNTIME"] = "true"
    _limit_native_threads(job.env)
    program_dir = Path(job.task_root) / ".program"
    program_dir.mkdir(parents=True, exist_ok=True)
    module = program_dir / "ephemeral_component.py"
    module.write_text(job.source, encoding="utf-8")
    sys.argv = [
        "kfp.dsl.executor_main",
        "--component_module_path",
        str(module),
        "--executor_input",
        job.executor_input,
        "--function_to_execute",
        job.function,
    ]
    from kfp.dsl import executor_main

    executor_main.executor_main()
    sys.stdout.flush()
    sys.stderr.flush()


class _ForkServer:
    """The engine's side of :mod:`kubeline.engine.forkserver`: send jobs, get exit codes."""

    def __init__(self, preload: list[str]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "kubeline.engine.forkserver", *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal reaches the engine, which stops
            # the tasks itself and records that it did.
            start_new_session=True,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._stdin = self._process.stdin
        self._stdout = self._process.stdout
        if self._stdout.readline().strip() != b"ready":
            raise RuntimeError("the kubeline fork server did not start")
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list[int]]] = {}
        self._next = 0
        self._reader = threading.Thread(target=self._read, name="kubeline-forkserver", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._stdout:
            words = line.split()
            if words[:1] != [b"done"]:
                continue
            with self._lock:
                waiter = self._waiting.pop(words[1].decode(), None)
            if waiter is not None:
                waiter[1].append(int(words[2]))
                waiter[0].set()
        with self._lock:  # the server died: nothing more will finish
            for event, codes in self._waiting.values():
                codes.append(-9)
                event.set()
            self._waiting.clear()

    def run(self, job: LeafJob) -> int:
        payload = pickle.dumps(job)
        event, codes = threading.Event(), []
        with self._lock:
            self._next += 1
            job_id = str(self._next)
            self._waiting[job_id] = (event, codes)
            self._stdin.write(f"job {job_id} {len(payload)}\n".encode() + payload)
            self._stdin.flush()
        event.wait()
        return codes[0]

    def kill(self) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._stdin.write(b"kill\n")
            self._stdin.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()


class WorkerPool:
    """Runs jobs concurrently, at most ``workers`` at a time."""

    def __init__(self, workers: int | None = None, preload: list[str] | None = None) -> None:
        self.workers = workers or default_workers()
        self.forking = hasattr(os, "fork")
        self._preload = _importable([*DEFAULT_PRELOAD, *(preload or [])])
        self._server: _ForkServer | None = None
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

    def warm_up(self) -> None:
        """Start the fork server now, in the background, so its imports overlap the
        engine's own start-up instead of delaying the first task."""
        if self.forking:
            threading.Thread(
                target=self._try_fork_server, name="kubeline-warm-up", daemon=True
            ).start()

    def _try_fork_server(self) -> None:
        with contextlib.suppress(Exception):  # a task that needs it will say what failed
            self._fork_server()

    def _fork_server(self) -> _ForkServer:
        with self._lock:
            if self._server is None:
                self._server = _ForkServer(self._preload)
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
        env = {**os.environ, **job.env}
        with open(job.log_path, "ab") as log:
            try:
                process = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL
                )
            except OSError as exc:
                return JobResult(exit_code=127, error=f"cannot start '{argv[0]}': {exc}")
            with self._lock:
                self._running[job.task_path] = process
            code = process.wait()
        with self._lock:
            self._running.pop(job.task_path, None)
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
