"""KUBELINE_START_METHOD=spawn: Python tasks start as they do on Windows (one fresh
interpreter each, no warm fork parent), so `python3 tasks.py test`'s spawn pass runs the
engine and conformance tests on that path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from kubeline.engine import run_pipeline, start_fork_server
from kubeline.engine.executors import RoutingExecutor, local_executor
from kubeline.engine.executors.admission import AdmissionController
from kubeline.engine.executors.forked import ForkedExecutor
from kubeline.engine.executors.spawned import SpawnedExecutor
from kubeline.engine.forkserver import ForkServerClient
from kubeline.engine.leaf import LeafJob
from kubeline.engine.startmethod import START_METHOD_ENV, StartMethod, start_method
from kubeline.errors import ConfigError
from kubeline.pipelines.compile import compile_function
from tests.engine import start_method_pipelines as sm
from tests.requirements import exempt_reason

needs_fork = pytest.mark.skipif(
    not hasattr(os, "fork"), reason=exempt_reason("Windows", "no os.fork: always spawned")
)


def _counted_fork_servers(monkeypatch: pytest.MonkeyPatch) -> list[ForkServerClient]:
    started: list[ForkServerClient] = []
    original = ForkServerClient.__init__

    def counting(self: ForkServerClient, preload: list[str]) -> None:
        original(self, preload)
        started.append(self)

    monkeypatch.setattr(ForkServerClient, "__init__", counting)
    return started


def _whoami(monkeypatch: pytest.MonkeyPatch, method: str) -> tuple[int, int, str, int]:
    """Run the one-task pipeline under ``method``: the task's parent and grandparent pids,
    whether it had kubeline imported, and how many warm parents the run started."""
    monkeypatch.setenv(START_METHOD_ENV, method)
    started = _counted_fork_servers(monkeypatch)
    result = run_pipeline(compile_function(sm.one_task), {}, enable_caching=False)
    assert result.state == "SUCCEEDED", result.error
    ppid, grandparent, kubeline = str(result.outputs["Output"]).split(":", 2)
    return int(ppid), int(grandparent), kubeline, len(started)


def test_under_the_switch_a_task_is_a_fresh_interpreter_started_by_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ppid, grandparent, kubeline, fork_servers = _whoami(monkeypatch, "spawn")
    # Started by this process (the engine) as a fresh interpreter running the task program
    # as a plain script (no kubeline imported): the spawned executor's command, not a
    # child of a warm parent. On POSIX the task's leader stands in between.
    engine = grandparent if os.name == "posix" else ppid
    assert (engine, kubeline, fork_servers) == (os.getpid(), "False", 0)


@needs_fork
def test_by_default_a_task_is_forked_from_the_warm_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same observation tells the two paths apart.
    ppid, _, kubeline, fork_servers = _whoami(monkeypatch, "fork")
    assert (kubeline, fork_servers) == ("True", 1)
    assert ppid != os.getpid()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("spawn", "spawn"), (" Spawn ", "spawn"), ("fork", "fork"), ("", "fork")],
)
def test_the_switch_reads_fork_or_spawn(value: str, expected: str) -> None:
    if not hasattr(os, "fork"):
        expected = "spawn"
    assert start_method({START_METHOD_ENV: value}) == expected
    assert start_method({}) == ("fork" if hasattr(os, "fork") else "spawn")


def test_any_other_value_is_refused_before_the_run_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError, match=START_METHOD_ENV):
        start_method({START_METHOD_ENV: "forkserver"})
    monkeypatch.setenv(START_METHOD_ENV, "threads")
    with pytest.raises(ConfigError, match="'fork' or 'spawn'"):
        run_pipeline(compile_function(sm.one_task), {})


def _python_executor(method: StartMethod | None) -> object:
    executor = local_executor(admission=AdmissionController(cores=2, probe=None), method=method)
    try:
        assert isinstance(executor, RoutingExecutor)
        job = LeafJob(kind="python", task_path="t", log_path=os.devnull, task_root="/tmp")
        return next(e for accepts, e in executor.routes if accepts(job))
    finally:
        executor.close()


@needs_fork
def test_the_local_executor_and_the_early_start_follow_the_switch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = compile_function(sm.one_task)
    monkeypatch.setenv(START_METHOD_ENV, "spawn")
    assert isinstance(_python_executor(None), SpawnedExecutor)
    assert start_fork_server(spec) is None  # what the CLI's early start calls
    assert isinstance(_python_executor("fork"), ForkedExecutor)  # an explicit choice wins
    monkeypatch.setenv(START_METHOD_ENV, "fork")
    assert isinstance(_python_executor(None), ForkedExecutor)
    assert isinstance(_python_executor("spawn"), SpawnedExecutor)
    assert start_fork_server(spec, method="spawn") is None


@needs_fork
def test_the_clis_early_start_starts_no_warm_parent_under_the_switch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kubeline.cli import prestart
    from kubeline.cli.runline import read_run_line

    path = tmp_path / "whoami.yaml"
    path.write_text(yaml.safe_dump(compile_function(sm.one_task)), encoding="utf-8")
    line = read_run_line(["run", str(path)])
    monkeypatch.setenv(START_METHOD_ENV, "spawn")
    prestart.start_early(line)
    assert prestart.take() is None
    monkeypatch.setenv(START_METHOD_ENV, "fork")  # the same line does start one by default
    prestart.start_early(line)
    server = prestart.take()
    try:
        assert isinstance(server, ForkServerClient)
    finally:
        prestart.close()
        if server is not None:
            server.close()
