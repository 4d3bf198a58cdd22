"""Assessment: test-split metrics, confusion matrix, ROC curve, and an HTML report."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from kubeline import charts
from kubeline.ml import _report
from kubeline.ml.experiment import split_xy

__all__ = ["Assessment", "assess_model", "assessment_html", "assessment_markdown"]

_MAX_ROC_POINTS = 200


@dataclass(frozen=True)
class Assessment:
    """How a fitted classifier does on held-out data."""

    accuracy: float
    balanced_accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float | None
    log_loss: float | None
    n_samples: int
    labels: list[str]
    confusion_matrix: list[list[int]]
    # One ROC curve: the positive class for binary tasks, micro-averaged one-vs-rest otherwise.
    roc_fpr: list[float] = field(default_factory=list)
    roc_tpr: list[float] = field(default_factory=list)
    roc_thresholds: list[float] = field(default_factory=list)
    positive_label: str | None = None
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)

    def scalars(self) -> dict[str, float]:
        """The headline figures (None where undefined is left out)."""
        names = (
            "accuracy",
            "balanced_accuracy",
            "precision",
            "recall",
            "f1",
            "roc_auc",
            "log_loss",
        )
        out = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        return {k: float(v) for k, v in out.items()}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _thin(
    fpr: np.ndarray, tpr: np.ndarray, thr: np.ndarray
) -> tuple[list[float], list[float], list[float]]:
    """At most _MAX_ROC_POINTS points, ends kept; infinite thresholds clipped to 1."""
    if len(fpr) > _MAX_ROC_POINTS:
        idx = np.unique(np.linspace(0, len(fpr) - 1, _MAX_ROC_POINTS).round().astype(int))
        fpr, tpr, thr = fpr[idx], tpr[idx], thr[idx]
    thr = np.clip(np.nan_to_num(thr, posinf=1.0, neginf=0.0), 0.0, 1.0)
    return [float(x) for x in fpr], [float(x) for x in tpr], [float(x) for x in thr]


def assess_model(model: Any, test: pd.DataFrame, target: str) -> Assessment:
    """Score a fitted classifier on ``test`` (n_samples, n_features + 1).

    Precision, recall and F1 are for the positive (second) class on binary tasks and
    macro-averaged on multi-class ones. ROC AUC and log loss need ``predict_proba``.
    """
    X, y = split_xy(test, target)
    labels = [str(c) for c in getattr(model, "classes_", sorted(y.unique()))]
    predicted = pd.Series(model.predict(X)).astype(str).to_numpy()
    binary = len(labels) == 2
    average = "binary" if binary else "macro"
    pos = labels[1] if binary else None
    kw: dict[str, Any] = {"average": average, "zero_division": 0}
    if binary:
        kw["pos_label"] = pos
    precision = skm.precision_score(y, predicted, **kw)
    recall = skm.recall_score(y, predicted, **kw)
    f1 = skm.f1_score(y, predicted, **kw)
    cm = skm.confusion_matrix(y, predicted, labels=labels)
    report = skm.classification_report(
        y, predicted, labels=labels, output_dict=True, zero_division=0
    )
    per_class = {
        lab: {k: float(report[lab][k]) for k in ("precision", "recall", "f1-score", "support")}
        for lab in labels
    }
    roc_auc = log_loss = None
    fpr: list[float] = []
    tpr: list[float] = []
    thr: list[float] = []
    if hasattr(model, "predict_proba") and y.nunique() >= 2:
        proba = np.asarray(model.predict_proba(X))
        log_loss = float(skm.log_loss(y, proba, labels=labels))
        if binary:
            truth = (y.to_numpy() == pos).astype(int)
            roc_auc = float(skm.roc_auc_score(truth, proba[:, 1]))
            curve = skm.roc_curve(truth, proba[:, 1])
        else:
            present = [lab for lab in labels if lab in set(y)]
            if len(present) == len(labels):
                roc_auc = float(
                    skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels)
                )
            onehot = label_binarize(y, classes=labels)
            curve = skm.roc_curve(onehot.ravel(), proba.ravel())
        fpr, tpr, thr = _thin(*curve)
    if log_loss is not None and not math.isfinite(log_loss):
        log_loss = None
    return Assessment(
        accuracy=float(skm.accuracy_score(y, predicted)),
        balanced_accuracy=float(skm.balanced_accuracy_score(y, predicted)),
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        roc_auc=roc_auc,
        log_loss=log_loss,
        n_samples=len(y),
        labels=labels,
        confusion_matrix=cm.astype(int).tolist(),
        roc_fpr=fpr,
        roc_tpr=tpr,
        roc_thresholds=thr,
        positive_label=pos,
        per_class=per_class,
    )


def assessment_markdown(assessment: Assessment) -> str:
    lines = ["| metric | value |", "| --- | ---: |"]
    lines += [f"| {k} | {v:.4f} |" for k, v in assessment.scalars().items()]
    return "\n".join(lines) + "\n"


def _plots(assessment: Assessment) -> dict[str, Markup]:
    """The report's SVG plots: the confusion matrix, and the ROC curve when there is one."""
    plots = {
        "confusion": charts.confusion_heatmap_svg(assessment.labels, assessment.confusion_matrix)
    }
    if assessment.roc_fpr:
        points = list(zip(assessment.roc_fpr, assessment.roc_tpr, strict=True))
        if assessment.positive_label is not None:
            title = f"ROC curve (positive: {assessment.positive_label})"
            auc = assessment.roc_auc
        else:  # the curve pools the classes, so its own area is the one to print beside it
            title = "ROC curve (all classes pooled, one-vs-rest)"
            auc = charts.auc_trapezoid(points)
        plots["roc"] = charts.roc_curve_svg(points, auc=auc, title=title)
    return plots


def assessment_html(
    assessment: Assessment, title: str = "Model assessment", context: dict[str, Any] | None = None
) -> str:
    """A one-file HTML evaluation report: metrics, per-class table, plots, context facts."""
    return _report.render(
        "assessment.html",
        title=title,
        assessment=assessment,
        scalars=assessment.scalars(),
        plots=_plots(assessment),
        context=context or {},
    )
