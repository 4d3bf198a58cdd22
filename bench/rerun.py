"""``rerun``: ``sklearn13`` run again, unchanged, on the same kubeline home (and in the
same kfp.local session with its cache on), so every task can come from the cache. The
second run's time as a share of the first says how much a cache hit still costs.

Goal: kubeline's second run at most 10% of its first.
"""

from __future__ import annotations

from bench.context import Context
from bench.pipelines import SKLEARN_EXECUTOR_TASKS
from bench.report import Figure, Row
from bench.sklearn13 import sklearn_runs

__all__ = ["NAME", "run"]

NAME = "rerun"
GOAL_PERCENT = 10.0


def run(ctx: Context) -> list[Row]:
    runs = sklearn_runs(ctx)
    peer_first, peer_second = runs.peer
    ours_first, ours_second = runs.ours.runs
    ours_percent = 100 * ours_second.seconds / ours_first.seconds
    peer_percent = 100 * peer_second.seconds / peer_first.seconds
    return [
        Row(
            NAME,
            "second run, wall time",
            Figure(peer_second.seconds),
            Figure(ours_second.seconds),
        ),
        Row(
            NAME,
            "second run as % of the first",
            Figure(peer_percent, "percent"),
            Figure(ours_percent, "percent"),
            goal=f"<= {GOAL_PERCENT:.0f}%",
            met=ours_percent <= GOAL_PERCENT,
        ),
        Row(
            NAME,
            f"second run, tasks run again (of {SKLEARN_EXECUTOR_TASKS}; the rest from the cache)",
            Figure(peer_second.tasks_run, "count"),
            Figure(ours_second.tasks_run, "count"),
        ),
    ]
