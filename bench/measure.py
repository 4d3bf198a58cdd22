"""Timing and memory helpers, and the one way the bench starts a measured child process.

Every engine run happens in a child process so that kfp.local's global configuration,
either engine's imports and worker processes, and all their output stay out of the bench
process and out of each other's figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "ROOT",
    "BenchError",
    "peak_rss_mb",
    "read_job",
    "run_child",
    "union_seconds",
    "write_result",
]

#: The repository root: children import ``bench`` from here.
ROOT = Path(__file__).resolve().parents[1]

_TAIL_LINES = 15


class BenchError(Exception):
    """A measurement could not be taken; the message says which and where its log is."""


def run_child(
    module: str,
    job: dict[str, Any],
    *,
    folder: Path,
    timeout: float,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``python -m bench.<module> JOB RESULT`` in ``folder`` and return its result.

    The child's stdout and stderr go to ``folder/child.log``, and its temporary files to
    ``folder/tmp``. The child is killed after ``timeout`` seconds.

    Raises:
        BenchError: the child timed out, exited with an error, or wrote no result.
    """
    job_path, result_path, log_path = (
        folder / "job.json",
        folder / "result.json",
        folder / "child.log",
    )
    (folder / "tmp").mkdir(exist_ok=True)
    job_path.write_text(json.dumps(job), encoding="utf-8")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    child_env = {**os.environ, "PYTHONPATH": path, "TMPDIR": str(folder / "tmp"), **(env or {})}
    argv = [sys.executable, "-m", f"bench.{module}", str(job_path), str(result_path)]
    with open(log_path, "ab") as log:
        # Its own session, so a timeout can stop the engine's task processes with it.
        child = subprocess.Popen(
            argv,
            cwd=folder,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _stop(child)
            raise BenchError(
                f"bench.{module} did not finish within {timeout:.0f} s and was stopped; "
                f"its output is in {log_path}."
            ) from exc
        except KeyboardInterrupt:
            _stop(child)  # in its own session, the child does not get the terminal's Ctrl-C
            raise
    if returncode != 0 or not result_path.is_file():
        raise BenchError(
            f"bench.{module} exited with code {returncode}: {_tail(log_path)} "
            f"(full output: {log_path})"
        )
    return json.loads(result_path.read_text(encoding="utf-8"))


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Kill the child and every process in its session (POSIX), then reap it."""
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
    else:
        child.kill()
    child.wait()


def _tail(log_path: Path) -> str:
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [ln.strip() for ln in lines[-200:] if "Error" in ln or "Exception" in ln]
    if errors:
        return errors[-1]
    return " | ".join(ln.strip() for ln in lines[-_TAIL_LINES:] if ln.strip())[-300:]


def read_job(argv: list[str]) -> tuple[dict[str, Any], Path]:
    """In a child: the job the parent wrote, and where to write the result."""
    job_path, result_path = argv
    return json.loads(Path(job_path).read_text(encoding="utf-8")), Path(result_path)


def write_result(path: Path, result: dict[str, Any]) -> None:
    """In a child: hand the result back (written last, so its presence means success)."""
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    tmp.replace(path)


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by the ``(start, end)`` intervals, overlaps counted once.

    >>> union_seconds([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)])
    4.0
    """
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def peak_rss_mb() -> float | None:
    """This process's peak resident memory in MB (None where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024
