"""The engine with real processes, the real KFP executor and a real SQLite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from kubeline.engine import TaskEvent, run_pipeline
from kubeline.engine.forkserver import ForkServerClient
from kubeline.engine.runner import ORPHAN_REASON
from kubeline.engine.startmethod import START_METHOD_ENV
from kubeline.errors import ConfigError
from kubeline.pipelines.compile import compile_function, compile_to_spec
from kubeline.store import RunRecord, RunStore, TaskRecord
from tests.engine import pipelines as p


def spec_of(pipeline: Any) -> dict[str, Any]:
    return compile_function(pipeline)


def _leaves(result: Any) -> dict[str, Any]:
    return {t.path: t for t in result.tasks if t.kind == "executor"}


def _intervals(result: Any) -> list[tuple[float, float]]:
    """(start, end) wall-clock seconds each stamp task measured itself."""
    spans = []
    for task in _leaves(result).values():
        _, start, end = task.outputs["parameters"]["Output"].rsplit(":", 2)
        spans.append((float(start), float(end)))
    return spans


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test of the warm fork parent itself pins fork (so it holds in the spawn pass too)."""
    monkeypatch.setenv(START_METHOD_ENV, "fork")


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def test_independent_tasks_run_at_the_same_time(tmp_path: Path) -> None:
    # Each task waits for the other three (bounded): only tasks running together can meet.
    args = {"folder": str(tmp_path / "meet"), "count": 4}
    result = run_pipeline(spec_of(p.meeting), args, workers=4)
    assert result.state == "SUCCEEDED"
    assert _most_at_once(_intervals(result)) == 4


@pytest.mark.usefixtures("forked")
def test_a_run_starts_one_warm_parent_and_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[ForkServerClient] = []
    original = ForkServerClient.__init__

    def counting(self: ForkServerClient, preload: list[str]) -> None:
        original(self, preload)
        started.append(self)

    monkeypatch.setattr(ForkServerClient, "__init__", counting)
    result = run_pipeline(spec_of(p.fan_out), {"seconds": 0.1}, workers=4)
    assert result.state == "SUCCEEDED"
    assert len(started) == 1
    assert started[0]._process.poll() is not None  # closed when the run ended


def test_worker_limit_caps_tasks_at_once(tmp_path: Path) -> None:
    # Two tasks meet (so two did run at once), then stay a while: a third beside them would
    # break the cap.
    args = {"folder": str(tmp_path / "meet"), "count": 2, "seconds": 0.5}
    result = run_pipeline(spec_of(p.meeting), args, workers=2)
    assert result.state == "SUCCEEDED"
    assert _most_at_once(_intervals(result)) == 2


def test_parallel_for_parallelism_limit_is_honoured(tmp_path: Path) -> None:
    args = {"folder": str(tmp_path / "meet"), "count": 2, "seconds": 0.4}
    result = run_pipeline(spec_of(p.loop_meeting), args, workers=6)
    assert result.state == "SUCCEEDED"
    spans = _intervals(result)
    assert len(spans) == 6
    assert _most_at_once(spans) == 2
    loop = next(t for t in result.tasks if t.kind == "loop")
    assert sum(t.kind == "iteration" for t in result.tasks) == 6
    assert all(t.parent_task_id == loop.task_id for t in result.tasks if t.kind == "iteration")


def test_unchanged_rerun_is_all_cache_hits_with_the_same_outputs() -> None:
    spec = spec_of(p.two_step)
    first = run_pipeline(spec, {"text": "abc"})
    again = run_pipeline(spec, {"text": "abc"})
    assert first.outputs == again.outputs == {"Output": "ABC"}
    assert all(t.cache_hit for t in _leaves(again).values())
    assert not any(t.cache_hit for t in _leaves(first).values())


def test_changing_one_parameter_reruns_only_what_depends_on_it() -> None:
    spec = spec_of(p.two_step)
    run_pipeline(spec, {"text": "abc", "other": "x"})
    changed = run_pipeline(spec, {"text": "abc", "other": "y"})
    hits = {t.name: t.cache_hit for t in _leaves(changed).values()}
    assert hits == {"write-text": True, "read-text": True, "stamp": False}


def test_cache_is_by_content_not_by_path() -> None:
    """A re-run upstream task that writes the same bytes to a new path still gives its
    consumer a hit."""
    spec = spec_of(p.two_step)
    first = run_pipeline(spec, {"text": "same"})
    spec["root"]["dag"]["tasks"]["write-text"]["cachingOptions"] = {}  # never cached
    again = run_pipeline(spec, {"text": "same"})
    leaves = {t.name: t for t in _leaves(again).values()}
    assert not leaves["write-text"].cache_hit
    assert leaves["read-text"].cache_hit
    first_uri = next(t for t in first.tasks if t.name == "write-text").outputs["artifacts"]
    assert leaves["write-text"].outputs["artifacts"] != first_uri  # a new path


