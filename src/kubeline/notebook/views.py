"""The HTML a notebook shows for a run, a task and an artifact: state, time, outputs,
metrics as a table, a ClassificationMetrics output's confusion matrix and ROC curve (drawn
by :mod:`kubeline.charts`, as the web UI draws them), Markdown and HTML reports in sandboxed
frames, and a link to the run in ``kubeline ui`` when a server answers.

Views read records and metadata only: they never load a model (that runs its pickle) and
read report files only from inside kubeline's runs folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from markupsafe import Markup

from kubeline.charts import classification_html
from kubeline.notebook.html import badge, block, format_value, seconds_text, table
from kubeline.notebook.links import run_link
from kubeline.notebook.reports import REPORT_BYTES, REPORT_TYPES, dataset_html, report_html
from kubeline.store import ArtifactRecord, RunRecord, TaskRecord

__all__ = ["artifact_html", "run_html", "task_html"]

_METRICS = "system.Metrics"
_CLASSIFICATION = "system.ClassificationMetrics"
_DATASET = "system.Dataset"
_LEAVES = ("executor", "importer")
_REPORTS_SHOWN = 8  # reports embedded in a run's view (a saved notebook keeps them)
_REPORTS_BYTES = 2_000_000  # and their bytes, all together


def _seconds(start: Any, end: Any) -> float | None:
    return (end - start).total_seconds() if start is not None and end is not None else None


def _when(record: RunRecord | TaskRecord) -> str:
    took = _seconds(record.started_at, record.finished_at)
    if took is not None:
        return f"took {seconds_text(took)}"
    if record.started_at is not None:
        return f"started {record.started_at:%Y-%m-%d %H:%M:%S %Z}"
    return "not started"


def _in_loop(path: str) -> bool:
    return "/iteration-" in f"/{path}"


def _section(title: str, body: Markup, *, open_: bool = True, count: int | None = None) -> Markup:
    words = f"{title} ({count})" if count is not None else title
    return Markup("<details{}><summary><strong>{}</strong></summary>{}</details>").format(
        Markup(" open") if open_ else Markup(""), words, body
    )


def _error(error: str | None) -> Markup:
    if not error:
        return Markup("")
    return Markup("<pre>{}</pre>").format(error)


# --------------------------------------------------------------------------- parts


def _value_cell(value: Any) -> Any:
    if isinstance(value, dict) and "uri" in value and "type" in value:
        return Markup("{} <code>{}</code>").format(value.get("type"), value.get("uri"))
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return Markup("<br>").join(_value_cell(v) for v in value)
    return format_value(value)


def outputs_table(outputs: dict[str, Any], caption: str = "") -> Markup:
    """Parameters with their values, artifacts with their type and where they are."""
    rows = [(name, _value_cell(value)) for name, value in outputs.items()]
    return table(("Output", "Value"), rows, caption=caption) if rows else Markup("")


def metrics_table(values: dict[str, Any], caption: str = "Metrics") -> Markup:
    shown = {k: v for k, v in sorted(values.items()) if k != "display_name"}
    if not shown:
        return Markup("")
    return table(("Metric", "Value"), shown.items(), caption=caption, numeric=(1,))


def _label(record: ArtifactRecord, paths: dict[str, str]) -> str:
    task = paths.get(record.producer_task_id, "").rsplit("/", 1)[-1]
    name = record.output_name or record.name
    return f"{task} · {name}" if task else name


def artifact_body(
    record: ArtifactRecord, runs_root: Path, label: str, *, preview: bool = False
) -> Markup:
    """What one artifact shows by its type (no model is ever loaded); ``preview``: a
    Dataset's first rows too."""
    kind = record.schema_title
    metadata = dict(record.metadata or {})
    if kind == _METRICS:
        return metrics_table(metadata, caption=f"Metrics: {label}")
    if kind == _CLASSIFICATION:
        return Markup('<div class="kl-charts">{}</div>').format(
            classification_html(metadata, label=label)
        )
    parts = [Markup("<p><code>{}</code></p>").format(record.uri)]
    if kind in REPORT_TYPES:
        parts.append(report_html(record, runs_root))
    elif kind == _DATASET and preview:
        parts.append(dataset_html(record, runs_root))
    if metadata and kind not in REPORT_TYPES:
        parts.append(table(("Metadata", "Value"), sorted(metadata.items())))
    return Markup("").join(parts)


def _artifact_sections(
    artifacts: Iterable[ArtifactRecord], runs_root: Path, paths: dict[str, str]
) -> Markup:
    """Metrics tables, classification charts and reports of these artifacts."""
    found = list(artifacts)
    metrics = [a for a in found if a.schema_title == _METRICS]
    classification = [a for a in found if a.schema_title == _CLASSIFICATION]
    reports = [a for a in found if a.schema_title in REPORT_TYPES]
    parts: list[Markup] = []
    if metrics:
        tables = Markup("").join(artifact_body(a, runs_root, _label(a, paths)) for a in metrics)
        parts.append(_section("Metrics", Markup('<div class="kl-charts">{}</div>').format(tables)))
    for record in classification:
        label = _label(record, paths)
        parts.append(_section(f"Classification: {label}", artifact_body(record, runs_root, label)))
    budget = _REPORTS_BYTES
    for i, record in enumerate(reports):
        label = _label(record, paths)
        if i >= _REPORTS_SHOWN or budget <= 0:
            left = ", ".join(_label(r, paths) for r in reports[i:])
            parts.append(Markup('<p class="kl-muted">Reports not shown: {}.</p>').format(left))
            break
        shown = report_html(record, runs_root, max_bytes=min(REPORT_BYTES, budget))
        budget -= len(shown)
        parts.append(_section(f"Report: {label}", shown, open_=False))
    return Markup("").join(parts)


