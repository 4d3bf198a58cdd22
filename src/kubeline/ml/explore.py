"""Explore: a profile of a dataset, as data, Markdown, scalar metrics and an HTML report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from kubeline import charts
from kubeline.ml import _report
from kubeline.ml.validate import require_target

__all__ = [
    "ColumnProfile",
    "DatasetProfile",
    "profile_dataset",
    "profile_html",
    "profile_markdown",
    "profile_metrics",
]

_DISTRIBUTIONS = 6  # the features whose histograms the report draws, strongest first
_CORRELATED = 25  # the numeric features in the correlation heat map, at most


@dataclass(frozen=True)
class ColumnProfile:
    """Summary of one feature column."""

    name: str
    dtype: str
    kind: str  # "numeric" or "categorical"
    missing: int
    missing_fraction: float
    unique: int
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    skew: float | None = None
    top: str | None = None


@dataclass(frozen=True)
class DatasetProfile:
    """What a newcomer wants to know before modelling: size, types, gaps, balance, signal."""

    target: str
    n_rows: int
    n_columns: int
    n_numeric: int
    n_categorical: int
    missing_cells: int
    duplicate_rows: int
    columns: list[ColumnProfile]
    class_counts: dict[str, int]
    # (column, correlation ratio eta in [0, 1]) sorted strongest first.
    target_association: list[tuple[str, float]] = field(default_factory=list)

    @property
    def imbalance_ratio(self) -> float:
        counts = list(self.class_counts.values())
        smallest = min(counts, default=0)
        return max(counts) / smallest if smallest else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _correlation_ratio(values: np.ndarray, codes: np.ndarray) -> float:
    """Correlation ratio eta: how much of a numeric column's variance the classes explain.

    For two classes it equals the absolute point-biserial (Pearson) correlation.
    """
    mask = ~np.isnan(values)
    values, codes = values[mask], codes[mask]
    if values.size < 2:
        return 0.0
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0.0:
        return 0.0
    between = 0.0
    for code in np.unique(codes):
        group = values[codes == code]
        between += group.size * (group.mean() - values.mean()) ** 2
    return float(np.sqrt(between / total))


def profile_dataset(frame: pd.DataFrame, target: str) -> DatasetProfile:
    """Profile ``frame`` (n_samples, n_features + 1) around its label column ``target``."""
    require_target(frame, target)
    features = frame.drop(columns=[target])
    labels = frame[target]
    codes = pd.factorize(labels)[0]
    columns: list[ColumnProfile] = []
    association: list[tuple[str, float]] = []
    for name in features.columns:
        col = features[name]
        missing = int(col.isna().sum())
        base = ColumnProfile(
            name=str(name),
            dtype=str(col.dtype),
            kind="categorical",
            missing=missing,
            missing_fraction=missing / len(col) if len(col) else 0.0,
            unique=int(col.nunique(dropna=True)),
        )
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            values = col.to_numpy(dtype=float)
            present = values[~np.isnan(values)]
            skew = float(pd.Series(present).skew()) if present.size > 2 else None
            columns.append(
                replace(
                    base,
                    kind="numeric",
                    mean=float(present.mean()) if present.size else None,
                    std=float(present.std(ddof=1)) if present.size > 1 else None,
                    min=float(present.min()) if present.size else None,
                    max=float(present.max()) if present.size else None,
                    skew=0.0 if skew is not None and np.isnan(skew) else skew,
                )
            )
            association.append((str(name), _correlation_ratio(values, codes)))
        else:
            top = col.mode(dropna=True)
            columns.append(replace(base, top=str(top.iloc[0]) if len(top) else None))
    association.sort(key=lambda item: (-item[1], item[0]))
    counts = labels.astype(str).value_counts().sort_index()
    return DatasetProfile(
        target=target,
        n_rows=len(frame),
        n_columns=features.shape[1],
        n_numeric=sum(c.kind == "numeric" for c in columns),
        n_categorical=sum(c.kind == "categorical" for c in columns),
        missing_cells=int(features.isna().sum().sum()),
        duplicate_rows=int(frame.duplicated().sum()),
        columns=columns,
        class_counts={str(k): int(v) for k, v in counts.items()},
        target_association=association,
    )


def profile_metrics(profile: DatasetProfile) -> dict[str, float]:
    """Scalar figures for a KFP Metrics artifact."""
    top = profile.target_association[0][1] if profile.target_association else 0.0
    return {
        "rows": float(profile.n_rows),
        "features": float(profile.n_columns),
        "numeric_features": float(profile.n_numeric),
        "categorical_features": float(profile.n_categorical),
        "classes": float(len(profile.class_counts)),
        "missing_cells": float(profile.missing_cells),
        "duplicate_rows": float(profile.duplicate_rows),
        "imbalance_ratio": float(profile.imbalance_ratio),
        "strongest_association": float(top),
    }


def profile_markdown(profile: DatasetProfile, top: int = 5) -> str:
    """A short Markdown summary fit for a KFP Markdown artifact or a terminal."""
    lines = [
        f"# Data profile: target `{profile.target}`",
        "",
        f"- **{profile.n_rows:,} rows**, {profile.n_columns} features "
        f"({profile.n_numeric} numeric, {profile.n_categorical} categorical)",
        f"- Missing cells: {profile.missing_cells:,}; duplicate rows: {profile.duplicate_rows:,}",
        f"- Classes ({len(profile.class_counts)}): "
        + ", ".join(f"`{k}` {v:,}" for k, v in profile.class_counts.items())
        + f" (largest/smallest = {profile.imbalance_ratio:.2f})",
        "",
        "| strongest features | association with target (η) |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {eta:.3f} |" for name, eta in profile.target_association[:top]]
    return "\n".join(lines) + "\n"


def _plots(frame: pd.DataFrame, profile: DatasetProfile) -> dict[str, Markup]:
    """The report's SVG plots: class balance, the strongest features' distributions per
    class, and the numeric features' correlations (left out when there is nothing to draw)."""
    plots = {
        "classes": charts.bar_chart_svg(list(profile.class_counts.items()), title="Rows per class")
    }
    top = [name for name, _ in profile.target_association[:_DISTRIBUTIONS]]
    if top:
        labels = frame[profile.target].astype(str)
        # One outline per class, each in its own style: past as many classes as there are
        # styles they would repeat, so the largest classes are drawn and the caption says so.
        largest = sorted(profile.class_counts, key=lambda c: -profile.class_counts[c])
        classes = [c for c in profile.class_counts if c in largest[: len(charts.SERIES)]]
        panels = [
            charts.histogram_svg(
                [(c, frame.loc[labels == c, name].to_numpy(dtype=float).tolist()) for c in classes],
                title=name,
                legend=False,
            )
            for name in top
        ]
        caption = "How the features most associated with the target spread, one outline per class"
        if len(classes) < len(profile.class_counts):
            caption += f" (the {len(classes)} largest of {len(profile.class_counts)} classes)"
        plots["distributions"] = charts.small_multiples_html(
            panels, caption=caption, legend=charts.series_legend_html(classes, markers=False)
        )
    numeric = [c.name for c in profile.columns if c.kind == "numeric"][:_CORRELATED]
    if len(numeric) >= 2:
        corr = frame[numeric].corr().to_numpy()
        values = [[float(v) if np.isfinite(v) else None for v in row] for row in corr]
        plots["correlations"] = charts.heatmap_svg(
            numeric,
            numeric,
            values,
            title="Feature correlations (Pearson)",
            diverging=True,
            legend="Pearson correlation: blue negative, red positive",
        )
    return plots


def profile_html(frame: pd.DataFrame, profile: DatasetProfile) -> str:
    """A one-file HTML report with tables and inline SVG plots."""
    return _report.render(
        "explore.html",
        profile=profile,
        plots=_plots(frame, profile),
        preview=frame.head(10).to_dict(orient="split"),
    )
