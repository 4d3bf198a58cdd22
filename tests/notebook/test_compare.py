"""kubeline.compare: the compare page's comparison in a notebook, and a DataFrame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import kubeline
from kubeline.notebook.comparing import Comparison
from kubeline.store import database_url, open_store
from tests.notebook import pipelines as p


def test_compare_two_runs_by_result_and_by_id(kubeline_home: Path) -> None:
    first = kubeline.run(p.all_kinds, {"n": 1}, progress=False)
    second = kubeline.run(p.all_kinds, {"n": 5}, progress=False)
    frame = kubeline.compare(first, second.run_id)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == [first.run_id, second.run_id]
    assert list(frame["n"]) == [1, 5] and list(frame["accuracy"]) == [0.875, 0.875]
    with open_store(database_url(kubeline_home)) as store:
        found = Comparison([first.run, second.run], store)
    html = str(found.html())
    assert "Comparing 2 runs" in html and "n ≠" in html
    assert "chart-roc-overlay" in html and 'class="confusion"' in html
    assert "<script" not in html


def test_compare_needs_two_runs() -> None:
    with pytest.raises(ValueError, match="two runs or more"):
        kubeline.compare("only-one")
    with pytest.raises(KeyError, match="no run with an id starting 'nope'"):
        kubeline.compare("nope", "nada")
