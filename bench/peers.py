"""The peer: a compiled pipeline YAML run by ``kfp.local`` with
``SubprocessRunner(use_venv=False)``, in a child process of its own.

kfp.local keeps its configuration in module globals and prints every task's output, so
each measurement gets a fresh interpreter whose output goes to a log file. The timer
starts after ``import kfp.local`` and ``kfp.local.init``, and covers loading the YAML
(``load_component_from_file``) and running it, as it covers ``load_spec`` and
``run_pipeline`` on kubeline's side.

Run as ``python -m bench.peers JOB RESULT`` (by :func:`run_peer`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import read_job, run_child, write_result

__all__ = ["PeerRun", "run_peer"]

# pip's once-a-week check for a newer pip may reach the network; without it the peer's
# per-task `pip install kfp==...` is as fast and steady as it can be.
_PEER_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


@dataclass(frozen=True)
class PeerRun:
    """One run of the pipeline under kfp.local."""

    seconds: float
    # Tasks that ran (not answered from the cache): the executor outputs the run wrote.
    tasks_run: int


def run_peer(
    folder: Path,
    pipeline_yaml: Path,
    arguments: dict[str, Any] | None = None,
    *,
    runs: int = 1,
    caching: bool = False,
    timeout: float,
) -> list[PeerRun]:
    """Run ``pipeline_yaml`` ``runs`` times in one kfp.local session, in a child process.

    With ``caching``, kfp.local's task cache is on (``enable_caching=True``, a fresh
    ``cache_root``), so a second run can reuse the first run's results.

    Raises:
        bench.measure.BenchError: kfp.local failed or took longer than ``timeout``.
    """
    job = {
        "pipeline": str(pipeline_yaml),
        "arguments": arguments or {},
        "runs": runs,
        "caching": caching,
        "pipeline_root": str(folder / "pipeline_root"),
        "cache_root": str(folder / "cache"),
    }
    result = run_child("peers", job, folder=folder, timeout=timeout, env=_PEER_ENV)
    return [PeerRun(**r) for r in result["runs"]]


def _executor_outputs(pipeline_root: Path) -> set[Path]:
    """Every task kfp.local runs writes one; a task answered from its cache writes none."""
    return set(pipeline_root.rglob("executor_output.json"))


def main(argv: list[str]) -> None:
    """Child process body: initialise kfp.local, then time each run."""
    job, result_path = read_job(argv)
    from kfp import components, local

    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=job["pipeline_root"],
        raise_on_error=True,
        enable_caching=job["caching"],
        cache_root=job["cache_root"] if job["caching"] else None,
    )
    pipeline_root = Path(job["pipeline_root"])
    runs = []
    for _ in range(job["runs"]):
        before = _executor_outputs(pipeline_root)
        started = time.perf_counter()
        pipeline = components.load_component_from_file(job["pipeline"])
        pipeline(**job["arguments"])
        seconds = time.perf_counter() - started
        tasks_run = len(_executor_outputs(pipeline_root) - before)
        runs.append({"seconds": seconds, "tasks_run": tasks_run})
    write_result(result_path, {"runs": runs})


if __name__ == "__main__":
    main(sys.argv[1:])
