"""The KFP pipelines the benchmarks run, compiled once to YAML that both engines then run.

Components use plain ``@dsl.component`` (no base image, no packages), so each compiles to
KFP's usual ``pip install kfp==...`` command: the same command a newcomer's pipeline has.
Their bodies import what they need because KFP runs each body alone.

No ``from __future__ import annotations`` here: KFP reads the real annotation objects.
"""

import warnings
from pathlib import Path
from typing import Any, NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from kubeline.pipelines.compile import compile_function, compile_pipeline

# The plain decorator is the point (it compiles the usual pip-install command); its notice
# that the default image will change would only clutter the table.
warnings.filterwarnings("ignore", message="The default base_image", category=FutureWarning)

__all__ = [
    "SKLEARN_EXECUTOR_TASKS",
    "SKLEARN_MODELS",
    "chain_pipeline",
    "compile_to",
    "loop_pipeline",
    "sklearn_pipeline",
    "sleep_pipeline",
]


def compile_to(pipeline: Any, path: Path) -> Path:
    """Compile ``pipeline`` to the YAML file both engines load."""
    return compile_pipeline(compile_function(pipeline), path)


# ------------------------------------------------------------------ trivial tasks


@dsl.component
def add_one(x: int) -> int:
    return x + 1


@dsl.component
def nap(seconds: float, index: int) -> int:
    import time

    time.sleep(seconds)
    return index


@dsl.component
def echo(item: int) -> int:
    return item


def chain_pipeline(length: int) -> Any:
    """``length`` tasks in a row, each adding 1 to its predecessor's output."""

    @dsl.pipeline(name=f"bench-chain{length}")
    def chain(start: int = 0) -> int:
        task = add_one(x=start)
        for _ in range(length - 1):
            task = add_one(x=task.output)
        return task.output

    return chain


def sleep_pipeline(tasks: int) -> Any:
    """``tasks`` independent tasks that each sleep ``seconds``; ``index`` keeps their
    inputs (and so their cache keys) apart."""

    @dsl.pipeline(name=f"bench-sleep{tasks}")
    def sleep(seconds: float = 1.0) -> None:
        for index in range(tasks):
            nap(seconds=seconds, index=index)

    return sleep


@dsl.pipeline(name="bench-loop")
def loop_pipeline(items: list) -> None:
    """A ParallelFor over the pipeline input ``items``: one trivial task per item."""
    with dsl.ParallelFor(items) as item:
        echo(item=item)


# ------------------------------------------------------------- scikit-learn, 13 tasks

#: The model configurations the ParallelFor fans out over.
SKLEARN_MODELS = ["logistic_regression", "decision_tree", "random_forest", "knn"]

#: Executor tasks one run runs: load, profile, split, the nested pipeline's two (fit and
#: apply the scaling), 4 scored models, select, fit, evaluate, and register or reject.
SKLEARN_EXECUTOR_TASKS = 13


@dsl.component
def load_data(data: Output[Dataset]) -> int:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.to_parquet(data.path)
    return len(frame)


@dsl.component
def profile(data: Input[Dataset], stats: Output[Metrics]) -> float:
    import pandas as pd

    frame = pd.read_parquet(data.path)
    share = float(frame["target"].mean())
    stats.log_metric("rows", len(frame))
    stats.log_metric("positive_share", share)
    return share


@dsl.component
def split_data(
    data: Input[Dataset], seed: int, train: Output[Dataset], test: Output[Dataset]
) -> None:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_parquet(data.path)
    left, right = train_test_split(
        frame, test_size=0.25, random_state=seed, stratify=frame["target"]
    )
    left.to_parquet(train.path)
    right.to_parquet(test.path)


@dsl.component
def fit_scaler(train: Input[Dataset], target: str, scaled: Output[Dataset]) -> None:
    import pandas as pd
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_parquet(train.path)
    features = frame.drop(columns=target)
    out = pd.DataFrame(StandardScaler().fit_transform(features), columns=features.columns)
    out[target] = frame[target].to_numpy()
    out.to_parquet(scaled.path)
    scaled.metadata["means"] = [float(v) for v in features.mean()]
    scaled.metadata["scales"] = [float(v) for v in features.std(ddof=0)]


@dsl.component
def apply_scaler(
    fitted: Input[Dataset], data: Input[Dataset], target: str, scaled: Output[Dataset]
) -> None:
    import pandas as pd

    frame = pd.read_parquet(data.path)
    features = frame.drop(columns=target)
    means, scales = fitted.metadata["means"], fitted.metadata["scales"]
    out = (features - means) / scales
    out[target] = frame[target].to_numpy()
    out.to_parquet(scaled.path)


