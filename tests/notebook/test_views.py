"""The notebook's views of a run, a task and an artifact: state, time, outputs, metrics,
confusion matrix and ROC curve, sandboxed reports, everything escaped, no model loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeline.engine import RunResult
from kubeline.notebook import Result
from kubeline.notebook.formatters import _run_record, _run_result, register
from kubeline.notebook.views import artifact_html
from kubeline.store import ArtifactRecord


def test_reprs_are_one_line(result: Result) -> None:
    text = repr(result)
    assert "\n" not in text and len(text) < 160
    assert text.startswith(f"<RunResult {result.run_id} SUCCEEDED in ")
    assert repr(result.run).startswith(f"<RunRecord {result.run_id} SUCCEEDED in ")
    task = result.tasks[0]
    assert repr(task).startswith(f"<TaskRecord {task.path} SUCCEEDED in ")
    assert repr(result.task("make-all")).startswith("<Task make-all SUCCEEDED")
    artifact = result.outputs["Output"]
    assert repr(artifact) == f"<Artifact data system.Dataset {artifact.uri}>"
    for record in result.artifacts:
        assert "\n" not in repr(record) and record.artifact_id in repr(record)


def test_run_html_has_state_outputs_metrics_and_charts(result: Result) -> None:
    html = result._repr_html_()
    assert "SUCCEEDED" in html and result.run_id in html
    assert "Output" in html and "system.Dataset" in html  # the pipeline's output
    assert "accuracy" in html and "0.875" in html  # the metrics table
    assert 'class="confusion"' in html and "cat" in html and "dog" in html
    assert "chart-roc" in html  # kubeline.charts' ROC curve
    assert 'sandbox=""' in html and "srcdoc=" in html  # reports framed, running nothing
    assert "make-all" in html  # the tasks table


def test_every_name_is_escaped(result: Result) -> None:
    """A task, a metric and reports named or holding <script>: none comes out as a tag."""
    for html in (
        result._repr_html_(),
        result.task("make-all")._repr_html_(),
        *(
            artifact._repr_html_()
            for artifact in result.task("make-all").outputs.values()
            if hasattr(artifact, "_repr_html_")
        ),
    ):
        assert "<script" not in html.lower()
    html = result._repr_html_()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the task's display name, escaped
    # The reports sit in srcdoc escaped once more: their script is text until the sandbox.
    assert "&amp;lt;script&amp;gt;alert(2)" in html  # Markdown's raw HTML: text, twice escaped
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html  # the HTML report, in srcdoc


def test_formatters_show_engine_records(result: Result) -> None:
    plain = RunResult(run=result.run, tasks=result.tasks, notes=result.notes)
    assert 'class="confusion"' in _run_result(plain)  # artifacts read from the store
    assert "accuracy" in _run_record(result.run)


def test_register_uses_ipythons_formatter_by_name() -> None:
    calls: list[tuple[str, str]] = []

    class Formatter:
        def for_type_by_name(self, module: str, name: str, func: object) -> None:
            calls.append((module, name))

    class Shell:
        display_formatter = type("F", (), {"formatters": {"text/html": Formatter()}})()

    assert register(Shell())
    assert ("kubeline.engine.results", "RunResult") in calls
    assert {name for _, name in calls} >= {"RunRecord", "TaskRecord", "ArtifactRecord"}


def test_views_never_load_a_model(result: Result, monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    import joblib

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a view loaded a model")

    monkeypatch.setattr(joblib, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    result._repr_html_()
    result.task("make-all")._repr_html_()
    result.task("make-all").outputs["model"]._repr_html_()


def test_a_report_outside_the_runs_folder_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.html"
    secret.write_text("<p>top secret</p>", encoding="utf-8")
    record = ArtifactRecord(
        artifact_id="x",
        run_id="r",
        producer_task_id="t",
        output_name="leak",
        uri=str(secret),
        schema_title="system.HTML",
    )
    html = str(artifact_html(record))
    assert "top secret" not in html and "outside kubeline" in html


def test_to_dict_is_the_json_of_kubeline_run(result: Result) -> None:
    plain = RunResult(run=result.run, tasks=result.tasks, notes=result.notes)
    assert json.dumps(result.to_dict()) == json.dumps(plain.to_dict())
    # The outputs still read as the dicts they always were.
    assert result.outputs["Output"]["uri"] == result.run.outputs["Output"]["uri"]
    assert result.outputs == result.run.outputs


def test_a_dataset_shows_its_first_rows_escaped(kubeline_home: Path) -> None:
    folder = kubeline_home / "runs" / "r1" / "tasks" / "make"
    folder.mkdir(parents=True)
    (folder / "data").write_text("<script>x</script>,b\n1,2\n3,4\n5,6\n", encoding="utf-8")
    record = ArtifactRecord(
        artifact_id="d",
        run_id="r1",
        producer_task_id="t",
        output_name="data",
        uri=str(folder / "data"),
        schema_title="system.Dataset",
    )
    html = str(artifact_html(record))
    assert "3 rows × 2 columns" in html
    assert "<script" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


def test_a_task_record_is_shown_from_its_own_home(
    result: Result, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kubeline.notebook.formatters import _task_record

    monkeypatch.setenv("KUBELINE_HOME", str(tmp_path / "elsewhere"))  # not the run's home
    (task,) = [t for t in result.tasks if t.name == "make-all"]
    html = _task_record(task)
    assert "Output artifacts" in html and "accuracy" in html
