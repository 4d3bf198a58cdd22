"""``sklearn13``: a 13-task scikit-learn pipeline with the shapes real pipelines have
(branches, a nested pipeline, a ParallelFor with a Collected fan-in, If/Else), on
breast_cancer. Each task imports pandas and scikit-learn: the peer pays those imports in
every task, kubeline's warm parent pays them once.

Both engines run with their task cache on and empty (kubeline's default; kfp.local's
``enable_caching=True``), then run again unchanged: the first runs are this benchmark,
the second runs are ``rerun``'s, so the pipeline is run once per engine for both.

Goal: kubeline at least 8x faster than the peer.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.context import Context
from bench.ours import OurResult, run_ours
from bench.peers import PeerRun, run_peer
from bench.pipelines import SKLEARN_EXECUTOR_TASKS, sklearn_pipeline
from bench.report import Figure, Row

__all__ = ["NAME", "SklearnRuns", "run", "sklearn_runs"]

NAME = "sklearn13"
GOAL_SPEED_UP = 8.0
_TIMEOUT = 1800.0


@dataclass(frozen=True)
class SklearnRuns:
    """Two runs of the pipeline per engine: on an empty cache, then unchanged."""

    peer: list[PeerRun]
    ours: OurResult


def sklearn_runs(ctx: Context) -> SklearnRuns:
    """The runs ``sklearn13`` and ``rerun`` share, measured once per session."""

    def measure() -> SklearnRuns:
        pipeline_yaml = ctx.compiled("sklearn13", sklearn_pipeline)
        peer = run_peer(
            ctx.folder("sklearn-peer"), pipeline_yaml, runs=2, caching=True, timeout=_TIMEOUT
        )
        ours = run_ours(ctx.folder("sklearn-kubeline"), pipeline_yaml, runs=2, timeout=_TIMEOUT)
        return SklearnRuns(peer=peer, ours=ours)

    return ctx.once("sklearn13-runs", measure)


def run(ctx: Context) -> list[Row]:
    runs = sklearn_runs(ctx)
    peer, ours = runs.peer[0], runs.ours.runs[0]
    speed_up = peer.seconds / ours.seconds
    rows = [
        Row(
            NAME,
            f"wall time ({ours.finished} executor tasks)",
            Figure(peer.seconds),
            Figure(ours.seconds),
            goal=f">= {GOAL_SPEED_UP:.0f}x faster",
            met=speed_up >= GOAL_SPEED_UP,
        )
    ]
    if ours.finished != SKLEARN_EXECUTOR_TASKS:
        rows.append(
            Row(
                NAME,
                f"WARNING: executor tasks run (expected {SKLEARN_EXECUTOR_TASKS})",
                None,
                Figure(ours.finished, "count"),
                compare=False,
            )
        )
    return rows
