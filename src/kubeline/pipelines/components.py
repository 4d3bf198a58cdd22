"""KFP v2 components of the lifecycle pipeline: thin wrappers around :mod:`kubeline.ml`.

Each body imports kubeline inside itself because KFP runs it alone, in a container image
that has kubeline installed (:data:`kubeline.pipelines.image.DEFAULT_IMAGE`), with no pip
install at run time. Trials and results travel as JSON strings rather than dicts: KFP
stores dict parameters as protobuf Structs, which turn every integer into a float
(``n_estimators=200.0`` would then fail scikit-learn's parameter checks).

No ``from __future__ import annotations`` here: KFP reads the real annotation objects.
Named outputs are declared KFP's way, ``-> NamedTuple("Name", [...])`` in the signature
itself (the body runs without this module, so a class defined here would not exist
there); mypy accepts no call in an annotation, hence the ``valid-type`` ignores.
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import (
    HTML,
    Artifact,
    ClassificationMetrics,
    Dataset,
    Input,
    Markdown,
    Metrics,
    Model,
    Output,
)

from kubeline.pipelines.image import DEFAULT_IMAGE

__all__ = [
    "engineer_features",
    "evaluate",
    "explore",
    "ingest",
    "plan_trials",
    "register_model",
    "reject_model",
    "run_trial",
    "select_best",
    "split",
    "train",
    "validate",
]

_component = dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)


@_component
def ingest(dataset: str, target: str, data: Output[Dataset]) -> NamedTuple(  # type: ignore[valid-type]
    "IngestOutputs", [("rows", int), ("digest", str)]
):
    """Load a bundled dataset, CSV or Parquet file (path or fsspec URI) into Parquet."""
    from kubeline.ml import datasets

    frame = datasets.load_dataset(dataset, target)
    datasets.write_parquet(frame, data.path)
    digest = datasets.dataset_digest(frame)
    data.metadata.update(
        {
            "source": dataset,
            "target": target,
            "rows": len(frame),
            "columns": frame.shape[1],
            "digest": digest,
            "format": "parquet",
        }
    )
    return (len(frame), digest)


@_component
def explore(
    data: Input[Dataset],
    target: str,
    report: Output[HTML],
    summary: Output[Markdown],
    profile: Output[Metrics],
):
    """Profile the data: an HTML report with plots, a Markdown summary, scalar metrics."""
    from kubeline.ml import datasets
    from kubeline.ml import explore as ex
    from kubeline.ml._files import write_text

    frame = datasets.read_parquet(data.path)
    prof = ex.profile_dataset(frame, target)
    write_text(report.path, ex.profile_html(frame, prof))
    write_text(summary.path, ex.profile_markdown(prof))
    for name, value in ex.profile_metrics(prof).items():
        profile.log_metric(name, value)


@_component
def validate(
    data: Input[Dataset], target: str, test_size: float, cv_folds: int, checks: Output[Markdown]
) -> int:
    """Schema and quality checks; a failure stops the pipeline with the column and problem."""
    from kubeline.ml import datasets
    from kubeline.ml import validate as va
    from kubeline.ml._files import write_text

    frame = datasets.read_parquet(data.path)
    needed = va.rows_needed_per_class(cv_folds, test_size)
    results = va.validate_dataset(frame, target, min_rows_per_class=needed)
    rows = "\n".join(f"| {c.name} | passed | {c.message} |" for c in results)
    write_text(checks.path, "| check | result | detail |\n| --- | --- | --- |\n" + rows + "\n")
    return int(frame[target].nunique())


@_component
def split(
    data: Input[Dataset],
    target: str,
    test_size: float,
    seed: int,
    train_data: Output[Dataset],
    test_data: Output[Dataset],
):
    """Stratified, seeded train/test split."""
    from kubeline.ml import datasets
    from kubeline.ml.split import split_dataset

    train_frame, test_frame = split_dataset(
        datasets.read_parquet(data.path), target, test_size, seed
    )
    for art, frame in ((train_data, train_frame), (test_data, test_frame)):
        datasets.write_parquet(frame, art.path)
        art.metadata.update({"rows": len(frame), "target": target, "format": "parquet"})


@_component
def engineer_features(
    train_data: Input[Dataset], target: str, ratio_features: list, feature_spec: Output[Artifact]
) -> int:
    """Plan derived features on the training split; the spec is rebuilt inside the model."""
    from kubeline.ml import datasets
    from kubeline.ml._files import write_text
    from kubeline.ml.features import plan_features

    spec = plan_features(datasets.read_parquet(train_data.path), target, ratios=ratio_features)
    write_text(feature_spec.path, spec.to_json())
    feature_spec.metadata.update({"derived": spec.derived_names})
    return len(spec.derived_names)


@_component
def plan_trials(families: list, trials_per_family: int, seed: int) -> list:
    """The experiment grid: one JSON string per trial (family + hyper-parameters)."""
    import json

    from kubeline.ml.zoo import sample_trials

    return [json.dumps(t.to_dict()) for t in sample_trials(families, trials_per_family, seed)]


@_component
def run_trial(
    train_data: Input[Dataset],
    feature_spec: Input[Artifact],
    target: str,
    trial: str,
    cv_folds: int,
    seed: int,
    scores: Output[Metrics],
) -> str:
    """Score one trial by stratified cross-validation on the training split."""
    import json
    from pathlib import Path

    from kubeline.ml import datasets
    from kubeline.ml.experiment import evaluate_trial
    from kubeline.ml.features import FeatureSpec
    from kubeline.ml.zoo import Trial

    result = evaluate_trial(
        datasets.read_parquet(train_data.path),
        target,
        FeatureSpec.from_json(Path(feature_spec.path).read_text(encoding="utf-8")),
        Trial.from_dict(json.loads(trial)),
        cv_folds=cv_folds,
        seed=seed,
    )
    scores.log_metric("cv_mean", result.cv_mean)
    scores.log_metric("cv_std", result.cv_std)
    scores.metadata["trial"] = result.trial_id
    return json.dumps(result.to_dict())


@_component
def select_best(results: list, leaderboard: Output[Markdown]) -> NamedTuple(  # type: ignore[valid-type]
    "BestTrial", [("best", str), ("family", str), ("cv_score", float)]
):
    """Fan-in: rank every trial and pick the best by mean CV score."""
    import json

    from kubeline.ml._files import write_text
    from kubeline.ml.experiment import TrialResult, leaderboard_markdown
    from kubeline.ml.experiment import select_best as pick

    parsed = [TrialResult.from_dict(json.loads(r)) for r in results]
    best = pick(parsed)
    write_text(leaderboard.path, leaderboard_markdown(parsed))
    return (json.dumps(best.to_dict()), best.family, best.cv_mean)


@_component
def train(
    train_data: Input[Dataset],
    feature_spec: Input[Artifact],
    target: str,
    best: str,
    seed: int,
    model: Output[Model],
):
    """Fit the best trial's configuration (features + preprocessing + estimator) on all of
    the training split; saved with joblib."""
    import json
    from pathlib import Path

    from kubeline.ml import datasets
    from kubeline.ml.experiment import TrialResult
    from kubeline.ml.features import FeatureSpec
    from kubeline.ml.train import save_model, train_model

    frame = datasets.read_parquet(train_data.path)
    spec = FeatureSpec.from_json(Path(feature_spec.path).read_text(encoding="utf-8"))
    result = TrialResult.from_dict(json.loads(best))
    fitted = train_model(frame, target, spec, result.trial, seed)
    save_model(fitted, model.path)
    features = frame.drop(columns=[target])
    model.metadata.update(
        {
            "framework": "sklearn",
            "format": "joblib",
            "family": result.family,
            "params": json.dumps(result.params),
            "cv_score": result.cv_mean,
            "target": target,
            "classes": [str(c) for c in fitted.classes_],
            "features": [str(c) for c in features.columns],
            "feature_types": [str(t) for t in features.dtypes],
            "derived_features": spec.derived_names,
            "train_rows": len(frame),
        }
    )


@_component
def evaluate(
    model: Input[Model],
    test_data: Input[Dataset],
    target: str,
    metrics: Output[Metrics],
    classification: Output[ClassificationMetrics],
    report: Output[HTML],
) -> NamedTuple("Evaluation", [("accuracy", float)]):  # type: ignore[valid-type]
    """Assess on the held-out split: Metrics, ClassificationMetrics (confusion matrix and
    ROC curve, drawn by the KFP UI) and an HTML report."""
    from kubeline.ml import datasets
    from kubeline.ml._files import write_text
    from kubeline.ml.assess import assess_model, assessment_html
    from kubeline.ml.train import load_model

    result = assess_model(load_model(model.path), datasets.read_parquet(test_data.path), target)
    for name, value in result.scalars().items():
        metrics.log_metric(name, value)
    metrics.metadata["test_rows"] = result.n_samples
    classification.log_confusion_matrix(result.labels, result.confusion_matrix)
    if result.roc_fpr:
        classification.log_roc_curve(result.roc_fpr, result.roc_tpr, result.roc_thresholds)
    context = {
        "family": model.metadata.get("family", ""),
        "parameters": model.metadata.get("params", ""),
        "cross-validated score": model.metadata.get("cv_score", ""),
        "model artifact": model.uri,
        "test data": test_data.uri,
    }
    write_text(report.path, assessment_html(result, context=context))
    return (result.accuracy,)


@_component
def register_model(
    model: Input[Model],
    metrics: Input[Metrics],
    data: Input[Dataset],
    test_data: Input[Dataset],
    model_name: str,
    threshold: float,
    run_name: str,
    registered: Output[Model],
    card: Output[Markdown],
) -> str:
    """Version the model: a content-addressed copy with its signature, metrics and
    lineage in the artifact metadata, and a model card."""
    import json
    import shutil

    from kubeline.digest import SHORT, file_digest
    from kubeline.ml._files import write_text
    from kubeline.ml.card import ModelCard, library_versions

    # The digest the registry gives this file, cut as its pages show it: card and page agree.
    version = file_digest(model.path)[:SHORT]
    shutil.copyfile(model.path, registered.path)
    scores = {
        k: float(v)
        for k, v in metrics.metadata.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "test_rows"
    }
    name = model_name or (
        str(data.metadata.get("source", "model")).rsplit("/", 1)[-1].split(".")[0].replace("_", "-")
        + "-classifier"
    )
    lineage = {
        "pipeline run": run_name,
        "dataset": str(data.uri),
        "test split": str(test_data.uri),
        "trained model": str(model.uri),
        "metrics": str(metrics.uri),
    }
    model_card = ModelCard(
        name=name,
        version=version,
        family=str(model.metadata.get("family", "")),
        params=json.loads(model.metadata.get("params", "{}")),
        metrics=scores,
        data_source=str(data.metadata.get("source", data.uri)),
        data_digest=str(data.metadata.get("digest", "")),
        target=str(model.metadata.get("target", "")),
        n_train=int(model.metadata.get("train_rows", 0)),
        n_test=int(metrics.metadata.get("test_rows", test_data.metadata.get("rows", 0))),
        features=list(model.metadata.get("features", [])),
        derived_features=list(model.metadata.get("derived_features", [])),
        cv_score=model.metadata.get("cv_score"),
        threshold=threshold,
        lineage=lineage,
    )
    write_text(card.path, model_card.to_markdown())
    registered.metadata.update(
        {
            **model.metadata,
            "name": name,
            # kubeline's registry records a Model output that says register_as (locally,
            # as version 1, 2, ...); on a cluster this metadata lands in KFP's store.
            "register_as": name,
            "content_id": version,
            "metrics": scores,
            "data_digest": model_card.data_digest,
            "lineage": lineage,
            "libraries": library_versions(),
            "card_uri": card.uri,
        }
    )
    return f"registered {name} (content {version})"


@_component
def reject_model(accuracy: float, threshold: float, notice: Output[Markdown]) -> str:
    """Record why the model was not registered."""
    from kubeline.ml._files import write_text

    reason = f"not registered: test accuracy {accuracy:.4f} is below the threshold {threshold:.4f}"
    write_text(
        notice.path,
        f"# Model rejected\n\nThe model was {reason}. Try more trials "
        "(trials_per_family), other model families, or more data.\n",
    )
    return reason