def test_no_cache_runs_everything_again() -> None:
    spec = spec_of(p.two_step)
    run_pipeline(spec, {"text": "abc"})
    again = run_pipeline(spec, {"text": "abc"}, enable_caching=False)
    assert not any(t.cache_hit for t in again.tasks)


def test_cached_files_removed_means_run_again() -> None:
    spec = spec_of(p.two_step)
    first = run_pipeline(spec, {"text": "gone"})
    written = next(t for t in first.tasks if t.name == "write-text")
    Path(written.outputs["artifacts"]["out"][0]).unlink()
    again = run_pipeline(spec, {"text": "gone"})
    assert not next(t for t in again.tasks if t.name == "write-text").cache_hit
    assert again.outputs == {"Output": "GONE"}


def test_retry_policy_tries_again(tmp_path: Path) -> None:
    events: list[TaskEvent] = []
    result = run_pipeline(
        spec_of(p.retrying), {"counter_path": str(tmp_path / "n")}, on_event=events.append
    )
    assert result.state == "SUCCEEDED"
    assert result.outputs == {"Output": "attempt=2"}
    assert _leaves(result)["flaky"].attempts == 2
    assert [e.kind for e in events if e.task == "flaky"] == ["started", "retrying", "finished"]


def test_failure_names_the_task_and_error_and_skips_downstream() -> None:
    from tests.cli.test_cli import TINY

    path = Path(os.environ["KUBELINE_HOME"]) / "tiny.py"
    path.write_text(TINY)
    result = run_pipeline(compile_to_spec(f"{path}:broken"), {})
    assert result.state == "FAILED"
    assert result.failed_task is not None and result.failed_task.name == "explode"
    assert result.failed_task.error == "ValueError: cannot take 2"
    assert "Task 'explode' failed: ValueError: cannot take 2" in (result.error or "")
    assert Path(result.failed_task.log_path or "").read_text().count("Traceback") == 1


def test_unsatisfied_package_fails_naming_it() -> None:
    result = run_pipeline(spec_of(p.missing_package), {})
    assert result.state == "FAILED"
    assert "no-such-package-kubeline-test==1.0 (not installed)" in (result.error or "")
    assert "--allow-installs" in (result.error or "")


def test_container_component_runs_its_command_on_the_host() -> None:
    result = run_pipeline(spec_of(p.host_commands), {"message": "hello from echo"})
    assert result.state == "SUCCEEDED"
    log = Path(_leaves(result)["echo"].log_path or "").read_text()
    assert "hello from echo" in log


def test_missing_host_program_is_a_clear_failure() -> None:
    result = run_pipeline(spec_of(p.missing_program_pipeline), {})
    assert result.state == "FAILED"
    assert "'kubeline-no-such-program' is not installed on this machine" in (result.error or "")
    assert "image 'alpine'" in (result.error or "")


def test_bad_arguments_are_refused_before_anything_runs(kubeline_home: Path) -> None:
    with pytest.raises(ConfigError, match="'seconds' expects a number"):
        run_pipeline(spec_of(p.fan_out), {"seconds": "soon"})
    assert not (kubeline_home / "runs").exists()


def test_kubernetes_only_settings_are_reported() -> None:
    spec = spec_of(p.host_commands)
    executor = next(iter(spec["deploymentSpec"]["executors"].values()))
    executor["container"]["resources"] = {"cpuLimit": 4, "memoryLimit": 8.0}
    result = run_pipeline(spec, {})
    assert result.state == "SUCCEEDED"
    assert any("a CPU limit, a memory limit" in note for note in result.notes)


def test_a_run_left_running_by_a_dead_process_is_marked_failed(kubeline_home: Path) -> None:
    store = RunStore.for_home(kubeline_home)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    now = datetime.now(timezone.utc)
    store.runs.add(
        RunRecord(
            run_id="orphan",
            pipeline_name="x",
            state="RUNNING",
            created_at=now,
            host=os.uname().nodename if hasattr(os, "uname") else "",
            pid=int(dead.stdout),
        )
    )
    store.tasks.add(
        TaskRecord(
            task_id="t1",
            run_id="orphan",
            name="a",
            path="a",
            kind="executor",
            state="RUNNING",
            created_at=now,
        )
    )
    run_pipeline(spec_of(p.host_commands), {})
    orphan = store.runs.get("orphan")
    assert orphan is not None and orphan.state == "FAILED"
    assert orphan.error == ORPHAN_REASON
    assert store.tasks.list("orphan")[0].state == "FAILED"


