"""kubeline's side: a compiled pipeline YAML run by ``kubeline.engine.run_pipeline`` on a
fresh home, in a child process that does nothing else (so its peak RSS is the engine's).

The timer starts after ``import kubeline.engine`` and covers ``load_spec`` and
``run_pipeline``, as it covers loading and running the YAML on the peer's side. Task
times come from the run's own records (``TaskRecord.started_at`` / ``finished_at``), on
the same clock as the timer.

Run as ``python -m bench.ours JOB RESULT`` (by :func:`run_ours`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.measure import BenchError, peak_rss_mb, read_job, run_child, write_result

__all__ = ["OurResult", "OurRun", "TaskTimes", "run_ours"]


@dataclass(frozen=True)
class TaskTimes:
    """One executor task of a run; times in seconds from the start of the timer."""

    path: str
    state: str
    cache_hit: bool
    start: float | None
    end: float | None


@dataclass(frozen=True)
class OurRun:
    """One run of the pipeline under kubeline."""

    seconds: float
    state: str
    error: str | None
    first_start: float | None  # the first executor task's "started" event
    tasks: list[TaskTimes]

    @property
    def tasks_run(self) -> int:
        """Executor tasks that ran (succeeded, and not answered from the cache)."""
        return sum(1 for t in self.tasks if t.state == "SUCCEEDED" and not t.cache_hit)

    @property
    def finished(self) -> int:
        """Executor tasks that succeeded, from the cache or not."""
        return sum(1 for t in self.tasks if t.state == "SUCCEEDED")

    def intervals(self) -> list[tuple[float, float]]:
        return [(t.start, t.end) for t in self.tasks if t.start is not None and t.end is not None]


@dataclass(frozen=True)
class OurResult:
    runs: list[OurRun]
    peak_rss_mb: float | None  # the engine process's own, over all its runs


def run_ours(
    folder: Path,
    pipeline_yaml: Path,
    arguments: dict[str, Any] | None = None,
    *,
    workers: int | None = None,
    runs: int = 1,
    timeout: float,
) -> OurResult:
    """Run ``pipeline_yaml`` ``runs`` times on one fresh kubeline home, in a child process.

    Raises:
        bench.measure.BenchError: a run did not succeed, or took longer than ``timeout``.
    """
    job = {
        "pipeline": str(pipeline_yaml),
        "arguments": arguments or {},
        "workers": workers,
        "runs": runs,
        "home": str(folder / "home"),
    }
    result = run_child("ours", job, folder=folder, timeout=timeout)
    parsed = OurResult(
        runs=[
            OurRun(**{**r, "tasks": [TaskTimes(**t) for t in r["tasks"]]}) for r in result["runs"]
        ],
        peak_rss_mb=result["peak_rss_mb"],
    )
    for run in parsed.runs:
        if run.state != "SUCCEEDED":
            raise BenchError(
                f"kubeline's run ended {run.state}: {run.error} (home: {folder / 'home'})"
            )
    return parsed


def _offset(moment: datetime | None, origin: datetime) -> float | None:
    return None if moment is None else (moment - origin).total_seconds()


def _one_run(job: dict[str, Any]) -> dict[str, Any]:
    from kubeline.engine import TaskEvent, run_pipeline
    from kubeline.engine.spec import load_spec

    starts: list[float] = []

    def on_event(event: TaskEvent) -> None:
        if event.kind == "started" and event.node_kind == "executor":
            starts.append(time.perf_counter())

    origin = datetime.now(timezone.utc)
    started = time.perf_counter()
    spec = load_spec(job["pipeline"])
    result = run_pipeline(
        spec,
        job["arguments"],
        home=Path(job["home"]),
        workers=job["workers"],
        on_event=on_event,
    )
    seconds = time.perf_counter() - started
    tasks = [
        {
            "path": t.path,
            "state": t.state,
            "cache_hit": t.cache_hit,
            "start": _offset(t.started_at, origin),
            "end": _offset(t.finished_at, origin),
        }
        for t in result.tasks
        if t.kind == "executor"
    ]
    return {
        "seconds": seconds,
        "state": result.state,
        "error": result.error,
        "first_start": starts[0] - started if starts else None,
        "tasks": tasks,
    }


def main(argv: list[str]) -> None:
    """Child process body: run the pipeline, report times, tasks and peak memory."""
    job, result_path = read_job(argv)
    # Libraries are imported before the timer on both sides: the peer's process imports
    # kfp (kfp.local) before its timer; ours imports kfp and the engine's modules.
    import kfp  # noqa: F401

    import kubeline.engine.runner  # noqa: F401

    runs = [_one_run(job) for _ in range(job["runs"])]
    write_result(result_path, {"runs": runs, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main(sys.argv[1:])
