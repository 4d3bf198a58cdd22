"""Assessment: held-out metrics, confusion matrix, ROC curve, Markdown and HTML reports."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import Pipeline

from kubeline.charts import format_number
from kubeline.ml.assess import Assessment, assess_model, assessment_html, assessment_markdown
from kubeline.ml.features import DerivedFeatures, FeatureSpec
from kubeline.ml.split import split_dataset
from kubeline.ml.train import train_model
from kubeline.ml.transform import build_preprocessor
from kubeline.ml.zoo import Trial

LOGISTIC = Trial("lr-0", "logistic_regression", {"C": 1.0})
SCRIPT = "<script>alert(1)</script>"


def _fit(frame: pd.DataFrame, seed: int = 0):
    train, test = split_dataset(frame, "target", test_size=0.5, seed=seed)
    return train_model(train, "target", FeatureSpec(), LOGISTIC), test


@pytest.fixture
def binary(binary_frame: pd.DataFrame) -> tuple[Assessment, pd.DataFrame]:
    model, test = _fit(binary_frame)
    return assess_model(model, test, "target"), test


def test_binary_confusion_matrix(binary: tuple[Assessment, pd.DataFrame]) -> None:
    result, test = binary
    cm = np.asarray(result.confusion_matrix)
    assert cm.shape == (2, 2)
    assert cm.sum() == result.n_samples == len(test) == 20
    assert result.labels == ["no", "yes"]
    assert cm.sum(axis=1).tolist() == [10, 10]  # rows are the actual classes
    assert result.accuracy == pytest.approx(np.trace(cm) / cm.sum())


def test_binary_scores_are_for_the_positive_class(binary: tuple[Assessment, pd.DataFrame]) -> None:
    result, _ = binary
    assert result.positive_label == "yes"
    assert result.precision == pytest.approx(result.per_class["yes"]["precision"])
    assert result.recall == pytest.approx(result.per_class["yes"]["recall"])
    assert result.f1 == pytest.approx(result.per_class["yes"]["f1-score"])
    assert sum(row["support"] for row in result.per_class.values()) == result.n_samples
    assert result.accuracy > 0.7


def test_binary_roc_curve(binary: tuple[Assessment, pd.DataFrame]) -> None:
    result, _ = binary
    assert (result.roc_fpr[0], result.roc_tpr[0]) == (0.0, 0.0)
    assert (result.roc_fpr[-1], result.roc_tpr[-1]) == (1.0, 1.0)
    assert len(result.roc_fpr) == len(result.roc_tpr) == len(result.roc_thresholds)
    assert all(math.isfinite(t) and 0.0 <= t <= 1.0 for t in result.roc_thresholds)
    assert result.roc_fpr == sorted(result.roc_fpr) and result.roc_tpr == sorted(result.roc_tpr)
    assert result.roc_auc is not None and 0.0 <= result.roc_auc <= 1.0
    # the area under the reported points is the reported AUC
    assert skm.auc(result.roc_fpr, result.roc_tpr) == pytest.approx(result.roc_auc)
    assert result.log_loss is not None and result.log_loss > 0


def test_long_roc_curves_are_thinned_with_their_ends_kept() -> None:
    rng = np.random.default_rng(3)
    labels = np.array(["a", "b"] * 600)
    frame = pd.DataFrame({"x": (labels == "b") * 0.5 + rng.normal(size=1200), "target": labels})
    model, test = _fit(frame)
    proba = model.predict_proba(test.drop(columns=["target"]))[:, 1]
    full = skm.roc_curve((test["target"] == "b").astype(int), proba)[0]
    assert len(full) > 200  # the precondition: a curve longer than the limit
    result = assess_model(model, test, "target")
    assert 100 < len(result.roc_fpr) <= 200
    assert (result.roc_fpr[0], result.roc_tpr[0]) == (0.0, 0.0)
    assert (result.roc_fpr[-1], result.roc_tpr[-1]) == (1.0, 1.0)


def test_multiclass_uses_macro_averages(iris: pd.DataFrame) -> None:
    model, test = _fit(iris)
    # Unequal class sizes in the test rows, so that macro and weighted averages differ.
    is_virginica = test["target"] == "virginica"
    test = pd.concat([test[~is_virginica], test[is_virginica].head(10)])
    assert test["target"].value_counts().sort_index().tolist() == [25, 25, 10]
    result = assess_model(model, test, "target")
    assert result.labels == ["setosa", "versicolor", "virginica"]
    assert result.positive_label is None
    assert np.asarray(result.confusion_matrix).sum() == result.n_samples == 60
    for name, key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
        macro = np.mean([row[key] for row in result.per_class.values()])
        assert getattr(result, name) == pytest.approx(macro)
    assert result.roc_auc is not None and 0.9 <= result.roc_auc <= 1.0
    assert result.balanced_accuracy == pytest.approx(result.recall)  # macro recall
    assert set(result.scalars()) == {
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
    }
    assert (result.roc_fpr[0], result.roc_fpr[-1]) == (0.0, 1.0)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true:UserWarning")
def test_multiclass_test_split_missing_a_class_has_no_auc(iris: pd.DataFrame) -> None:
    model, test = _fit(iris)
    result = assess_model(model, test[test["target"] != "virginica"], "target")
    assert result.roc_auc is None
    assert result.labels == ["setosa", "versicolor", "virginica"]
    assert result.per_class["virginica"]["support"] == 0
    assert result.roc_fpr  # the micro-averaged curve is still drawn
    assert "roc_auc" not in result.scalars()


def test_a_model_without_predict_proba(binary_frame: pd.DataFrame) -> None:
    train, test = split_dataset(binary_frame, "target", test_size=0.5, seed=0)
    model = Pipeline(
        [
            ("features", DerivedFeatures()),
            ("preprocess", build_preprocessor()),
            ("model", RidgeClassifier()),
        ]
    ).fit(train.drop(columns=["target"]), train["target"])
    assert not hasattr(model, "predict_proba")
    result = assess_model(model, test, "target")
    assert (result.roc_auc, result.log_loss) == (None, None)
    assert (result.roc_fpr, result.roc_tpr, result.roc_thresholds) == ([], [], [])
    assert set(result.scalars()) == {"accuracy", "balanced_accuracy", "precision", "recall", "f1"}
    assert np.asarray(result.confusion_matrix).sum() == 20
    html = assessment_html(result)
    assert html.count("<svg") == 1  # the confusion matrix; no ROC plot
    assert 'class="chart chart-heatmap"' in html


def test_scalars_and_to_dict(binary: tuple[Assessment, pd.DataFrame]) -> None:
    result, _ = binary
    scalars = result.scalars()
    assert scalars["accuracy"] == result.accuracy
    assert all(isinstance(v, float) for v in scalars.values())
    data = json.loads(json.dumps(result.to_dict()))
    assert data["confusion_matrix"] == result.confusion_matrix
    assert data["labels"] == ["no", "yes"]


def test_assessment_markdown_lists_every_scalar(binary: tuple[Assessment, pd.DataFrame]) -> None:
    result, _ = binary
    text = assessment_markdown(result)
    lines = text.splitlines()
    assert lines[:2] == ["| metric | value |", "| --- | ---: |"]
    assert lines[2:] == [f"| {k} | {v:.4f} |" for k, v in result.scalars().items()]
    assert f"| accuracy | {result.accuracy:.4f} |" in text


def test_assessment_html_is_one_escaped_document(binary_frame: pd.DataFrame) -> None:
    frame = binary_frame.assign(target=binary_frame["target"].map({"no": SCRIPT, "yes": "ok"}))
    model, test = _fit(frame)
    result = assess_model(model, test, "target")
    assert result.labels == [SCRIPT, "ok"]
    html = assessment_html(
        result, title=f"Model {SCRIPT}", context={"feature columns": f"signal, {SCRIPT}"}
    )
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert html.rstrip().endswith("</html>")
    assert html.lower().count("<!doctype") == 1
    assert html.count("<html") == 1
    assert "<?xml" not in html
    assert html.count("<svg") == 2  # confusion matrix and ROC curve
    assert 'class="chart chart-heatmap"' in html and 'class="chart chart-roc"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert "How this model was made" in html
    assert f"{result.accuracy:.4f}" in html


def test_assessment_html_draws_the_confusion_counts_and_the_roc_curve(
    binary: tuple[Assessment, pd.DataFrame],
) -> None:
    result, _ = binary
    html = assessment_html(result)
    heat = re.search(r'<svg [^>]*class="chart chart-heatmap".*?</svg>', html, flags=re.S)
    roc = re.search(r'<svg [^>]*class="chart chart-roc".*?</svg>', html, flags=re.S)
    assert heat and roc
    for (i, j), count in np.ndenumerate(np.asarray(result.confusion_matrix)):
        true, predicted = result.labels[i], result.labels[j]
        assert f"<title>{true}, {predicted}: {count}</title>" in heat.group(0)
    line = ET.fromstring(roc.group(0)).find("{http://www.w3.org/2000/svg}polyline")
    assert line is not None
    points = (line.get("points") or "").split()
    assert len(points) == len(result.roc_fpr)
    assert f"positive: {result.positive_label}" in roc.group(0)
    assert result.roc_auc is not None
    assert f"AUC {format_number(result.roc_auc)}" in roc.group(0)


def test_multiclass_report_says_how_its_curve_differs_from_roc_auc(iris: pd.DataFrame) -> None:
    model, test = _fit(iris)
    result = assess_model(model, test, "target")
    assert result.positive_label is None and result.roc_fpr
    html = assessment_html(result)
    assert "all classes pooled" in html and "the two can differ" in html


def test_assessment_html_without_context(binary: tuple[Assessment, pd.DataFrame]) -> None:
    result, _ = binary
    html = assessment_html(result)
    assert "<title>Model assessment</title>" in html
    assert "How this model was made" not in html
