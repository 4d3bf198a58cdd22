"""The model zoo: estimator families, their search spaces, and trial sampling.

A *trial* is one family plus one set of hyper-parameters. The first trial of each family
uses the family's defaults as a baseline; the others are drawn from its search space with
a seeded sampler, so the same seed always gives the same trials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from scipy.stats import loguniform, randint
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import ParameterSampler
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from kubeline.errors import ConfigError

__all__ = ["FAMILIES", "Family", "Trial", "make_estimator", "sample_trials"]


@dataclass(frozen=True)
class Family:
    """An estimator family: how to build it, its baseline and its search space."""

    name: str
    build: Callable[..., ClassifierMixin]
    baseline: dict[str, Any]
    space: dict[str, Any]
    seeded: bool = True


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "logistic_regression",
            lambda **p: LogisticRegression(max_iter=5000, **p),
            {"C": 1.0},
            {"C": loguniform(1e-3, 1e2)},
        ),
        Family(
            "random_forest",
            lambda **p: RandomForestClassifier(n_jobs=1, **p),
            {"n_estimators": 200},
            {
                "n_estimators": [100, 200, 400],
                "max_depth": [None, 4, 8, 16],
                "min_samples_leaf": [1, 2, 4],
                "max_features": ["sqrt", 0.5],
            },
        ),
        Family(
            "hist_gradient_boosting",
            HistGradientBoostingClassifier,
            {},
            {
                "learning_rate": loguniform(0.02, 0.3),
                "max_leaf_nodes": [15, 31, 63],
                "l2_regularization": loguniform(1e-4, 1.0),
                "max_iter": [100, 200],
            },
        ),
        Family(
            "svm",
            # Probabilities (for ROC and log loss) by calibration on internal folds: what
            # scikit-learn recommends since SVC(probability=True) was deprecated in 1.9.
            lambda **p: CalibratedClassifierCV(SVC(**p), ensemble=False),
            {"C": 1.0},
            {"C": loguniform(0.1, 100.0), "gamma": ["scale", 0.001, 0.01, 0.1]},
            seeded=False,
        ),
        Family(
            "knn",
            KNeighborsClassifier,
            {"n_neighbors": 5},
            {"n_neighbors": randint(3, 31), "weights": ["uniform", "distance"], "p": [1, 2]},
            seeded=False,
        ),
    )
}


@dataclass(frozen=True)
class Trial:
    """One family with one set of hyper-parameters (JSON-friendly)."""

    trial_id: str
    family: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trial:
        return cls(str(data["trial_id"]), str(data["family"]), dict(data.get("params", {})))


def _family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(
            f"Unknown model family '{name}'. Known families: {', '.join(FAMILIES)}."
        ) from None


def _plain(value: Any) -> Any:
    """numpy scalars to Python scalars, so trials survive JSON round trips."""
    return value.item() if hasattr(value, "item") else value


def sample_trials(families: list[str], trials_per_family: int, seed: int = 42) -> list[Trial]:
    """The trials to run: per family, its baseline, then seeded draws from its space.

    Raises:
        ConfigError: an unknown family, no families, or ``trials_per_family`` < 1.
    """
    if not families:
        raise ConfigError(f"Name at least one model family. Known families: {', '.join(FAMILIES)}.")
    if int(trials_per_family) < 1:
        raise ConfigError(f"trials_per_family must be at least 1. Got {trials_per_family} instead.")
    trials: list[Trial] = []
    for name in dict.fromkeys(families):  # keep order, drop repeats
        family = _family(name)
        draws = ParameterSampler(family.space, n_iter=int(trials_per_family) - 1, random_state=seed)
        params_list = [dict(family.baseline), *draws]
        for i, params in enumerate(params_list):
            clean = {k: _plain(v) for k, v in sorted(params.items())}
            trials.append(Trial(f"{name}-{i}", name, clean))
    return trials


def make_estimator(family: str, params: dict[str, Any], seed: int = 42) -> ClassifierMixin:
    """Build an unfitted estimator; seeded families get ``random_state=seed``.

    Raises:
        ConfigError: an unknown family or a parameter the family does not take.
    """
    spec = _family(family)
    kwargs = dict(params)
    if spec.seeded:
        kwargs["random_state"] = seed
    try:
        return spec.build(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"Bad parameters for model family '{family}': {exc}") from exc
