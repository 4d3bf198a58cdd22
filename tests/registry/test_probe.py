"""Reading a model's signature runs its pickle in a child process: real files, real
children, no mocks. Each pickle here carries code that tells what process ran it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from kubeline.errors import DataError
from kubeline.registry import inspect_model


class Runs:
    """Unpickling it evaluates ``expression`` (the value it unpickles to)."""

    def __init__(self, expression: str) -> None:
        self.expression = expression

    def __reduce__(self) -> tuple:
        return (eval, (self.expression,))


def save(tmp_path: Path, expression: str) -> Path:
    path = tmp_path / "model.joblib"
    joblib.dump(Runs(expression), path)
    return path


def test_the_pickle_runs_in_a_child_without_the_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBELINE_TOKEN", "s3cret")
    monkeypatch.setenv("KUBELINE_DATABASE_URL", "postgresql://u:pw@db/k")
    monkeypatch.setenv("PROBE_SEES_THIS", "1")
    frame = load_iris(as_frame=True).frame
    real = tmp_path / "real.joblib"
    joblib.dump(
        LogisticRegression(max_iter=500).fit(frame.drop(columns="target"), frame.target), real
    )
    marker = tmp_path / "marker.json"
    # Prints (which must not spoil the answer), records who ran it, then is the real model:
    expression = (
        f"(print('noise from the model'), open({str(marker)!r}, 'w').write(__import__('json')"
        ".dumps({'pid': __import__('os').getpid(), 'env': sorted(__import__('os').environ)})),"
        f" __import__('joblib').load({str(real)!r}))[2]"
    )
    found = inspect_model(save(tmp_path, expression))
    assert found["features"][0] == "sepal length (cm)" and found["classes"] == [0, 1, 2]
    assert found["estimator"] == "LogisticRegression"
    ran = json.loads(marker.read_text())
    assert ran["pid"] != os.getpid()
    assert "KUBELINE_TOKEN" not in ran["env"] and "KUBELINE_DATABASE_URL" not in ran["env"]
    assert not [k for k in ran["env"] if k.startswith("KUBELINE_")]  # it needs none of them
    assert "PROBE_SEES_THIS" in ran["env"]  # the rest of the environment is passed on


def test_a_model_that_hangs_is_stopped(tmp_path: Path) -> None:
    path = save(tmp_path, "__import__('time').sleep(120)")
    with pytest.raises(DataError, match="took longer than 5 s"):
        inspect_model(path, timeout=5)


def test_a_model_that_kills_its_process_is_a_data_error(tmp_path: Path) -> None:
    path = save(tmp_path, "__import__('os')._exit(7)")
    with pytest.raises(DataError, match="exit code 7"):
        inspect_model(path)


def test_a_pickle_that_is_no_model_names_what_it_holds(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="holds a dict, which has no predict"):
        inspect_model(save(tmp_path, "{'a': 1}"))


def test_every_secret_the_engine_keeps_from_tasks_is_kept_from_the_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kubeline.engine.taskenv import SECRET_NAMES
    from kubeline.registry.probe import probe_environ

    for name in SECRET_NAMES:
        monkeypatch.setenv(name, "s3cret")
    assert not SECRET_NAMES & set(probe_environ())
