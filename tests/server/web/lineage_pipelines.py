"""A small pipeline with a lineage to walk: make-data writes a Dataset, train reads it and
writes a Model, evaluate reads both and logs Metrics. Written with the real KFP SDK.

No ``from __future__ import annotations``: KFP reads the real annotation objects.
"""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

IMAGE = "python:3.11"


@dsl.component(base_image=IMAGE)
def make_data(rows: int, table: Output[Dataset]):
    """A CSV of ``rows`` rows, so the Dataset preview has something to show."""
    with open(table.path, "w") as f:
        f.write("x,y\n")
        for i in range(rows):
            f.write(f"{i},{i % 2}\n")
    table.metadata["rows"] = rows


@dsl.component(base_image=IMAGE)
def train(table: Input[Dataset], model: Output[Model]):
    """A 'model' that is the share of ones in the table."""
    with open(table.path) as f:
        labels = [int(line.split(",")[1]) for line in f.read().splitlines()[1:]]
    with open(model.path, "w") as f:
        f.write(str(sum(labels) / max(1, len(labels))))
    model.metadata["framework"] = "share-of-ones"


@dsl.component(base_image=IMAGE)
def evaluate(table: Input[Dataset], model: Input[Model], metrics: Output[Metrics]):
    with open(model.path) as f:
        share = float(f.read())
    with open(table.path) as f:
        rows = len(f.read().splitlines()) - 1
    metrics.log_metric("share", share)
    metrics.log_metric("rows", rows)


@dsl.pipeline(name="lineage-chain", description="Dataset -> train -> Model -> evaluate.")
def chain(rows: int = 6):
    data = make_data(rows=rows)
    model = train(table=data.outputs["table"])
    evaluate(table=data.outputs["table"], model=model.outputs["model"])
