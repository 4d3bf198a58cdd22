"""Pipelines for the web UI's tests, written with the real KFP SDK.

No ``from __future__ import annotations``: KFP reads the real annotation objects.
"""

from kfp import dsl
from kfp.dsl import Metrics, Output


@dsl.component(base_image="python:3.11")
def score(
    rows: int, factor: float, labels: list, options: dict, verbose: bool, metrics: Output[Metrics]
) -> float:
    """Prints a known line, logs a metric and returns it."""
    value = rows * factor + len(labels) + len(options) + (1 if verbose else 0)
    print(f"kubeline-ui-test: scoring {rows} rows")
    metrics.log_metric("score", value)
    return value


@dsl.pipeline(name="ui-typed")
def typed(
    rows: int = 10,
    factor: float = 0.5,
    labels: list = ["a", "b"],  # noqa: B006 - KFP defaults are literals
    options: dict = {"k": 1},  # noqa: B006
    verbose: bool = False,
    note: str = "",
) -> float:
    return score(rows=rows, factor=factor, labels=labels, options=options, verbose=verbose).outputs[
        "Output"
    ]


@dsl.pipeline(name="ui-required")
def required(rows: int) -> float:
    return score(rows=rows, factor=1.0, labels=[], options={}, verbose=True).outputs["Output"]
