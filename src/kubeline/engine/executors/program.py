"""The task's own process: run a lightweight Python component with kfp's executor, and
leave a small JSON error next to its outputs when the component raises.

This module imports only the standard library (kfp when a job runs), so it also runs as a
plain script (``python program.py JOB.json``) under another interpreter, such as a cached
install venv whose kfp differs from this one, without importing kubeline's packages.
The forked executor calls :func:`run_job` in a child of the warm fork server.

The command line for kfp's executor (``--executor_input``, ``--function_to_execute``) is
built here, where it runs, from the job's data: nothing is parsed back out of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

__all__ = [
    "ERROR_FILE",
    "MAX_ERROR_BYTES",
    "clear_error",
    "error_file",
    "executor_argv",
    "job_fields",
    "read_error",
    "run_job",
    "write_error",
]

#: Where, under the task's root, a failing component's error is written.
ERROR_FILE = (".program", "error.json")
#: An error file larger than this is not read: the task's process is someone else's code.
MAX_ERROR_BYTES = 64 * 1024
_MAX_MESSAGE = 4000
_USER_ERROR = "kubeline.errors.UserError"
# What a spawned job file carries (a LeafJob's fields that the task's process needs).
_FIELDS = ("log_path", "task_root", "env", "source", "function", "executor_input")


def error_file(task_root: str | os.PathLike[str]) -> Path:
    return Path(task_root).joinpath(*ERROR_FILE)


def job_fields(job: Any) -> dict[str, Any]:
    """The part of a LeafJob the task's process needs, as JSON-ready data."""
    return {name: getattr(job, name) for name in _FIELDS}


def executor_argv(module_path: str, executor_input: str, function: str) -> list[str]:
    """``sys.argv`` for ``kfp.dsl.executor_main``, as the compiled command passes it."""
    return [
        "kfp.dsl.executor_main",
        "--component_module_path",
        module_path,
        "--executor_input",
        executor_input,
        "--function_to_execute",
        function,
    ]


def _qualified_name(cls: type) -> str:
    """As a traceback prints it: ``ValueError``, ``kubeline.errors.DataError``."""
    module = cls.__module__
    if module in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def write_error(task_root: str | os.PathLike[str], exc: BaseException) -> None:
    """Write ``{"type", "message", "user_error"}`` for ``exc`` (never raises)."""
    with contextlib.suppress(Exception):
        message = str(exc)
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        data = {
            "type": _qualified_name(type(exc)),
            "message": message,
            # By name, so a task under another interpreter needs no kubeline import.
            "user_error": any(_qualified_name(c) == _USER_ERROR for c in type(exc).__mro__),
        }
        path = error_file(task_root)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.replace(partial, path)


def clear_error(task_root: str | os.PathLike[str]) -> None:
    """Remove an error left by an earlier attempt of the same task."""
    with contextlib.suppress(OSError):
        error_file(task_root).unlink()


def read_error(task_root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The error a task wrote, checked: None when there is none or it is not a small JSON
    object of the expected shape."""
    try:
        with open(error_file(task_root), "rb") as f:
            raw = f.read(MAX_ERROR_BYTES + 1)
    except OSError:
        return None
    if len(raw) > MAX_ERROR_BYTES:
        return None
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    kind, message = data.get("type"), data.get("message")
    if not isinstance(kind, str) or not isinstance(message, str):
        return None
    return {
        "type": kind[:200],
        "message": message[:_MAX_MESSAGE],
        "user_error": data.get("user_error") is True,
    }


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


def _run_component(job: Any) -> None:
    """Run the component with kfp's own executor, in this process."""
    _redirect_output(job.log_path)
    os.environ.update(job.env)
    os.environ["_KFP_RUNTIME"] = "true"
    _limit_native_threads(job.env)
    program_dir = Path(job.task_root) / ".program"
    program_dir.mkdir(parents=True, exist_ok=True)
    module = program_dir / "ephemeral_component.py"
    module.write_text(job.source, encoding="utf-8")
    sys.argv = executor_argv(str(module), job.executor_input, job.function)
    from kfp.dsl import executor_main

    executor_main.executor_main()


def run_job(job: Any) -> int:
    """Run ``job`` (anything with the LeafJob fields above) here; its exit code.

    A component that raises gets its traceback in the log and its error in
    :data:`ERROR_FILE`; ``sys.exit(n)`` is its exit code.
    """
    code = 1
    try:
        _run_component(job)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # noqa: BLE001 - the task's failure, reported as data
        traceback.print_exc()
        write_error(job.task_root, exc)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
    return code


class _Job:
    """A job read from a spawned task's JSON file."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.log_path: str = data["log_path"]
        self.task_root: str = data["task_root"]
        self.env: dict[str, str] = dict(data["env"])
        self.source: str = data["source"]
        self.function: str = data["function"]
        self.executor_input: str = data["executor_input"]


def main(argv: list[str]) -> int:  # pragma: no cover - runs in the task's own process
    with open(argv[0], encoding="utf-8") as f:
        job = _Job(json.load(f))
    return run_job(job)


if __name__ == "__main__":  # pragma: no cover
    # As with ``python -m``: the working folder, not this one, comes first on the path
    # (a component's ``import base`` must not find the executors' own module).
    sys.path[0] = os.getcwd()
    code = main(sys.argv[1:])
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
