"""The scheduler and runner with a stand-in executor: the real plan, leaf building and
store, and no process at all (an executor is anything with submit / wait / cancel)."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kubeline.engine.arguments import CheckedArguments, resolve_arguments
from kubeline.engine.executors.base import Executor, Outcome, TaskError
from kubeline.engine.leaf import LeafJob
from kubeline.engine.options import RunOptions
from kubeline.engine.results import RunResult, TaskEvent
from kubeline.engine.runner import RunControl, execute_run, record_run
from kubeline.pipelines.compile import compile_function
from kubeline.store import RunStore, TaskRecord
from tests.engine import pipelines as p


class FakeExecutor(Executor):
    """Ends every job at once with the next of ``outcomes`` (the last one repeats)."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes) or [Outcome(exit_code=0)]
        self.jobs: list[LeafJob] = []
        self.canceled = self.closed = False
        self.capacity = 2

    def submit(self, job: LeafJob) -> Future[Outcome]:
        self.jobs.append(job)
        future: Future[Outcome] = Future()
        future.set_result(self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0])
        return future

    def cancel(self, force: bool = False) -> None:
        self.canceled = True

    def close(self) -> None:
        self.closed = True


def _run(
    tmp_path: Path, executor: Executor, control: RunControl | None = None, **options: object
) -> RunResult:
    spec = compile_function(p.host_commands)
    with RunStore.for_home(tmp_path) as store:
        record = record_run(spec, {"message": "hi"}, home=tmp_path, store=store)
        return execute_run(
            record,
            home=tmp_path,
            store=store,
            options=RunOptions(executor=executor, **options),  # type: ignore[arg-type]
            control=control,
        )


def test_a_task_error_is_recorded_as_data(tmp_path: Path) -> None:
    error = TaskError("kubeline.errors.DataError", "column 'x' is missing", user_error=True)
    executor = FakeExecutor(Outcome(exit_code=1, error=error))
    result = _run(tmp_path, executor)
    task = result.failed_task
    assert result.state == "FAILED" and task is not None and task.name == "echo"
    assert task.error == "kubeline.errors.DataError: column 'x' is missing"
    assert (task.error_type, task.user_error) == ("kubeline.errors.DataError", True)
    assert result.user_error and result.error_message == "column 'x' is missing"
    assert executor.jobs[0].argv == ["echo", "hi"] and executor.closed


def test_a_task_that_writes_no_error_fails_with_how_it_exited(tmp_path: Path) -> None:
    result = _run(tmp_path, FakeExecutor(Outcome(exit_code=3)))
    task = result.failed_task
    assert task is not None and task.error == "exited with code 3"
    assert (task.error_type, task.user_error) == (None, False) and not result.user_error
    assert result.error == "Task 'echo' failed: exited with code 3"


def test_a_run_succeeds_and_says_when_the_task_really_started(tmp_path: Path) -> None:
    started = datetime(2030, 1, 1, tzinfo=timezone.utc)
    events: list[TaskEvent] = []
    result = _run(
        tmp_path, FakeExecutor(Outcome(exit_code=0, started_at=started)), on_event=events.append
    )
    assert result.state == "SUCCEEDED" and result.error is None
    (task,) = result.tasks
    assert task.started_at == started and task.attempts == 1 and task.exit_code == 0
    assert [(e.kind, e.task, e.state) for e in events] == [
        ("started", "echo", "RUNNING"),
        ("finished", "echo", "SUCCEEDED"),
    ]


def test_a_run_canceled_before_it_starts_runs_nothing(tmp_path: Path) -> None:
    control = RunControl(canceled_state="FAILED")
    control.cancel("stopped by a test")
    executor = FakeExecutor()
    result = _run(tmp_path, executor, control=control)
    assert executor.canceled and executor.jobs == []
    assert (result.state, result.error) == ("FAILED", "stopped by a test")
    assert [(t.state, t.error) for t in result.tasks] == [("CANCELED", "canceled before it ran")]


def test_arguments_are_checked_once() -> None:
    spec = compile_function(p.two_step)
    checked = resolve_arguments(spec, {"text": "a"})
    assert isinstance(checked, CheckedArguments) and checked == {"text": "a"}
    assert resolve_arguments(spec, checked) is checked  # the layers below take it as it is


def _task(**fields: object) -> TaskRecord:
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    base = {
        "task_id": "t",
        "run_id": "r",
        "name": "validate",
        "path": "validate",
        "kind": "executor",
        "state": "FAILED",
        "created_at": now,
    }
    return TaskRecord(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "user_error"),
    [
        ({"error": "ValueError: x", "error_type": "ValueError"}, False),
        (
            {
                "error": "DataError: x",
                "error_type": "kubeline.errors.DataError",
                "user_error": True,
            },
            True,
        ),
        ({"error": "kubeline.errors.DataError: x"}, True),
        ({"error": "ValueError: x"}, False),
    ],
    ids=["data-not-user", "data-user", "old-row-user", "old-row-not-user"],
)
def test_user_error_reads_the_structured_field_and_old_rows_text(
    tmp_path: Path, fields: dict[str, object], user_error: bool
) -> None:
    with RunStore.for_home(tmp_path) as store:
        record = record_run(compile_function(p.two_step), home=tmp_path, store=store)
    result = RunResult(run=record, tasks=[_task(**fields)])
    assert result.user_error is user_error


def test_a_retried_task_says_each_attempt_and_when_the_last_started(tmp_path: Path) -> None:
    first = datetime(2030, 1, 1, tzinfo=timezone.utc)
    second = datetime(2030, 1, 2, tzinfo=timezone.utc)
    spec = compile_function(p.host_commands)
    spec["root"]["dag"]["tasks"]["echo"]["retryPolicy"] = {"maxRetryCount": 1}
    events: list[TaskEvent] = []
    executor = FakeExecutor(Outcome(2, started_at=first), Outcome(0, started_at=second))
    with RunStore.for_home(tmp_path) as store:
        record = record_run(spec, {}, home=tmp_path, store=store)
        result = execute_run(
            record,
            home=tmp_path,
            store=store,
            options=RunOptions(executor=executor, on_event=events.append),
        )
    (task,) = result.tasks
    assert (result.state, task.attempts, task.started_at) == ("SUCCEEDED", 2, second)
    assert [e.kind for e in events] == ["started", "retrying", "finished"]
    assert len(executor.jobs) == 2


def test_a_task_that_runs_is_written_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its row is added as it starts (attempt 1) and completed as it ends (with when it
    really started): no write in between."""
    from kubeline.store.tasks import Tasks

    writes: list[str] = []
    add, update = Tasks.add, Tasks.update
    monkeypatch.setattr(Tasks, "add", lambda self, t: (writes.append("add"), add(self, t))[1])
    monkeypatch.setattr(
        Tasks, "update", lambda self, i, **f: (writes.append("update"), update(self, i, **f))[1]
    )
    started = datetime(2030, 1, 1, tzinfo=timezone.utc)
    result = _run(tmp_path, FakeExecutor(Outcome(0, started_at=started)))
    assert writes == ["add", "update"]
    assert result.tasks[0].started_at == started and result.tasks[0].attempts == 1
