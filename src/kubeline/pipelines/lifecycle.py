"""The ML lifecycle pipeline: ingest -> explore / validate -> split -> engineer features ->
a ParallelFor of trials -> pick the best -> train -> evaluate -> register or reject.

No ``from __future__ import annotations`` here: KFP reads the real annotation objects.
"""

from typing import Any, NamedTuple

from kfp import dsl
from kfp.dsl import Metrics

from kubeline.pipelines import components as c

__all__ = [
    "DEFAULT_FAMILIES",
    "TRIAL_PARALLELISM",
    "LifecycleOutputs",
    "check_arguments",
    "lifecycle_pipeline",
]

DEFAULT_FAMILIES = [
    "logistic_regression",
    "random_forest",
    "hist_gradient_boosting",
    "svm",
    "knn",
]


class LifecycleOutputs(NamedTuple):
    """What a lifecycle run returns."""

    accuracy: float
    model_family: str
    decision: str
    metrics: Metrics


#: How many trials run at once. KFP fixes a ParallelFor's parallelism when it compiles.
TRIAL_PARALLELISM = 4


@dsl.pipeline(
    name="kubeline-lifecycle",
    description="Complete ML life cycle on a tabular classification dataset: explore, "
    "validate, split, engineer features, tune a model zoo in parallel, train, assess, and "
    "register the model when it reaches the accuracy threshold.",
)
def lifecycle_pipeline(
    dataset: str = "breast_cancer",
    target: str = "target",
    test_size: float = 0.2,
    seed: int = 42,
    families: list = DEFAULT_FAMILIES,
    trials_per_family: int = 2,
    cv_folds: int = 5,
    threshold: float = 0.9,
    ratio_features: list = [],  # noqa: B006
    model_name: str = "",
) -> LifecycleOutputs:
    """Args:
    dataset: breast_cancer, iris, wine, digits, or a path / URI to a .csv or .parquet file.
    target: the label column (bundled datasets: ``target``).
    test_size: fraction of rows held out for the final assessment.
    seed: seeds the split, the trial sampler, cross-validation and the estimators.
    families: model families to try (see ``kubeline.ml.zoo.FAMILIES``).
    trials_per_family: trials per family; the first uses the family's defaults.
    cv_folds: folds of stratified cross-validation that score each trial.
    threshold: the test accuracy a model needs to be registered.
    ratio_features: ``[[numerator, denominator], ...]`` column pairs to divide.
    model_name: the registered name (default: ``<dataset>-classifier``).
    """
    ingested = c.ingest(dataset=dataset, target=target).set_display_name("ingest")
    ingested.set_retry(num_retries=2, backoff_duration="2s", backoff_factor=2.0)
    data = ingested.outputs["data"]

    c.explore(data=data, target=target).set_display_name("explore")
    checked = c.validate(data=data, target=target, test_size=test_size, cv_folds=cv_folds)
    checked.set_display_name("validate")

    parts = c.split(data=data, target=target, test_size=test_size, seed=seed).after(checked)
    parts.set_display_name("split")
    train_data = parts.outputs["train_data"]

    spec = c.engineer_features(
        train_data=train_data, target=target, ratio_features=ratio_features
    ).set_display_name("engineer-features")
    trials = c.plan_trials(
        families=families, trials_per_family=trials_per_family, seed=seed
    ).set_display_name("plan-trials")

    with dsl.ParallelFor(trials.output, parallelism=TRIAL_PARALLELISM) as trial:
        scored = c.run_trial(
            train_data=train_data,
            feature_spec=spec.outputs["feature_spec"],
            target=target,
            trial=trial,
            cv_folds=cv_folds,
            seed=seed,
        ).set_display_name("run-trial")
        # Trials already run side by side; letting each also start one OpenMP thread per
        # core oversubscribes the CPU (measured here: 34 s instead of 1 s per trial).
        scored.set_env_variable("OMP_NUM_THREADS", "1")

    best = c.select_best(results=dsl.Collected(scored.outputs["Output"]))
    best.set_display_name("select-best")

    model = c.train(
        train_data=train_data,
        feature_spec=spec.outputs["feature_spec"],
        target=target,
        best=best.outputs["best"],
        seed=seed,
    ).set_display_name("train")

    assessed = c.evaluate(
        model=model.outputs["model"], test_data=parts.outputs["test_data"], target=target
    ).set_display_name("evaluate")

    with dsl.If(assessed.outputs["accuracy"] >= threshold, name="accuracy-reaches-threshold"):
        registered = c.register_model(
            model=model.outputs["model"],
            metrics=assessed.outputs["metrics"],
            data=data,
            test_data=parts.outputs["test_data"],
            model_name=model_name,
            threshold=threshold,
            run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        ).set_display_name("register-model")
        registered.set_retry(num_retries=2, backoff_duration="2s", backoff_factor=2.0)
        # Registering is an action of this run (its lineage names the run): never cached.
        registered.set_caching_options(False)
    with dsl.Else(name="accuracy-below-threshold"):
        rejected = c.reject_model(
            accuracy=assessed.outputs["accuracy"], threshold=threshold
        ).set_display_name("reject-model")

    return LifecycleOutputs(
        accuracy=assessed.outputs["accuracy"],
        model_family=best.outputs["family"],
        decision=dsl.OneOf(registered.outputs["Output"], rejected.outputs["Output"]),
        metrics=assessed.outputs["metrics"],
    )


def check_arguments(arguments: dict[str, Any]) -> None:
    """Fail fast, before anything runs, on arguments the pipeline would reject later.

    Reads only the target column of a file dataset, so it is cheap even on large data.

    Raises:
        kubeline.errors.UserError: naming the parameter, the value and the fix.
    """
    from kubeline.errors import ConfigError
    from kubeline.ml.datasets import check_source
    from kubeline.ml.validate import rows_needed_per_class
    from kubeline.ml.zoo import sample_trials

    # The pipeline's own defaults, so this check never drifts from the pipeline.
    defaults = {k: v.default for k, v in lifecycle_pipeline.component_spec.inputs.items()}
    args = {**defaults, **arguments}
    rows_needed_per_class(args["cv_folds"], args["test_size"])
    if not 0.0 <= float(args["threshold"]) <= 1.0:
        raise ConfigError(
            f"threshold is a test accuracy between 0 and 1. Got {args['threshold']} instead."
        )
    sample_trials(list(args["families"]), int(args["trials_per_family"]), int(args["seed"]))
    for pair in args.get("ratio_features") or []:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ConfigError(
                "ratio_features is a list of [numerator, denominator] column pairs, "
                f'e.g. [["mean radius", "mean texture"]]. Got {pair!r} in it.'
            )
    check_source(str(args["dataset"]), str(args["target"]))
