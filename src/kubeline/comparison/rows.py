"""Metrics side by side: one row per metric, the best run marked, as many digits as tell
the runs apart."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from kubeline.charts import bar_chart_svg, format_distinct
from kubeline.comparison.metrics import best_indices, metric_direction

__all__ = ["DIRECTION_WORDS", "metric_charts", "metric_rows"]

DIRECTION_WORDS = {"higher": "↑ higher is better", "lower": "↓ lower is better"}


def metric_rows(per_run: list[dict[str, float]], names: list[str]) -> list[dict[str, Any]]:
    """One row per metric: its cells (text, and whether the run is best), which way it
    counts, and whether the runs differ. Values print with as many digits as tell them
    apart, so a marked best never looks equal to another cell."""
    rows = []
    for name in names:
        values: list[float | None] = [found.get(name) for found in per_run]
        direction = metric_direction(name)
        best = best_indices(values, direction)
        texts = format_distinct(values)
        rows.append(
            {
                "name": name,
                "direction": direction,
                "direction_words": DIRECTION_WORDS.get(direction or "", "no best (neither way)"),
                "values": values,
                "best": best,
                "cells": [
                    {"text": text, "missing": value is None, "best": i in best}
                    for i, (text, value) in enumerate(zip(texts, values, strict=True))
                ],
                "differs": len(set(texts)) > 1,
            }
        )
    return rows


def metric_charts(
    rows: list[dict[str, Any]], labels: list[str], *, limit: int = 24
) -> list[Markup]:
    """A bar chart per metric row (of :func:`metric_rows`), on an axis that fits the values,
    the best run's bar marked; at most ``limit`` charts (the table has every metric)."""
    charts = []
    for row in rows:
        if not any(v is not None for v in row["values"]):
            continue
        charts.append(
            bar_chart_svg(
                list(zip(labels, row["values"], strict=True)),
                title=row["name"],
                fit=True,
                best=row["best"],
                note=f"{row['direction']} is better" if row["direction"] else "",
            )
        )
    return charts[:limit]
