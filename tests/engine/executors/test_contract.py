"""The executor contract: every executor, real processes, real kfp executor.

Each :class:`Flavor` is one executor and the kind of job it runs. A new executor (the
container executor of a later issue) joins by adding its flavor to :data:`FLAVORS`; the
tests below then run against it too.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import compiler

from kubeline.engine.executors import Executor, Outcome, TaskError
from kubeline.engine.executors.admission import AdmissionController, RunAdmission
from kubeline.engine.executors.cpu import default_probe
from kubeline.engine.executors.host import HostCommandExecutor
from kubeline.engine.executors.spawned import SpawnedExecutor
from kubeline.engine.leaf import LeafJob, TaskContext, prepare_job, read_outputs
from kubeline.engine.taskenv import SECRET_NAMES
from tests.containers import docker_image
from tests.engine.executors import components as c
from tests.requirements import exempt_reason

#: Seconds a canceled task has to end before it is killed, in these tests.
GRACE = 2.0


@dataclass(frozen=True)
class Flavor:
    """One executor under test, and the jobs it runs: ``python`` (lightweight Python
    components; under ``python`` when set, as an install venv's) or ``command``."""

    name: str
    make: Callable[..., Executor]  # (admission), or (admission, root) in a container
    style: str
    python: str | None = None
    in_container: bool = False  # every job in kubeline's image (--runner docker)

    @property
    def errors_as_data(self) -> bool:
        """Whether a failing Python component's error arrives as data (a container's task
        runs kfp's executor as the image has it: its error is read from the log)."""
        return self.style == "python" and not self.in_container


def _container(admission: RunAdmission, root: Path) -> Executor:
    from kubeline.engine.executors.container import ContainerExecutor

    return ContainerExecutor(admission, "docker", root, root, grace=GRACE)


def _forked(admission: RunAdmission) -> Executor:
    from kubeline.engine.executors.forked import ForkedExecutor

    return ForkedExecutor(admission, grace=GRACE)


FLAVORS = [
    *(
        [Flavor("forked", _forked, "python")]
        if hasattr(os, "fork")
        else []  # pragma: no cover - Windows
    ),
    Flavor("spawned", lambda a: SpawnedExecutor(a, grace=GRACE), "python"),
    Flavor("host-command", lambda a: HostCommandExecutor(a, grace=GRACE), "command"),
    Flavor(
        "host-command-venv",
        lambda a: HostCommandExecutor(a, grace=GRACE),
        "python",
        python=sys.executable,
    ),
    Flavor("container-python", _container, "python", in_container=True),
    Flavor("container-command", _container, "command", in_container=True),
]

#: The same behaviours, as each kind of job writes them.
COMPONENTS: dict[str, dict[str, Any]] = {
    "python": {
        "add": c.add,
        "fail": c.fail,
        "fail_user": c.fail_user,
        "die": c.die,
        "wait": c.wait,
        "environment": c.environment,
        "warm_import": c.warm_import,
        "spawn_and_wait": c.spawn_and_wait,
        "leave_running": c.leave_running,
    },
    "command": {
        "add": c.add_command,
        "fail": c.fail_command,
        "die": c.die_command,
        "wait": c.wait_command,
        "environment": c.environment_command,
        "spawn_and_wait": c.spawn_and_wait_command,
        "leave_running": c.leave_running_command,
    },
}
#: The output each kind's components write their result to.
RESULT = {"python": "Output", "command": "total"}


@functools.cache
def _compiled(style: str, behaviour: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(component spec, executor spec) of one component, compiled by the kfp SDK."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "component.yaml"
        compiler.Compiler().compile(COMPONENTS[style][behaviour], str(path))
        spec = yaml.safe_load(path.read_text())
    (component,) = spec["components"].values()
    executor = spec["deploymentSpec"]["executors"][component["executorLabel"]]
    return component, executor


@dataclass
class Task:
    job: LeafJob
    executor_input: Any
    component: dict[str, Any]

    def outputs(self) -> dict[str, Any]:
        return read_outputs(self.executor_input, self.component)[0]

    def log(self) -> str:
        return Path(self.job.log_path).read_text(encoding="utf-8", errors="replace")


class Harness:
    """An executor of one flavor, with its own admission, and jobs built for it."""

    def __init__(self, flavor: Flavor, root: Path) -> None:
        self.flavor = flavor
        self.root = root
        self.admission = RunAdmission(AdmissionController(probe=default_probe()))
        self.image = docker_image() if flavor.in_container else ""
        if flavor.in_container:
            self.executor = flavor.make(self.admission, root)
        else:
            self.executor = flavor.make(self.admission)
        self._names = itertools.count()

    def task(self, behaviour: str, **parameters: Any) -> Task:
        assert behaviour in COMPONENTS[self.flavor.style], (
            f"{self.flavor.style} jobs have no '{behaviour}' behaviour: give the test the "
            "flavors that have it"
        )
        component, executor = _compiled(self.flavor.style, behaviour)
        name = f"{behaviour}-{next(self._names)}"
        ctx = TaskContext(
            run_id="contract",
            pipeline_name="contract",
            task_name=name,
            task_root=self.root / "tasks" / name,
            pipeline_root=self.root,
            workspace=self.root / "workspace",
        )
        log = self.root / "logs" / f"{name}.log"
        job, executor_input = prepare_job(
            component,
            executor,
            parameters,
            {},
            ctx,
            name,
            log,
            in_container=self.flavor.in_container,
        )
        job.python = self.flavor.python
        if self.flavor.in_container:
            assert job.kind == "container"
            job.image = self.image  # the components name images these machines cannot pull
        else:
            assert job.kind == self.flavor.style
        return Task(job, executor_input, component)

    def run(self, task: Task, timeout: float = 60) -> Outcome:
        self._last = task
        return self.executor.submit(task.job).result(timeout=timeout)

    def last_log(self) -> str:
        return self._last.log()


def _harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """A harness of the flavor in ``request``, its executor stopped and closed after."""
    harness = Harness(request.param, tmp_path)
    yield harness
    harness.executor.cancel()
    harness.executor.close()


def _params(flavors: list[Flavor]) -> list[Any]:
    """The flavors as fixture params; the container ones marked ``docker``."""
    return [
        pytest.param(f, id=f.name, marks=[pytest.mark.docker] if f.in_container else [])
        for f in flavors
    ]


@pytest.fixture(params=_params(FLAVORS))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from _harness(request, tmp_path)


#: The flavors whose jobs run Python components, which report their error as data.
PYTHON_FLAVORS = [f for f in FLAVORS if f.errors_as_data]
#: The flavors whose task processes are the host's (their pids can be looked up here).
HOST_FLAVORS = [f for f in FLAVORS if not f.in_container]


@pytest.fixture(params=_params(HOST_FLAVORS))
def host_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from _harness(request, tmp_path)


@pytest.fixture(params=_params(PYTHON_FLAVORS))
def python_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from _harness(request, tmp_path)


def _wait_for_log(task: Task, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(task.job.log_path).is_file() and text in task.log():
            return
        time.sleep(0.02)
    raise AssertionError(f"'{text}' never reached {task.job.log_path}")


# ---------------------------------------------------------------------------- contract
def test_success_exits_0_and_writes_outputs(harness: Harness) -> None:
    task = harness.task("add", a=2, b=3)
    outcome = harness.run(task)
    assert (outcome.exit_code, outcome.error) == (0, None)
    assert task.outputs()[RESULT[harness.flavor.style]] == 5


def test_failure_gives_a_non_zero_code_and_the_error_as_data(harness: Harness) -> None:
    outcome = harness.run(harness.task("fail"))
    assert outcome.exit_code > 0
    if harness.flavor.errors_as_data:
        assert outcome.error == TaskError("ValueError", "the input is odd", user_error=False)
        assert str(outcome.error) == "ValueError: the input is odd"
    elif harness.flavor.style == "python":  # in a container: the log has its error
        assert outcome.error is None
        assert "ValueError: the input is odd" in harness.last_log()
    else:  # a command writes no error: the scheduler reads its log
        assert outcome.exit_code == 3
        assert outcome.error is None


def test_a_user_error_arrives_marked_as_one(python_harness: Harness) -> None:
    outcome = python_harness.run(python_harness.task("fail_user"))
    assert outcome.exit_code > 0
    assert outcome.error == TaskError(
        "kubeline.errors.DataError", "column 'age' is missing", user_error=True
    )


def test_a_task_killed_by_a_signal_says_which(harness: Harness) -> None:
    outcome = harness.run(harness.task("die"))
    assert outcome.exit_code == -9
    assert outcome.error is None


def test_cancel_ends_a_running_task_promptly_and_later_ones_at_once(harness: Harness) -> None:
    task = harness.task("wait", seconds=60.0)
    future = harness.executor.submit(task.job)
    _wait_for_log(task, "waiting")
    asked = time.monotonic()
    harness.executor.cancel()
    outcome = future.result(timeout=GRACE + 10)
    assert time.monotonic() - asked < GRACE + 3
    assert outcome.exit_code != 0
    later = harness.executor.submit(harness.task("add", a=1, b=1).job).result(timeout=5)
    assert later.exit_code < 0
    assert later.error is not None and "canceled" in later.error.message


def _gone(pid: int) -> bool:
    """No such process, or a zombie (ended, only not yet reaped by its new parent)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(
    not Path("/proc/self/stat").exists(),
    reason=exempt_reason("macOS and Windows", "reads Linux /proc"),
)
def test_cancel_ends_the_processes_a_task_started(host_harness: Harness) -> None:
    harness = host_harness
    task = harness.task("spawn_and_wait", seconds=60.0)
    future = harness.executor.submit(task.job)
    _wait_for_log(task, "child ")
    child = int(task.log().split("child ", 1)[1].split()[0])
    assert not _gone(child)
    harness.executor.cancel()
    future.result(timeout=GRACE + 10)
    deadline = time.monotonic() + GRACE + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)


_LINUX_PROC = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(),
    reason=exempt_reason("macOS and Windows", "reads Linux /proc"),
)


def _left(task: Task) -> list[int]:
    _wait_for_log(task, "left ")
    return [int(word) for word in task.log().split("left ", 1)[1].split()[:2]]


def _all_gone(pids: list[int], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return all(_gone(pid) for pid in pids)


def _kill(pids: list[int]) -> None:
    for pid in pids:  # what a failing test found: it must not outlive the test
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@_LINUX_PROC
def test_a_task_that_succeeds_leaves_no_process_behind(host_harness: Harness) -> None:
    """On KFP a task is a pod: what it started ends with it, a daemon in a session of its
    own too."""
    harness = host_harness
    task = harness.task("leave_running", stubborn=False, then_wait=0.0)
    outcome = harness.run(task)
    pids = _left(task)
    try:
        assert outcome.exit_code == 0, task.log()
        assert _all_gone(pids), f"still running after the task ended: {pids}"
    finally:
        _kill(pids)


@_LINUX_PROC
def test_cancel_ends_a_stubborn_tree_after_the_grace_period(host_harness: Harness) -> None:
    """A task and its processes that ignore SIGTERM and SIGINT, one of them in a session
    of its own: cancel kills the whole tree once the grace period is over."""
    harness = host_harness
    task = harness.task("leave_running", stubborn=True, then_wait=600.0)
    future = harness.executor.submit(task.job)
    pids = _left(task)
    try:
        asked = time.monotonic()
        harness.executor.cancel()
        outcome = future.result(timeout=GRACE + 15)
        took = time.monotonic() - asked
        assert outcome.exit_code < 0
        assert GRACE - 0.5 <= took < GRACE + 5, took
        assert _all_gone(pids), f"still running after cancel: {pids}"
    finally:
        _kill(pids)


@_LINUX_PROC
def test_a_forced_cancel_kills_at_once(host_harness: Harness) -> None:
    """A second Ctrl-C: no grace period."""
    harness = host_harness
    task = harness.task("leave_running", stubborn=True, then_wait=600.0)
    future = harness.executor.submit(task.job)
    pids = _left(task)
    try:
        asked = time.monotonic()
        harness.executor.cancel()
        harness.executor.cancel(force=True)
        future.result(timeout=GRACE + 15)
        assert time.monotonic() - asked < GRACE - 0.5
        assert _all_gone(pids), f"still running after a forced cancel: {pids}"
    finally:
        _kill(pids)


def test_started_at_is_when_the_task_started(harness: Harness) -> None:
    before = datetime.now(timezone.utc)
    outcome = harness.run(harness.task("add", a=1, b=2))
    assert outcome.started_at is not None
    assert before <= outcome.started_at <= datetime.now(timezone.utc)


def test_the_jobs_environment_reaches_the_task_and_kubelines_secrets_never_do(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SECRET_NAMES:
        monkeypatch.setenv(name, "kept-from-tasks")
    names = ["CONTRACT_VALUE", *sorted(SECRET_NAMES)]
    task = harness.task("environment", names=",".join(names))
    # A task that asks for a secret by name does not get it either.
    task.job.env.update({"CONTRACT_VALUE": "42", "KUBELINE_COOKIE": "asked-for"})
    outcome = harness.run(task)
    assert outcome.exit_code == 0
    result = "Output" if harness.flavor.style == "python" else "values"
    assert task.outputs()[result] == ",".join(["42", *["-"] * len(SECRET_NAMES)])


def test_the_tasks_output_goes_to_its_log(harness: Harness) -> None:
    task = harness.task("add", a=1, b=1)
    assert harness.run(task).exit_code == 0
    assert "adding on stdout" in task.log()
    assert "and a word on stderr" in task.log()


def test_many_jobs_submitted_at_once_all_finish_with_their_own_results(
    harness: Harness,
) -> None:
    tasks = [harness.task("add", a=n, b=100) for n in range(12)]
    futures: list[Future[Outcome]] = [harness.executor.submit(t.job) for t in tasks]
    for n, (task, future) in enumerate(zip(tasks, futures, strict=True)):
        assert future.result(timeout=120).exit_code == 0
        assert task.outputs()[RESULT[harness.flavor.style]] == n + 100


def test_close_waits_for_running_jobs(harness: Harness) -> None:
    future = harness.executor.submit(harness.task("wait", seconds=0.5).job)
    harness.executor.close()
    assert future.done()
    assert future.result().exit_code == 0


# ------------------------------------------------------------------- containers (#15)
@pytest.fixture(params=_params([f for f in FLAVORS if f.in_container]))
def container_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from _harness(request, tmp_path)


def _containers_of(task: Task) -> list[str]:
    from kubeline.engine.executors.container import LABEL

    listed = subprocess.run(
        ["docker", "ps", "--all", "--quiet", "--filter", f"label={LABEL}={task.job.task_root}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return listed.stdout.split()


def test_cancel_stops_a_stubborn_container_and_removes_it(container_harness: Harness) -> None:
    """A container whose program ignores SIGTERM is stopped after the grace period (the
    runtime's kill), and is gone afterwards, as a pod once its task ends. (A Python
    component's SIGTERM handler does not hold: the compiled command's shell, which runs it,
    ends on SIGTERM, and the container with it.)"""
    harness = container_harness
    task = harness.task("leave_running", stubborn=True, then_wait=600.0)
    future = harness.executor.submit(task.job)
    _wait_for_log(task, "left ", timeout=60)
    assert len(_containers_of(task)) == 1
    asked = time.monotonic()
    harness.executor.cancel()
    outcome = future.result(timeout=GRACE + 30)
    assert outcome.exit_code < 0
    if harness.flavor.style == "command":  # its shell ignores SIGTERM: killed after the grace
        assert time.monotonic() - asked >= GRACE - 0.5
    deadline = time.monotonic() + 15
    while _containers_of(task) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _containers_of(task) == []
