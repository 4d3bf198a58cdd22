"""Artifacts as Python objects: each kind's data one call away, the path still there."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from kubeline.notebook import Artifact, Result


def test_each_kind_loads_as_its_python_object(result: Result) -> None:
    frame = result.outputs["Output"].load()
    assert isinstance(frame, pd.DataFrame) and frame.shape == (2, 2)
    outputs = result.task("make-all").outputs
    assert outputs["Output"] == 3  # a parameter stays a value
    assert outputs["scores"].load()["accuracy"] == 0.875
    assert outputs["notes"].load().startswith("# Notes")
    assert "<h1>Report</h1>" in outputs["report"].load()
    assert outputs["classification"].load()["confusionMatrix"]["rows"][0]["row"] == [7, 1]
    assert outputs["model"].load() == {"weights": [1, 2, 3]}  # the user's explicit call


def test_paths_and_uris_stay(result: Result) -> None:
    data = result.task("make-all").outputs["data"]
    assert isinstance(data, Artifact) and data.path is not None and data.path.is_file()
    assert os.fspath(data) == str(data.path) == data.uri
    assert pd.read_csv(data).shape == (2, 2)  # os.fspath: pandas reads it directly


def test_a_task_is_found_by_path_name_or_display_name(result: Result) -> None:
    assert result.task("make-all").path == "make-all"
    assert result.task("<script>alert(1)</script>").path == "make-all"
    with pytest.raises(KeyError, match=r"has no task 'nope'\. Its tasks: make-all"):
        result.task("nope")
    assert isinstance(result.task("make-all").log(), str)


def test_gone_content_says_so(result: Result) -> None:
    notes = result.task("make-all").outputs["notes"]
    assert notes.path is not None
    notes.path.unlink()
    with pytest.raises(FileNotFoundError, match="is gone"):
        notes.load()
