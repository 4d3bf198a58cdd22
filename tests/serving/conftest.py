"""Real scikit-learn models, fitted once per session and written with joblib, and one real
model server (uvicorn in a thread on a free loopback port) serving them all."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from kubeline.serving import ModelEntry, ServeConfig
from tests.serving.helpers import FailingClassifier, LiveServer, start_server

#: KServe's documented iris request rows.
IRIS_ROWS = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]


@dataclass
class Fitted:
    """A fitted model, the file it was written to, and data to ask it about."""

    model: Any
    path: Path
    X: np.ndarray  # rows to send (numbers)
    feature_names: list[str]


@dataclass
class Models:
    iris: Fitted  # LogisticRegression, 3 integer classes, plain arrays (version "2")
    iris_v1: Fitted  # a DecisionTree, the older version "1" of "iris"
    cancer: Fitted  # RandomForest, binary, 30 features
    species: Fitted  # string labels
    diabetes: Fitted  # Ridge regressor
    hgb: Fitted  # HistGradientBoosting: takes NaN
    frame: Fitted  # Pipeline fitted on a DataFrame with feature names
    mixed: Fitted  # DataFrame with a string column, one-hot encoded
    failing: Fitted  # raises in predict for negative first values

    def entries(self) -> list[ModelEntry]:
        mixed_types = ["float64", "float64", "object"]
        return [
            ModelEntry("iris", "1", str(self.iris_v1.path)),
            ModelEntry("iris", "2", str(self.iris.path)),
            ModelEntry("cancer", "1", str(self.cancer.path)),
            ModelEntry("species", "1", str(self.species.path)),
            ModelEntry("diabetes", "3", str(self.diabetes.path)),
            ModelEntry("hgb", "1", str(self.hgb.path)),
            ModelEntry("frame", "1", str(self.frame.path)),
            ModelEntry(
                "mixed",
                "1",
                str(self.mixed.path),
                feature_names=self.mixed.feature_names,
                feature_types=mixed_types,
            ),
            ModelEntry("failing", "1", str(self.failing.path)),
        ]


def _dump(folder: Path, name: str, model: Any, X: Any, names: list[str] | None = None) -> Fitted:
    path = folder / f"{name}.joblib"
    joblib.dump(model, path)
    rows = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
    return Fitted(model, path, rows, names or [])


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    folder = tmp_path_factory.mktemp("serving-models")
    iris = load_iris()
    cancer = load_breast_cancer()
    diabetes = load_diabetes()
    X_iris, y_iris = iris.data, iris.target
    X_cancer, y_cancer = cancer.data, cancer.target

    frame_X = load_iris(as_frame=True).data
    frame_model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        frame_X, y_iris
    )

    rng = np.random.default_rng(0)
    mixed_X = pd.DataFrame(
        {
            "width": rng.normal(size=200),
            "height": rng.normal(size=200),
            "color": rng.choice(["red", "green", "blue"], size=200),
        }
    )
    mixed_y = (mixed_X["width"] + (mixed_X["color"] == "red") > 0.5).astype(int)
    mixed_model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("color", OneHotEncoder(handle_unknown="ignore"), ["color"])],
                    remainder="passthrough",
                ),
            ),
            ("classify", LogisticRegression()),
        ]
    ).fit(mixed_X, mixed_y)

    X_nan = X_cancer.copy()
    X_nan[rng.random(X_nan.shape) < 0.05] = np.nan
    return Models(
        iris=_dump(folder, "iris", LogisticRegression(max_iter=1000).fit(X_iris, y_iris), X_iris),
        iris_v1=_dump(
            folder, "iris-v1", DecisionTreeClassifier(max_depth=1).fit(X_iris, y_iris), X_iris
        ),
        cancer=_dump(
            folder,
            "cancer",
            RandomForestClassifier(n_estimators=20, random_state=0).fit(X_cancer, y_cancer),
            X_cancer,
        ),
        species=_dump(
            folder,
            "species",
            LogisticRegression(max_iter=1000).fit(X_iris, iris.target_names[y_iris]),
            X_iris,
        ),
        diabetes=_dump(
            folder, "diabetes", Ridge().fit(diabetes.data, diabetes.target), diabetes.data
        ),
        hgb=_dump(
            folder,
            "hgb",
            HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X_nan, y_cancer),
            X_nan,
        ),
        frame=_dump(folder, "frame", frame_model, frame_X, list(frame_X.columns)),
        mixed=_dump(folder, "mixed", mixed_model, mixed_X, list(mixed_X.columns)),
        failing=_dump(folder, "failing", FailingClassifier(), np.ones((4, 2))),
    )


@pytest.fixture(scope="session")
def serve_config(models: Models) -> ServeConfig:
    return ServeConfig(models=models.entries(), max_latency_ms=5.0)


@pytest.fixture(scope="module")
def live(serve_config: ServeConfig) -> Iterator[LiveServer]:
    server = start_server(serve_config)
    yield server
    server.stop()
