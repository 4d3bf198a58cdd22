"""The lifecycle pipeline, run for real (real KFP executor, real scikit-learn)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeline.engine import run_pipeline
from kubeline.pipelines.compile import compile_to_spec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spec() -> dict:
    return compile_to_spec(None)


def _artifact(run_root: Path, task: str, output: str) -> Path:
    hits = sorted(run_root.glob(f"artifacts/*/{task}/{output}"))
    assert hits, f"no {task}/{output} under {run_root}"
    return hits[0]


def test_breast_cancer_reaches_095_and_is_registered_with_a_card(spec: dict) -> None:
    result = run_pipeline(spec, {})
    assert result.state == "SUCCEEDED", result.error
    assert result.outputs["accuracy"] >= 0.95
    assert result.outputs["decision"].startswith("registered breast-cancer-classifier version")
    metrics = result.outputs["metrics"]["metadata"]
    assert {
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
    } <= set(metrics)
    names = [t.name for t in result.tasks]
    assert names.count("run-trial") == 10  # 5 families x 2 trials
    assert "reject-model" not in names
    card = _artifact(result.root, "register-model", "card").read_text()
    assert "Digest (sha256 of the ingested table)" in card
    assert result.outputs["model_family"] in card
    assert "<svg" in _artifact(result.root, "evaluate", "report").read_text()
    assert "<svg" in _artifact(result.root, "explore", "report").read_text()


def test_iris_reaches_090_and_the_same_seed_gives_the_same_metrics(spec: dict) -> None:
    args = {
        "dataset": "iris",
        "trials_per_family": 1,
        "families": ["logistic_regression", "random_forest", "knn"],
    }
    first = run_pipeline(spec, args, enable_caching=False)
    again = run_pipeline(spec, args, enable_caching=False)
    assert first.state == again.state == "SUCCEEDED"
    assert first.outputs["accuracy"] >= 0.90
    assert first.outputs["metrics"]["metadata"] == again.outputs["metrics"]["metadata"]
    assert first.outputs["model_family"] == again.outputs["model_family"]


def test_below_threshold_records_why_and_registers_nothing(spec: dict) -> None:
    args = {"families": ["knn"], "trials_per_family": 1, "threshold": 0.999}
    result = run_pipeline(spec, args)
    assert result.state == "SUCCEEDED", result.error
    assert result.outputs["decision"].startswith("not registered: test accuracy")
    names = {t.name for t in result.tasks}
    assert "reject-model" in names and "register-model" not in names
    notice = _artifact(result.root, "reject-model", "notice").read_text()
    assert "below the threshold 0.9990" in notice


def test_a_bad_file_fails_the_run_with_a_user_error(spec: dict, tmp_path: Path) -> None:
    data = tmp_path / "tiny.csv"
    data.write_text("a,label\n1,x\n2,y\n3,x\n4,y\n")
    result = run_pipeline(spec, {"dataset": str(data), "target": "label"})
    assert result.state == "FAILED"
    assert result.user_error
    assert result.failed_task == "validate"
    assert "fewer than" in (result.error or "")
