"""``sleep8``: independent tasks that each sleep, with one kubeline worker per task, so
the wall time shows whether the engine really runs them side by side (the sleeps need no
CPU, so this holds on a 2-core machine too).

Goal: kubeline's wall time at most the sleep plus 0.3 s (1.3 s at full size).
"""

from __future__ import annotations

from bench.context import Context
from bench.ours import run_ours
from bench.peers import run_peer
from bench.pipelines import sleep_pipeline
from bench.report import Figure, Row

__all__ = ["NAME", "run"]

NAME = "sleep8"
SLACK_SECONDS = 0.3
_TIMEOUT = 600.0


def run(ctx: Context) -> list[Row]:
    tasks, seconds = ctx.sizes.sleep_tasks, ctx.sizes.sleep_seconds
    pipeline_yaml = ctx.compiled(f"sleep{tasks}", sleep_pipeline(tasks))
    arguments = {"seconds": seconds}
    peer = run_peer(ctx.folder("sleep-peer"), pipeline_yaml, arguments, timeout=_TIMEOUT)[0]
    ours = run_ours(
        ctx.folder("sleep-kubeline"), pipeline_yaml, arguments, workers=tasks, timeout=_TIMEOUT
    ).runs[0]
    goal = seconds + SLACK_SECONDS
    return [
        Row(
            NAME,
            f"wall time ({tasks} tasks x {seconds:g} s sleep; kubeline workers={tasks})",
            Figure(peer.seconds),
            Figure(ours.seconds),
            goal=f"<= {goal:.1f} s",
            met=ours.seconds <= goal,
        ),
        Row(
            NAME,
            "engine start-up (until the first task starts)",
            None,
            Figure(ours.first_start or 0.0),
        ),
    ]
