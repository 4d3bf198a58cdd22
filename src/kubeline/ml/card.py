"""Versioning: a model card (Markdown) that says what produced a model and how good it is."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["ModelCard", "library_versions"]


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model needs to load the same way."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("scikit-learn", "numpy", "pandas", "joblib", "kubeline"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@dataclass
class ModelCard:
    """Everything needed to trust, reproduce and trace one model version."""

    name: str
    version: str
    family: str
    params: dict[str, Any]
    metrics: dict[str, float]
    data_source: str
    data_digest: str
    target: str
    n_train: int
    n_test: int
    features: list[str]
    derived_features: list[str] = field(default_factory=list)
    cv_score: float | None = None
    threshold: float | None = None
    lineage: dict[str, str] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=library_versions)
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    def to_markdown(self) -> str:
        lines = [
            f"# Model card: {self.name} (content {self.version})",
            "",
            f"Created {self.created}. A **{self.family}** classifier predicting "
            f"`{self.target}` from {len(self.features)} input columns.",
            "",
            "## Data",
            f"- Source: `{self.data_source}`",
            f"- Digest (sha256 of the ingested table): `{self.data_digest}`",
            f"- Rows: {self.n_train:,} for training, {self.n_test:,} held out for testing",
            f"- Input columns, in order: {', '.join(f'`{c}`' for c in self.features)}",
            "- Derived features (rebuilt inside the model at predict time): "
            + (", ".join(f"`{c}`" for c in self.derived_features) or "none"),
            "",
            "## Training",
            "| parameter | value |",
            "| --- | --- |",
        ]
        lines += [f"| {k} | {_value(v)} |" for k, v in self.params.items()] or []
        if not self.params:
            lines.append("| (family defaults) | |")
        if self.cv_score is not None:
            lines += ["", f"Cross-validated score on the training split: {self.cv_score:.4f}"]
        lines += ["", "## Test metrics", "| metric | value |", "| --- | ---: |"]
        lines += [f"| {k} | {v:.4f} |" for k, v in self.metrics.items()]
        if self.threshold is not None:
            lines += [
                "",
                f"Registered because test accuracy reached the threshold {self.threshold:.4g}.",
            ]
        lines += ["", "## Lineage", "| what | where |", "| --- | --- |"]
        lines += [f"| {k} | `{v}` |" for k, v in self.lineage.items()]
        lines += [
            "",
            "## Libraries",
            ", ".join(f"{k} {v}" for k, v in self.libraries.items()),
            "",
            "## Intended use and limits",
            "Trained and tested on the data named above only. Re-assess before use on "
            "data from another source or period; the test metrics do not transfer.",
        ]
        return "\n".join(lines) + "\n"
