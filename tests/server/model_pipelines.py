"""Pipelines that hand the model registry hostile inputs, written with the real KFP SDK.

No ``from __future__ import annotations``: KFP reads the real annotation objects.
"""

from kfp import dsl
from kfp.dsl import Model, Output

IMAGE = "python:3.11"


@dsl.pipeline(name="import-model")
def import_model(uri: str, card: str = ""):
    """An importer brings in any file as a Model, with the card path it is given."""
    dsl.importer(artifact_uri=uri, artifact_class=Model, metadata={"card_uri": card})


@dsl.component(base_image=IMAGE, packages_to_install=["scikit-learn"])
def fit_with_card(model: Output[Model], card: str, how: str, register_as: str):
    """Fits a small classifier whose ``card_uri`` names ``card``: as it is (``plain``),
    through a symlink in the task's own folder (``link``), or as a path that starts in
    the task's folder and climbs out of it with ``..`` (``dotdot``); with ``own``, ``card``
    is the text of a card the task writes beside the model."""
    import os

    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame = load_iris(as_frame=True).frame
    fitted = LogisticRegression(max_iter=500).fit(frame.drop(columns="target"), frame["target"])
    joblib.dump(fitted, model.path)
    folder = os.path.dirname(model.path)
    if how == "link":
        uri = os.path.join(folder, "card.md")
        os.symlink(card, uri)
    elif how == "dotdot":
        uri = os.path.join(folder, os.path.relpath(card, folder))
    elif how == "own":
        uri = os.path.join(folder, "card.md")
        with open(uri, "w", encoding="utf-8") as f:
            f.write(card)
    else:
        uri = card
    model.metadata["card_uri"] = uri
    if register_as:
        model.metadata["register_as"] = register_as


@dsl.pipeline(name="fit-with-card")
def fit_with_card_pipeline(card: str, how: str = "plain", register_as: str = ""):
    fit_with_card(card=card, how=how, register_as=register_as)


@dsl.component(base_image=IMAGE)
def write_trap(model: Output[Model], marker: str):
    """Writes a pickle that, once loaded, writes ``marker`` (with the loader's pid), and
    asks for it to be registered."""
    import pickle

    code = (
        f"import json, os; open({marker!r}, 'w').write(json.dumps("
        "{'pid': os.getpid(), 'token': os.environ.get('KUBELINE_TOKEN')}))"
    )

    class Trap:
        def __reduce__(self):
            return (exec, (code,))

    with open(model.path, "wb") as f:
        pickle.dump(Trap(), f)
    model.metadata["register_as"] = "trap"
    model.metadata["framework"] = "sklearn"


@dsl.pipeline(name="trap-model")
def trap_model(marker: str):
    write_trap(marker=marker)
