"""The process's admission decisions about a run's tasks are kept with the run (its last
:data:`~kubeline.engine.recorder.EVENTS_KEPT`), so ``kubeline runs show`` and the run page
can say why a task waited or started beyond the core count."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kubeline.engine import recorder as recorder_module
from kubeline.engine.recorder import EVENTS_KEPT, Recorder
from kubeline.engine.results import TaskEvent
from kubeline.store import RunStore
from kubeline.store.runs import Runs
from tests.cli.test_cli import NAPS
from tests.conftest import run_cli
from tests.store.conftest import make_run

T0 = datetime(2026, 12, 7, 5, 0, tzinfo=timezone.utc)


def _decision(i: int, admitted: bool = True) -> TaskEvent:
    message = f"started as task {i}" if admitted else "waits for the CPU"
    state = "RUNNING" if admitted else "PENDING"
    return TaskEvent("admission", f"loop/iteration-{i}/t", state, "admission", detail=message)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_last_decisions_are_kept_and_written_at_most_once_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock()
    monkeypatch.setattr(recorder_module.time, "monotonic", clock)
    writes: list[int] = []
    update = Runs.update

    def counted(self: Runs, run_id: str, /, **fields: object) -> bool:
        if "events" in fields:
            writes.append(len(fields["events"]))  # type: ignore[arg-type]  # a list here
        return update(self, run_id, **fields)

    monkeypatch.setattr(Runs, "update", counted)
    with RunStore.for_home(tmp_path) as store:
        store.runs.add(make_run("r", events=[]))
        recorder = Recorder(store, "r")
        recorder.event(_decision(0, admitted=False), T0)
        assert writes == [1]  # the first at once
        for i in range(1, EVENTS_KEPT + 50):
            recorder.event(_decision(i), T0 + timedelta(seconds=i))
        assert writes == [1]  # the rest within the second wait
        clock.now += recorder_module.EVENTS_EVERY
        recorder.event(_decision(EVENTS_KEPT + 50), T0)
        assert writes == [1, EVENTS_KEPT]
        recorder.event(_decision(EVENTS_KEPT + 51), T0)
        recorder.run_ended("SUCCEEDED", None, {})  # the run's end writes what waits
        assert writes == [1, EVENTS_KEPT, EVENTS_KEPT]
        events = store.runs.get("r").events  # type: ignore[union-attr]
    assert len(events) == EVENTS_KEPT
    assert events[-1] == {
        "at": T0.isoformat(),
        "kind": "admission",
        "task": f"loop/iteration-{EVENTS_KEPT + 51}/t",
        "state": "RUNNING",
        "message": f"started as task {EVENTS_KEPT + 51}",
    }
    assert events[0]["task"] == "loop/iteration-52/t"  # the oldest ones dropped


def test_a_run_without_decisions_writes_none_and_a_retry_keeps_the_earlier_ones(
    tmp_path: Path,
) -> None:
    with RunStore.for_home(tmp_path) as store:
        earlier = [{"at": T0.isoformat(), "kind": "admission", "task": "a", "state": "PENDING"}]
        store.runs.add(make_run("r", events=earlier))
        Recorder(store, "r").run_ended("SUCCEEDED", None, {})
        assert store.runs.get("r").events == earlier  # type: ignore[union-attr]
        again = Recorder(store, "r")  # the server's retry records into the same run
        again.event(_decision(1), T0)
        again.run_ended("SUCCEEDED", None, {})
        events = store.runs.get("r").events  # type: ignore[union-attr]
    assert [e["task"] for e in events] == ["a", "loop/iteration-1/t"]


def test_runs_show_lists_the_admission_of_a_run_of_sleeping_tasks(
    tmp_path: Path, kubeline_home: Path
) -> None:
    """Six sleeping tasks on a machine with fewer than six cores: some wait for the
    admission or start beyond the core count, and the run keeps those decisions."""
    path = tmp_path / "naps.py"
    path.write_text(NAPS)
    done = run_cli("run", f"{path}:naps", "--output", "json", home=kubeline_home)
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    shown = json.loads(
        run_cli("runs", "show", run_id, "--output", "json", home=kubeline_home).stdout
    )
    events = shown["events"]
    if (os.cpu_count() or 1) < 6:
        assert events
    said = ("waits for the CPU", "started as task")
    assert all(e["kind"] == "admission" and e["task"].endswith("/nap") for e in events)
    assert all(any(s in e["message"] for s in said) for e in events)
    assert all(datetime.fromisoformat(e["at"]).tzinfo is not None for e in events)
    text = run_cli("runs", "show", run_id, home=kubeline_home)
    assert text.returncode == 0, text.stderr
    if events:
        assert "Admission" in text.stdout and events[-1]["message"] in text.stdout
