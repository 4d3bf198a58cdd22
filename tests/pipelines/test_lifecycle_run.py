"""The lifecycle pipeline, run for real (real KFP executor, real scikit-learn)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeline.engine import RunResult, kubeline_home, run_pipeline
from kubeline.pipelines.compile import compile_to_spec
from kubeline.store import database_url, open_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spec() -> dict:
    return compile_to_spec(None)


def _artifact(result: RunResult, task: str, output: str) -> Path:
    """The file behind a task's output artifact (recorded in the run store)."""
    for record in result.tasks:
        if record.name == task and record.state == "SUCCEEDED":
            return Path(record.outputs["artifacts"][output][0])
    raise AssertionError(f"no successful task {task} in run {result.run_id}")


def test_breast_cancer_reaches_095_and_is_registered_with_a_card(spec: dict) -> None:
    result = run_pipeline(spec, {})
    assert result.state == "SUCCEEDED", result.error
    assert result.outputs["accuracy"] >= 0.95
    assert result.outputs["decision"].startswith("registered breast-cancer-classifier")
    with open_store(database_url(kubeline_home())) as store:
        (version,) = store.models.list_versions("breast-cancer-classifier")
        assert version.version == 1 and version.run_id == result.run_id
        assert version.framework == "sklearn" and version.signature["features"][0] == "mean radius"
        assert version.signature["classes"] == ["benign", "malignant"]
        assert version.metrics["accuracy"] == result.outputs["accuracy"]
        assert version.digest and Path(version.uri).is_relative_to(kubeline_home() / "models")
        assert "breast-cancer-classifier" in Path(version.card_uri).read_text()
        # The card names the model's content as the registry's pages do: one value, 16 digits.
        assert f"(content {version.digest[:16]})" in Path(version.card_uri).read_text()
        assert f"(content {version.digest[:16]})" in result.outputs["decision"]
        # The same model again (the cached re-run) is the same version, not a new one.
        assert run_pipeline(spec, {}).state == "SUCCEEDED"
        assert [v.version for v in store.models.list_versions("breast-cancer-classifier")] == [1]
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
    assert all(t.state == "SUCCEEDED" for t in result.tasks if t.name == "run-trial")
    assert "reject-model" not in names
    card = _artifact(result, "register-model", "card").read_text()
    assert "Digest (sha256 of the ingested table)" in card
    assert result.outputs["model_family"] in card
    assert "<svg" in _artifact(result, "evaluate", "report").read_text()
    assert "<svg" in _artifact(result, "explore", "report").read_text()


def test_iris_reaches_090_and_the_same_seed_gives_the_same_metrics(spec: dict) -> None:
    args = {
        "dataset": "iris",
        "trials_per_family": 1,
        "families": ["logistic_regression", "random_forest", "knn"],
    }
    first = run_pipeline(spec, args, enable_caching=False)
    again = run_pipeline(spec, args, enable_caching=False)
    assert first.state == again.state == "SUCCEEDED"
    assert not any(t.cache_hit for t in again.tasks)
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
    notice = _artifact(result, "reject-model", "notice").read_text()
    assert "below the threshold 0.9990" in notice


def test_a_bad_file_fails_the_run_with_a_user_error(spec: dict, tmp_path: Path) -> None:
    data = tmp_path / "tiny.csv"
    data.write_text("a,label\n1,x\n2,y\n3,x\n4,y\n")
    result = run_pipeline(spec, {"dataset": str(data), "target": "label"})
    assert result.state == "FAILED"
    assert result.user_error
    assert result.failed_task is not None and result.failed_task.name == "validate"
    assert "fewer than" in (result.error or "")
    downstream = {t.name: t.state for t in result.tasks}
    assert downstream["split"] == "SKIPPED"  # nothing runs after a failed check


def test_an_unchanged_rerun_is_all_cache_hits_and_a_changed_seed_is_not(spec: dict) -> None:
    args = {"dataset": "wine", "families": ["logistic_regression"], "trials_per_family": 1}
    first = run_pipeline(spec, args)
    again = run_pipeline(spec, args)
    leaves = {t.name: t.cache_hit for t in again.tasks if t.kind == "executor"}
    assert first.state == again.state == "SUCCEEDED"
    assert leaves.pop("register-model") is False  # an action of each run, never cached
    assert leaves and all(leaves.values())  # Metrics-only tasks included
    assert again.outputs["accuracy"] == first.outputs["accuracy"]
    changed = run_pipeline(spec, {**args, "seed": 7})
    by_name = {t.name: t.cache_hit for t in changed.tasks if t.kind == "executor"}
    assert by_name["ingest"] and by_name["explore"] and by_name["validate"]  # seed-free
    assert not by_name["split"] and not by_name["train"]  # depend on the seed