def test_ctrl_c_cancels_the_run_and_leaves_the_store_consistent(
    tmp_path: Path, kubeline_home: Path
) -> None:
    compiled = tmp_path / "sleeper.yaml"
    from kubeline.pipelines.compile import compile_pipeline

    compile_pipeline(spec_of(p.sleeper), compiled)
    env = {**os.environ, "KUBELINE_HOME": str(kubeline_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubeline", "run", str(compiled)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    store = RunStore.for_home(kubeline_home)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the task is running (bounded poll)
        runs = store.runs.list()
        if runs and any(
            t.state == "RUNNING" and t.kind == "executor" for t in store.tasks.list(runs[0].run_id)
        ):
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    run = store.runs.list()[0]
    assert run.state == "CANCELED"
    assert {t.state for t in store.tasks.list(run.run_id)} == {"CANCELED"}
    assert "Traceback" not in stderr


def test_python_api_runs_a_pipeline_function() -> None:
    import kubeline

    result = kubeline.run(p.two_step, {"text": "api"})
    assert result.state == "SUCCEEDED"
    assert result.outputs == {"Output": "API"}
    assert result.run_id.startswith("two-step-")
    assert {t.name for t in result.tasks} >= {"write-text", "read-text", "stamp"}


def test_importer_reads_a_local_path_and_an_fsspec_uri(tmp_path: Path) -> None:
    import fsspec

    local = tmp_path / "data.txt"
    local.write_text("local text")
    assert run_pipeline(spec_of(p.import_remote), {"uri": str(local)}).outputs == {
        "Output": "LOCAL TEXT"
    }
    with fsspec.open("memory://kubeline-test/data.txt", "w") as f:
        f.write("remote text")
    result = run_pipeline(spec_of(p.import_remote), {"uri": "memory://kubeline-test/data.txt"})
    assert result.outputs == {"Output": "REMOTE TEXT"}
    imported = next(t for t in result.tasks if t.kind == "importer")
    assert imported.state == "SUCCEEDED"


def test_a_failing_event_watcher_does_not_break_the_run() -> None:
    def broken(event: TaskEvent) -> None:
        raise ValueError("watcher bug")

    with pytest.warns(RuntimeWarning, match="watcher bug"):
        result = run_pipeline(spec_of(p.two_step), {}, on_event=broken)
    assert result.state == "SUCCEEDED"
    assert result.run.state == "SUCCEEDED"


@pytest.mark.usefixtures("forked")
def test_an_all_cached_run_does_not_wait_for_the_warm_parent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = spec_of(p.two_step)
    assert run_pipeline(spec, {}).state == "SUCCEEDED"
    # A warm parent that would take 120 s to get ready, as a slow import would.
    (tmp_path / "kubeline_slow_import_probe.py").write_text("import time\ntime.sleep(120)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    original = ForkServerClient.__init__
    original_close = ForkServerClient.close
    closes: list[float] = []

    def slow(self: ForkServerClient, preload: list[str]) -> None:
        original(self, [*preload, "kubeline_slow_import_probe"])

    def timed_close(self: ForkServerClient) -> None:
        began = time.monotonic()
        original_close(self)
        closes.append(time.monotonic() - began)

    monkeypatch.setattr(ForkServerClient, "__init__", slow)
    monkeypatch.setattr(ForkServerClient, "close", timed_close)
    started = time.monotonic()
    result = run_pipeline(spec, {})
    assert result.state == "SUCCEEDED"
    assert all(t.cache_hit for t in _leaves(result).values())
    # Killed at once: close() neither waits out the import nor its own 10 s grace. (Bounds
    # far from both, so a busy machine cannot break them.)
    assert len(closes) == 1 and closes[0] < 5
    assert time.monotonic() - started < 60


@pytest.mark.usefixtures("forked")
def test_warm_parent_learns_what_its_children_import() -> None:
    # The first task imports a module nothing preloaded; the warm parent then imports it
    # too, so the next task finds it already there.
    result = run_pipeline(spec_of(p.lazy_imports), {"module": "xml.dom.minidom"})
    assert result.state == "SUCCEEDED"
    tasks = sorted(_leaves(result).values(), key=lambda t: t.started_at)
    assert [t.outputs["parameters"]["Output"] for t in tasks] == [False, True]


@pytest.mark.usefixtures("forked")
def test_warm_parent_never_keeps_the_users_own_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module from the user's project (not installed) may change between tasks.
    (tmp_path / "kubeline_user_module_probe.py").write_text("VALUE = 1\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    result = run_pipeline(spec_of(p.lazy_imports), {"module": "kubeline_user_module_probe"})
    assert result.state == "SUCCEEDED"
    assert [t.outputs["parameters"]["Output"] for t in _leaves(result).values()] == [False, False]


def test_a_task_error_arrives_as_data() -> None:
    result = run_pipeline(spec_of(p.refusing), {}, enable_caching=False)
    task = result.failed_task
    assert task is not None and task.error == "kubeline.errors.DataError: column 'x' is missing"
    assert (task.error_type, task.user_error) == ("kubeline.errors.DataError", True)
    assert result.user_error and result.error_message == "column 'x' is missing"
