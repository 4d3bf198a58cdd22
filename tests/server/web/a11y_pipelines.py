"""A pipeline whose task fails, for the pages of a failed run (no ``from __future__ import
annotations``: KFP reads the real annotation objects)."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def explode(rows: int) -> int:
    print(f"about to fail on {rows} rows")
    raise ValueError(f"{rows} rows is not enough for this model")


@dsl.pipeline(name="a11y-failing")
def failing(rows: int = 3) -> int:
    return explode(rows=rows).output