# --------------------------------------------------------------------------- views


def _task_name(task: TaskRecord) -> str:
    shown = task.display_name
    return f"{task.path} ({shown})" if shown and shown not in (task.name, task.path) else task.path


def _tasks_table(tasks: list[TaskRecord]) -> Markup:
    leaves = [t for t in tasks if t.kind in _LEAVES]
    rows = []
    for t in leaves:
        state = "CACHED" if t.cache_hit and t.state == "SUCCEEDED" else t.state
        took = _seconds(t.started_at, t.finished_at)
        rows.append((_task_name(t), badge(state), seconds_text(took), (t.error or "")[:300]))
    body = table(("Task", "State", "Time", "Error"), rows)
    return _section("Tasks", body, open_=len(leaves) <= 30, count=len(leaves))


def run_html(run: RunRecord, tasks: list[TaskRecord], artifacts: list[ArtifactRecord]) -> Markup:
    """A run: its state and time, parameters, outputs, metrics, classification charts,
    reports and tasks; a link to it in ``kubeline ui`` when a server answers."""
    runs_root = Path(run.root).parent if run.root else _default_runs()
    paths = {t.task_id: t.path for t in tasks}
    name = run.display_name if run.display_name and run.display_name != run.run_id else ""
    title = Markup('<h3>{} {} <span class="kl-muted">{}</span></h3>').format(
        name or run.pipeline_name, badge(run.state), _when(run)
    )
    link = run_link(run.run_id, runs_root.parent)
    facts = Markup("<p>Run <code>{}</code> of pipeline <code>{}</code>{}</p>").format(
        run.run_id,
        run.pipeline_name,
        Markup(' · <a href="{}" target="_blank" rel="noopener">open in kubeline ui</a>').format(
            link
        )
        if link
        else Markup(""),
    )
    parts = [title, facts, _error(run.error)]
    if run.arguments:
        parts.append(
            _section(
                "Parameters", table(("Parameter", "Value"), run.arguments.items()), open_=False
            )
        )
    if run.outputs:
        parts.append(_section("Outputs", outputs_table(run.outputs)))
    by_id = {a.artifact_id: a for a in artifacts}
    outputs = [
        by_id[v["artifact_id"]]
        for v in _output_artifacts(run.outputs or {})
        if v.get("artifact_id") in by_id
    ]
    chosen = {a.artifact_id for a in outputs}
    rest = [
        a
        for a in artifacts
        if a.artifact_id not in chosen and not _in_loop(paths.get(a.producer_task_id, ""))
    ]
    parts.append(_artifact_sections([*outputs, *rest], runs_root, paths))
    parts.append(_tasks_table(tasks))
    return block(*parts)


def _output_artifacts(outputs: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for value in outputs.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and "artifact_id" in item:
                found.append(item)
    return found


def task_html(
    task: TaskRecord, artifacts: list[ArtifactRecord], *, runs_root: Path | None = None
) -> Markup:
    """A task: its state and time, inputs, output parameters and artifacts."""
    runs_root = runs_root or _default_runs()
    state = "CACHED" if task.cache_hit and task.state == "SUCCEEDED" else task.state
    title = Markup('<h3>{} {} <span class="kl-muted">{}</span></h3>').format(
        _task_name(task), badge(state), _when(task)
    )
    facts = Markup("<p>Task of run <code>{}</code> · {} · {} attempt(s)</p>").format(
        task.run_id, task.kind, task.attempts
    )
    parts = [title, facts, _error(task.error)]
    if task.inputs:
        parts.append(
            _section("Inputs", table(("Input", "Value"), task.inputs.items()), open_=False)
        )
    raw = task.outputs or {}
    params = raw.get("parameters") if "parameters" in raw else None
    if params:
        parts.append(_section("Output parameters", outputs_table(params)))
    own = [a for a in artifacts if a.producer_task_id == task.task_id]
    if own:
        rows = [
            (a.output_name or a.name, a.schema_title, Markup("<code>{}</code>").format(a.uri))
            for a in own
        ]
        parts.append(_section("Output artifacts", table(("Output", "Type", "Where"), rows)))
        parts.append(_artifact_sections(own, runs_root, {}))
    return block(*parts)


def artifact_html(record: ArtifactRecord, *, runs_root: Path | None = None) -> Markup:
    """An artifact: its name, type and where it is, and what its type shows."""
    label = record.output_name or record.name
    title = Markup('<h4>{} <span class="kl-muted">{}</span></h4>').format(
        label, record.schema_title
    )
    return block(title, artifact_body(record, runs_root or _default_runs(), label, preview=True))


def _default_runs() -> Path:
    from kubeline.engine import kubeline_home

    return kubeline_home() / "runs"
