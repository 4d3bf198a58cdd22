"""The pure parts of the compare page: which way a metric counts, which run is best,
confusion matrices in one class order, artifacts grouped across runs, and the
parallel-coordinates layout. The page itself is tested in a browser (test_compare_page.py)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from kubeline.comparison.metrics import best_indices, metric_direction
from kubeline.server.web.compare import align_confusions, group_artifacts, metric_rows
from kubeline.server.web.parallel import ParallelAxis, parallel_layout, parallel_svg
from kubeline.store import ArtifactRecord

NASTY = 'a<b & "c">'


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("accuracy", "higher"),
        ("balanced_accuracy", "higher"),
        ("val_acc", "higher"),
        ("f1", "higher"),
        ("f1-score", "higher"),
        ("roc_auc", "higher"),
        ("AUC", "higher"),
        ("precision", "higher"),
        ("recall", "higher"),
        ("r2", "higher"),
        ("log_loss", "lower"),
        ("val_loss", "lower"),
        ("mse", "lower"),
        ("rmse", "lower"),
        ("mae", "lower"),
        ("meanAbsoluteError", "lower"),
        ("error_rate", "lower"),
        ("accuracy_error", "lower"),  # an error of accuracy is still an error
        ("neg_mean_squared_error", "higher"),  # scikit-learn's negated scores
        ("test_rows", None),
        ("duration", None),
        ("Output", None),
    ],
)
def test_metric_direction(name: str, expected: str | None) -> None:
    assert metric_direction(name) == expected


def test_best_indices() -> None:
    assert best_indices([0.9722, 0.9737, None], "higher") == {1}
    assert best_indices([0.9722, 0.9737, None], "lower") == {0}
    assert best_indices([0.9, 0.95, 0.95], "higher") == {1, 2}  # ties are all best
    assert best_indices([0.9, 0.9], "higher") == set()  # equal: no run is better
    assert best_indices([0.9, None], "higher") == set()  # one value: nothing to beat
    assert best_indices([0.9, 0.8], None) == set()  # no direction, no best
    assert best_indices([float("nan"), 0.8, 0.7], "higher") == {1}
    assert best_indices([True, 0.5, 0.4], "higher") == {1}  # a flag is not a score


def test_metric_rows_mark_best_and_print_close_values_apart() -> None:
    rows = metric_rows(
        [{"accuracy": 0.97221, "log_loss": 0.2, "rows": 5}, {"accuracy": 0.97224, "rows": 5}],
        ["accuracy", "log_loss", "rows"],
    )
    accuracy, loss, count = rows
    assert [c["text"] for c in accuracy["cells"]] == ["0.97221", "0.97224"]
    assert [c["best"] for c in accuracy["cells"]] == [False, True]
    assert accuracy["differs"] and accuracy["direction_words"] == "↑ higher is better"
    assert loss["cells"][1]["missing"] and not any(c["best"] for c in loss["cells"])
    assert loss["direction_words"] == "↓ lower is better"
    assert not count["differs"] and count["direction"] is None


def matrix(names: list[str], rows: list[list[float]]) -> tuple[list[str], list[list[float]]]:
    return names, rows


def test_align_confusions_puts_every_run_in_the_first_runs_class_order() -> None:
    first = matrix(["benign", "malignant"], [[71, 1], [2, 40]])
    flipped = matrix(["malignant", "benign"], [[37, 5], [0, 72]])
    names, aligned = align_confusions([first, flipped])
    assert names == ["benign", "malignant"]
    assert aligned[0] == [[71, 1], [2, 40]]
    assert aligned[1] == [[72, 0], [5, 37]]  # true benign: 72 right, 0 called malignant


def test_align_confusions_adds_classes_a_run_never_saw_and_skips_what_it_cannot_align() -> None:
    two = matrix(["a", "b"], [[1, 2], [3, 4]])
    three = matrix(["c", "a", "b"], [[5, 0, 1], [0, 6, 0], [1, 0, 7]])
    twice = matrix(["a", "a"], [[1, 0], [0, 1]])
    names, aligned = align_confusions([two, None, three, twice])
    assert names == ["a", "b", "c"]
    assert aligned[0] == [[1, 2, 0], [3, 4, 0], [0, 0, 0]]
    assert aligned[1] is None and aligned[3] is None
    assert aligned[2] == [[6, 0, 0], [0, 7, 1], [0, 1, 5]]


def artifact(run: str, task: str, output: str, ident: str) -> ArtifactRecord:
    return ArtifactRecord(
        artifact_id=ident,
        run_id=run,
        producer_task_id=task,
        output_name=output,
        uri="",
        schema_title="system.Markdown",
    )


def test_group_artifacts_by_task_and_output_across_runs() -> None:
    paths = {
        "t1": "explore",
        "t2": "explore",
        "t3": "condition-branches-2/condition-3/register-model",
        "t4": "for-loop-1/iteration-0/run-trial",
        "t5": "validate",
    }
    found = [
        artifact("r1", "t1", "summary", "a1"),
        artifact("r2", "t2", "summary", "a2"),
        artifact("r1", "t3", "card", "a3"),
        artifact("r1", "t4", "leaderboard", "a4"),  # a loop iteration's: left out
        artifact("r2", "t5", "checks", "a5"),
        artifact("other", "t1", "summary", "a6"),  # a run not compared
    ]
    groups = group_artifacts(["r1", "r2"], found, paths)
    assert [g.title for g in groups] == [
        "explore · summary",
        "register-model · card",
        "validate · checks",
    ]
    assert [[a.artifact_id if a else None for a in g.items] for g in groups] == [
        ["a1", "a2"],
        ["a3", None],
        [None, "a5"],
    ]


def test_group_artifacts_merges_one_per_run_from_different_pipelines() -> None:
    paths = {"t1": "evaluate", "t2": "assess"}
    found = [artifact("r1", "t1", "classification", "a1"), artifact("r2", "t2", "metrics", "a2")]
    assert len(group_artifacts(["r1", "r2"], found, paths)) == 2
    (merged,) = group_artifacts(["r1", "r2"], found, paths, merge_single=True)
    assert [a.artifact_id if a else None for a in merged.items] == ["a1", "a2"]


def test_parallel_layout_numeric_and_categorical_axes_with_missing_values() -> None:
    axes = [
        ParallelAxis("depth", [2, 8, None]),
        ParallelAxis("kernel", ["rbf", "linear", "poly"]),
        ParallelAxis("accuracy", [0.9722, 0.9737, 0.9701], direction="higher", metric=True),
    ]
    layout = parallel_layout(["one", "two", "three"], axes, best={1})
    depth, kernel, accuracy = layout["axes"]
    assert depth["kind"] == "numeric" and kernel["kind"] == "categorical"
    assert depth["na_y"] is not None and kernel["na_y"] is None  # a spot for the run without
    assert [t["text"] for t in kernel["ticks"]] == ["linear", "poly", "rbf"]
    assert accuracy["note"] == "higher is better"
    assert accuracy["ticks"][0]["text"] == "0.968"  # fitted, not 0..1

    def ys(run: dict) -> list[float]:
        return [float(p.split(",")[1]) for p in run["d"][1:].split("L")]

    one, two, three = (ys(r) for r in layout["runs"])
    assert two[0] < one[0]  # a deeper tree is higher up
    assert three[0] == float(depth["na_y"])  # its depth is missing
    assert two[2] < one[2] < three[2]  # accuracy 0.9737 > 0.9722 > 0.9701
    assert two[2] + 40 < three[2]  # close values stand apart on the fitted axis
    assert layout["runs"][1]["best_mark"] and not layout["runs"][0]["best_mark"]
    assert layout["runs"][1]["legend"].endswith("★ best")
    assert len({r["colour"] for r in layout["runs"]}) == 3
    assert len({r["dash"] for r in layout["runs"]}) == 3
    assert "kernel rbf" in layout["aria"] and "two" in layout["aria"]


def test_parallel_svg_is_well_formed_and_escapes_names() -> None:
    svg = parallel_svg(
        [NASTY, "b", "c"],
        [ParallelAxis(NASTY, [NASTY, "x", "y"]), ParallelAxis("m", [1.0, 2.0, math.nan])],
    )
    root = ET.fromstring(str(svg))
    assert root.get("role") == "img" and NASTY in root.get("aria-label", "")
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert NASTY in texts
    assert "<b " not in str(svg) and "&lt;b" in str(svg)
