"""The live display: counts from the engine's events, throttled updates, a final state
that reads as static HTML and as one line of text."""

from __future__ import annotations

import time
from typing import Any

from kubeline.engine import TaskEvent
from kubeline.notebook import LiveProgress, in_kernel


class FakeHandle:
    def __init__(self) -> None:
        self.bundles: list[dict[str, str]] = []

    def update(self, bundle: dict[str, str], raw: bool = False) -> None:
        assert raw
        self.bundles.append(bundle)


def fake_display() -> tuple[Any, FakeHandle]:
    handle = FakeHandle()

    def display(bundle: dict[str, str], raw: bool, display_id: bool) -> FakeHandle:
        assert raw and display_id
        handle.bundles.append(bundle)
        return handle

    return display, handle


def test_a_big_parallel_for_is_drawn_a_few_times_not_per_event() -> None:
    display, handle = fake_display()
    live = LiveProgress("fan-out", interval=0.5, display=display).start()
    for i in range(200):
        path = f"for-loop-2/iteration-{i}/run-trial"
        live(TaskEvent(kind="started", task=path, state="RUNNING"))
        live(TaskEvent(kind="finished", task=path, state="SUCCEEDED", seconds=0.01))
    live(TaskEvent(kind="finished", task="for-loop-2", state="SUCCEEDED", node_kind="loop"))
    live.finish()
    assert len(handle.bundles) <= 6  # the first display, one throttled update, the last
    final = handle.bundles[-1]
    assert final["text/plain"].startswith("fan-out: RUNNING")
    assert "200 done, 0 running, 0 failed, 0 cached" in final["text/plain"]
    html = final["text/html"]
    assert "for-loop-2/*/run-trial" in html  # 200 iterations in one row
    assert "<script" not in html


def test_failed_and_cached_tasks_are_counted_and_names_escaped() -> None:
    display, handle = fake_display()
    live = LiveProgress("<b>p</b>", interval=0.0, display=display).start()
    live(TaskEvent(kind="cached", task="<script>", state="CACHED"))
    live(TaskEvent(kind="started", task="b", state="RUNNING"))
    live(TaskEvent(kind="finished", task="b", state="FAILED", error="boom"))
    live.finish(error="ValueError: boom")
    final = handle.bundles[-1]
    assert "0 done, 0 running, 1 failed, 1 cached" in final["text/plain"]
    assert "FAILED" in final["text/plain"]
    assert "&lt;script&gt;" in final["text/html"] and "&lt;b&gt;p&lt;/b&gt;" in final["text/html"]
    assert "ValueError: boom" in final["text/html"]


def test_the_ticker_moves_the_clock_while_a_task_runs() -> None:
    display, handle = fake_display()
    live = LiveProgress("long", interval=0.2, display=display).start()
    live(TaskEvent(kind="started", task="train", state="RUNNING"))
    time.sleep(2.3)
    live.finish()
    assert len(handle.bundles) >= 3  # ticks with no event at all


def test_a_script_is_not_a_kernel() -> None:
    assert in_kernel() is False
