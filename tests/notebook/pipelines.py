"""Small pipelines for the notebook tests: one task that makes an artifact of every kind a
view shows, with hostile names, and one whose tasks take a moment (for the live display).

No ``from __future__ import annotations``: KFP reads the real annotation objects.
"""

from kfp import dsl
from kfp.dsl import HTML, ClassificationMetrics, Dataset, Markdown, Metrics, Model, Output

IMAGE = "python:3.11"
HOSTILE = "<script>alert(1)</script>"


@dsl.component(base_image=IMAGE)
def make_all(
    n: int,
    data: Output[Dataset],
    scores: Output[Metrics],
    notes: Output[Markdown],
    report: Output[HTML],
    classification: Output[ClassificationMetrics],
    model: Output[Model],
) -> int:
    import pickle

    with open(data.path, "w") as f:
        f.write("a,b\n1,2\n3,4\n")
    scores.log_metric("accuracy", 0.875)
    scores.log_metric("<script>alert(1)</script>", 1.0)
    with open(notes.path, "w") as f:
        f.write("# Notes\n\nraw <script>alert(2)</script> stays text\n")
    with open(report.path, "w") as f:
        f.write("<h1>Report</h1><script>alert(3)</script>")
    classification.log_confusion_matrix(["cat", "dog"], [[7, 1], [2, 9]])
    classification.log_roc_curve([0.0, 0.1, 0.5, 1.0], [0.0, 0.6, 0.9, 1.0], [1.0, 0.8, 0.4, 0.0])
    with open(model.path, "wb") as f:
        pickle.dump({"weights": [1, 2, 3]}, f)
    return n + 1


@dsl.pipeline(name="notebook-views")
def all_kinds(n: int = 1) -> Dataset:
    task = make_all(n=n).set_display_name(HOSTILE)
    task.set_caching_options(False)
    return task.outputs["data"]


@dsl.component(base_image=IMAGE)
def pause(seconds: float, label: str) -> str:
    import time

    time.sleep(seconds)
    return label


@dsl.pipeline(name="notebook-slow")
def slow_steps(seconds: float = 0.8) -> str:
    first = pause(seconds=seconds, label="one")
    second = pause(seconds=seconds, label=first.output)
    third = pause(seconds=seconds, label=second.output)
    for task in (first, second, third):
        task.set_caching_options(False)
    return third.output