class Prepared(NamedTuple):
    train: Dataset
    test: Dataset


@dsl.pipeline(name="prepare")
def prepare(train: Input[Dataset], test: Input[Dataset], target: str) -> Prepared:
    """The nested pipeline: scale the training split, then the test split the same way.

    ``target`` is also what makes kfp.local pass the artifacts in: it builds a nested
    pipeline's inputs only when the task has a parameter input (kfp 2.17,
    ``build_nested_dag_arguments``).
    """
    fitted = fit_scaler(train=train, target=target)
    applied = apply_scaler(fitted=fitted.outputs["scaled"], data=test, target=target)
    return Prepared(train=fitted.outputs["scaled"], test=applied.outputs["scaled"])


@dsl.component
def score_model(train: Input[Dataset], model: str, seed: int) -> str:
    import json

    import pandas as pd
    from sklearn.model_selection import cross_val_score

    frame = pd.read_parquet(train.path)
    x, y = frame.drop(columns="target"), frame["target"]
    if model == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        estimator = LogisticRegression(max_iter=500)
    elif model == "decision_tree":
        from sklearn.tree import DecisionTreeClassifier

        estimator = DecisionTreeClassifier(random_state=seed)
    elif model == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        estimator = RandomForestClassifier(n_estimators=50, random_state=seed, n_jobs=1)
    else:
        from sklearn.neighbors import KNeighborsClassifier

        estimator = KNeighborsClassifier()
    score = float(cross_val_score(estimator, x, y, cv=3).mean())
    return json.dumps({"model": model, "score": score})


@dsl.component
def select_best(results: list) -> str:
    import json

    scored = [json.loads(r) for r in results]
    return max(scored, key=lambda r: r["score"])["model"]


@dsl.component
def fit_model(train: Input[Dataset], choice: str, seed: int, model: Output[Model]) -> None:
    import joblib
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    estimators = {
        "logistic_regression": LogisticRegression(max_iter=500),
        "decision_tree": DecisionTreeClassifier(random_state=seed),
        "random_forest": RandomForestClassifier(n_estimators=50, random_state=seed, n_jobs=1),
        "knn": KNeighborsClassifier(),
    }
    frame = pd.read_parquet(train.path)
    fitted = estimators[choice].fit(frame.drop(columns="target"), frame["target"])
    joblib.dump(fitted, model.path)


@dsl.component
def evaluate(model: Input[Model], test: Input[Dataset], metrics: Output[Metrics]) -> float:
    import joblib
    import pandas as pd
    from sklearn.metrics import accuracy_score

    frame = pd.read_parquet(test.path)
    predicted = joblib.load(model.path).predict(frame.drop(columns="target"))
    accuracy = float(accuracy_score(frame["target"], predicted))
    metrics.log_metric("accuracy", accuracy)
    return accuracy


@dsl.component
def register(model: Input[Model], accuracy: float) -> str:
    return f"registered {model.uri} at accuracy {accuracy:.4f}"


@dsl.component
def reject(accuracy: float) -> str:
    return f"rejected at accuracy {accuracy:.4f}"


@dsl.pipeline(name="bench-sklearn13")
def sklearn_pipeline(models: list = SKLEARN_MODELS, seed: int = 0, threshold: float = 0.9) -> str:
    """Branches (profile beside split), a nested pipeline, a ParallelFor with a Collected
    fan-in, and an If/Else: the shapes a real pipeline has, on a small dataset."""
    loaded = load_data()
    profile(data=loaded.outputs["data"])
    parts = split_data(data=loaded.outputs["data"], seed=seed)
    prepared = prepare(train=parts.outputs["train"], test=parts.outputs["test"], target="target")
    with dsl.ParallelFor(models) as model:
        scored = score_model(train=prepared.outputs["train"], model=model, seed=seed)
    best = select_best(results=dsl.Collected(scored.output))
    fitted = fit_model(train=prepared.outputs["train"], choice=best.output, seed=seed)
    assessed = evaluate(model=fitted.outputs["model"], test=prepared.outputs["test"])
    accuracy = assessed.outputs["Output"]
    with dsl.If(accuracy >= threshold):
        registered = register(model=fitted.outputs["model"], accuracy=accuracy)
    with dsl.Else():
        rejected = reject(accuracy=accuracy)
    return dsl.OneOf(registered.output, rejected.output)
