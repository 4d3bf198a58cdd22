"""local_executor: each job to the executor that runs it, one admission for the run; and
the CPU probe the admission reads."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubeline.engine.executors import RoutingExecutor, local_executor
from kubeline.engine.executors.admission import AdmissionController, default_cap
from kubeline.engine.executors.cpu import ProcProbe, default_probe
from kubeline.engine.executors.forked import ForkedExecutor
from kubeline.engine.executors.host import HostCommandExecutor
from kubeline.engine.executors.spawned import SpawnedExecutor
from kubeline.engine.leaf import LeafJob
from kubeline.engine.startmethod import start_method
from tests.requirements import exempt_reason


def _job(kind: str, python: str | None = None) -> LeafJob:
    return LeafJob(kind=kind, task_path="t", log_path="/dev/null", task_root="/tmp", python=python)


def test_jobs_go_to_the_executor_that_runs_them() -> None:
    executor = local_executor(admission=AdmissionController(cores=2, probe=None))
    try:
        assert isinstance(executor, RoutingExecutor)
        chosen = {
            name: next(e for accepts, e in executor.routes if accepts(job))
            for name, job in {
                "python": _job("python"),
                "venv": _job("python", python=sys.executable),
                "command": _job("command"),
            }.items()
        }
        # Forked, or spawned where there is no fork or KUBELINE_START_METHOD=spawn says so.
        expected = ForkedExecutor if start_method() == "fork" else SpawnedExecutor
        assert isinstance(chosen["python"], expected)
        assert isinstance(chosen["venv"], HostCommandExecutor)
        assert isinstance(chosen["command"], HostCommandExecutor)
    finally:
        executor.close()


def test_capacity_is_the_pin_or_the_process_cap() -> None:
    admission = AdmissionController(cores=2, probe=default_probe())
    pinned = local_executor(workers=3, admission=admission)
    adaptive = local_executor(admission=admission)
    try:
        assert pinned.capacity == 3
        expected = default_cap(2) if admission.probe is not None else 2
        assert adaptive.capacity == expected
    finally:
        pinned.close()
        adaptive.close()


@pytest.mark.skipif(
    not Path("/proc/self/task").exists(),
    reason=exempt_reason("macOS and Windows", "no Linux /proc"),
)
def test_the_probe_tells_a_computing_process_from_a_waiting_one() -> None:
    probe = ProcProbe()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.5)  # both started
        first = (probe.busy_seconds(busy.pid), probe.busy_seconds(idle.pid))
        time.sleep(1.0)
        second = (probe.busy_seconds(busy.pid), probe.busy_seconds(idle.pid))
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()
    assert None not in first and None not in second
    # Running or waiting for a CPU: about the whole second, however busy the machine is.
    assert second[0] - first[0] > 0.5  # type: ignore[operator]
    assert second[1] - first[1] < 0.1  # type: ignore[operator]
    assert probe.busy_seconds(busy.pid) is None  # gone
