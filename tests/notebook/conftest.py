"""One run of a pipeline with every artifact kind, shared by the view tests of a module."""

from __future__ import annotations

from pathlib import Path

import pytest

import kubeline
from kubeline.notebook import Result
from tests.notebook import pipelines as p


@pytest.fixture
def result(kubeline_home: Path) -> Result:
    found = kubeline.run(p.all_kinds, {"n": 2}, progress=False)
    assert found.state == "SUCCEEDED", found.error
    return found
