"""``lifecycle1m``: kubeline's own lifecycle pipeline on a generated 1,000,000-row,
20-feature binary classification dataset. The tasks do real work here, so the question is
what the engine adds around them: the time when no task was running, and the engine
process's own memory (the data stays in the task processes).

No peer: kfp.local was not run on this row.

Goals: engine overhead at most 10% of the wall time; engine peak RSS at most 300 MB.
"""

from __future__ import annotations

from bench.context import Context
from bench.data import write_dataset
from bench.measure import union_seconds
from bench.ours import run_ours
from bench.report import Figure, Row
from kubeline.pipelines.lifecycle import lifecycle_pipeline

__all__ = ["ARGUMENTS", "NAME", "run"]

NAME = "lifecycle1m"
GOAL_OVERHEAD_PERCENT = 10.0
GOAL_RSS_MB = 300.0
ARGUMENTS = {
    "families": ["hist_gradient_boosting", "logistic_regression"],
    "trials_per_family": 2,
    "target": "target",
    "cv_folds": 3,
}
_TIMEOUT = 4 * 3600.0
_NOT_RUN = "not run"


def run(ctx: Context) -> list[Row]:
    rows_count = ctx.sizes.rows
    dataset = write_dataset(ctx.folder("lifecycle-data"), rows_count)
    pipeline_yaml = ctx.compiled("lifecycle", lifecycle_pipeline)
    result = run_ours(
        ctx.folder("lifecycle-kubeline"),
        pipeline_yaml,
        {**ARGUMENTS, "dataset": str(dataset)},
        timeout=_TIMEOUT,
    )
    ours = result.runs[0]
    busy = union_seconds([(max(0.0, s), min(ours.seconds, e)) for s, e in ours.intervals()])
    overhead = 100 * (ours.seconds - busy) / ours.seconds
    rows = [
        Row(
            NAME,
            f"wall time ({rows_count:,} rows, {ours.finished} tasks)",
            _NOT_RUN,
            Figure(ours.seconds),
        ),
        Row(
            NAME,
            "engine overhead: time no task was running, % of wall",
            _NOT_RUN,
            Figure(overhead, "percent"),
            goal=f"<= {GOAL_OVERHEAD_PERCENT:.0f}%",
            met=overhead <= GOAL_OVERHEAD_PERCENT,
        ),
    ]
    if result.peak_rss_mb is not None:
        rows.append(
            Row(
                NAME,
                "engine process peak RSS",
                _NOT_RUN,
                Figure(result.peak_rss_mb, "mb"),
                goal=f"<= {GOAL_RSS_MB:.0f} MB",
                met=result.peak_rss_mb <= GOAL_RSS_MB,
            )
        )
    return rows
