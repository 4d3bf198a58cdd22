"""``kubeline.compare``: runs side by side in a notebook, as the web UI's compare page shows
them (parameters with the differences marked, metrics with the best run marked and charted,
every run's ROC curve in one chart, the confusion matrices in one class order), built on
the same :mod:`kubeline.comparison`; and the parameters and metrics as a pandas DataFrame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup

from kubeline.charts import series_key_svg
from kubeline.comparison import (
    CLASSIFICATION,
    classification_group,
    group_artifacts,
    headline_columns,
    metric_charts,
    metric_rows,
    metrics_of_runs,
    parameters_of,
    side_by_side,
)
from kubeline.engine import RunResult
from kubeline.notebook.formatters import in_kernel
from kubeline.notebook.html import badge, block, table
from kubeline.notebook.results import home_of
from kubeline.store import RunRecord, RunStore, database_url, open_store

__all__ = ["Comparison", "compare_runs", "comparison_html"]

_MAX_RUNS = 10  # as the compare page


class Comparison:
    """What :func:`compare_runs` found: the runs, their labels, parameter and metric rows,
    and the ClassificationMetrics groups (each with its ROC overlay and matrices)."""

    def __init__(self, runs: list[RunRecord], store: RunStore) -> None:
        self.runs = runs
        metrics = metrics_of_runs(store, runs)
        self.per_run = [metrics[r.run_id] for r in runs]
        self.names = headline_columns(metrics, limit=1000)
        self.labels = [_label(r) for r in runs]
        self.parameters = [parameters_of(r) for r in runs]
        self.parameter_rows = side_by_side(self.parameters)
        self.metric_rows = metric_rows(self.per_run, self.names)
        ids = [r.run_id for r in runs]
        paths: dict[str, str] = {}
        for run in runs:
            paths.update({t.task_id: t.path for t in store.tasks.list(run.run_id)})
        chosen = store.artifacts.list(run_ids=ids, schema_title=CLASSIFICATION)
        self.classification = [
            classification_group(group, self.labels)
            for group in group_artifacts(ids, chosen, paths, merge_single=True)
        ]

    def frame(self) -> Any:
        """One row per run (indexed by run id): its state, parameters, then metrics (a
        metric named like a parameter is ``metric:<name>``)."""
        import pandas as pd

        rows = []
        for run, params, found in zip(self.runs, self.parameters, self.per_run, strict=True):
            row: dict[str, Any] = {"run_id": run.run_id, "state": run.state}
            row.update(params)
            for name in self.names:
                key = f"metric:{name}" if name in row else name
                row[key] = found.get(name)
            rows.append(row)
        return pd.DataFrame(rows).set_index("run_id")

    def html(self) -> Markup:
        return comparison_html(self)


def _label(run: RunRecord) -> str:
    """The run's name (its pipeline's, when it was given none) and the end of its id."""
    name = run.display_name if run.display_name not in ("", run.run_id) else run.pipeline_name
    return f"{name} ({_short(run.run_id)})"


def _short(run_id: str) -> str:
    return run_id.rsplit("-", 1)[-1][:8] if "-" in run_id else run_id[:8]


def comparison_html(found: Comparison) -> Markup:
    """The comparison as one static HTML block (no JavaScript)."""
    keys = [series_key_svg(i) for i in range(len(found.runs))]
    runs = table(
        ("Run", "Key", "State", "Id"),
        (
            (label, key, badge(r.state), r.run_id)
            for label, key, r in zip(found.labels, keys, found.runs, strict=True)
        ),
        caption="Runs",
    )
    differing = sum(1 for row in found.parameter_rows if row["differs"])
    parameters = table(
        ("Parameter", *found.labels),
        (
            (Markup("{}{}").format(row["name"], " ≠" if row["differs"] else ""), *row["cells"])
            for row in found.parameter_rows
        ),
        caption=f"Parameters ({differing} differ, marked ≠)",
    )
    metrics = table(
        ("Metric", "Better", *found.labels),
        (
            (
                row["name"],
                row["direction_words"],
                *(
                    Markup("<strong>{} ★</strong>").format(c["text"])
                    if c["best"]
                    else ("n/a" if c["missing"] else c["text"])
                    for c in row["cells"]
                ),
            )
            for row in found.metric_rows
        ),
        caption="Metrics (★ best)",
    )
    parts = [
        Markup("<h3>Comparing {} runs</h3>").format(len(found.runs)),
        runs,
        parameters,
        metrics if found.metric_rows else Markup("<p>No metrics to compare.</p>"),
    ]
    charts = metric_charts(found.metric_rows, found.labels, limit=12)
    if charts:
        parts.append(Markup('<div class="kl-charts">{}</div>').format(Markup("").join(charts)))
    for group in found.classification:
        parts.append(Markup("<h4>{}</h4>").format(group["title"]))
        if group["chart"] is not None:
            auc = table(
                ("Run", "Area under the curve", "Points"),
                ((r["label"], r["auc_text"], r["count"]) for r in group["roc"] if r["present"]),
            )
            parts.append(Markup('<div class="kl-charts">{}{}</div>').format(group["chart"], auc))
        matrices = [m["table"] for m in group["matrices"] if m["table"] is not None]
        if matrices:
            parts.append(
                Markup('<div class="kl-charts">{}</div>').format(Markup("").join(matrices))
            )
        for problem in group["problems"]:
            parts.append(Markup('<p class="kl-muted">{}</p>').format(problem))
    return block(*parts)


def _record(run: Any, store: RunStore) -> RunRecord:
    if isinstance(run, RunResult):
        return run.run
    if isinstance(run, RunRecord):
        return run
    if not isinstance(run, str):
        raise TypeError(f"kubeline.compare takes run results or run ids, not {type(run).__name__}.")
    found = store.runs.get(run)
    if found is not None:
        return found
    matches = store.runs.find(run)
    if len(matches) != 1:
        what = "no run" if not matches else f"{len(matches)} runs"
        raise KeyError(f"There is {what} with an id starting '{run}'.")
    return matches[0]


def _home(runs: list[Any], home: Path | None) -> Path:
    if home is not None:
        return home
    for run in runs:
        record = run.run if isinstance(run, RunResult) else run
        if isinstance(record, RunRecord) and record.root:
            return home_of(record.root)
    from kubeline.engine import kubeline_home

    return kubeline_home()


def compare_runs(runs: list[Any], *, home: Path | None = None, show: bool | None = None) -> Any:
    """Compare two or more runs (results, records or ids); shown in a notebook (``show``:
    default only in a Jupyter kernel); returns the DataFrame of :meth:`Comparison.frame`.

    Raises:
        ValueError: fewer than two runs, or more than ten.
        KeyError: a run id that names no run (or several).
    """
    if len(runs) < 2:
        raise ValueError("kubeline.compare needs two runs or more (results or run ids).")
    if len(runs) > _MAX_RUNS:
        raise ValueError(f"{len(runs)} runs were given; compare at most {_MAX_RUNS} at once.")
    with open_store(database_url(_home(runs, home))) as store:
        records = [_record(run, store) for run in runs]
        found = Comparison(records, store)
    frame = found.frame()
    if show if show is not None else in_kernel():
        from IPython.display import display

        text = f"Comparison of {len(records)} runs: " + ", ".join(found.labels)
        bundle = {"text/html": str(found.html()), "text/plain": text}
        display(bundle, raw=True)  # type: ignore[no-untyped-call]  # IPython ships no types here
    return frame
