"""KFP's own expected results for its compiled pipelines (../shared/conformance/kfp),
run on kubeline's engine with the real KFP executor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kubeline.engine import run_pipeline
from kubeline.engine.spec import load_spec
from tests.conftest import CONFORMANCE
from tests.requirements import need

# Without the corpus, one placeholder case: its `conformance` fixture then skips it, or fails
# it in CI (an empty parameter set would be a silent skip of its own).
CASES: list[dict[str, Any]] = (
    json.loads((CONFORMANCE / "cases.json").read_text())["cases"]
    if (CONFORMANCE / "cases.json").is_file()
    else [{"name": "the-corpus-is-missing"}]
)


def _program(case: dict[str, Any]) -> str | None:
    """The first host program a container case needs that is missing here, if any."""
    spec = load_spec(CONFORMANCE / "pipelines" / case["file"])
    for executor in spec["deploymentSpec"]["executors"].values():
        command = executor.get("container", {}).get("command", [])
        if command and shutil.which(command[0]) is None:
            return command[0]
    return None


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_corpus_case(case: dict[str, Any], tmp_path: Path, conformance: Path) -> None:
    if case["kind"] == "container" and (missing := _program(case)):
        need(f"'{missing}'", "not on PATH", f"install the package that provides '{missing}'")
    args = json.loads(json.dumps(case["args"]).replace("{tmp}", str(tmp_path)))
    result = run_pipeline(load_spec(conformance / "pipelines" / case["file"]), args)
    assert result.state == case["state"], result.error
    if "output" in case:
        assert result.outputs.get("Output") == case["output"]
    if "output_one_of" in case:
        assert result.outputs.get("Output") in case["output_one_of"]
    if case["name"] == "fail-with-exit-handler":
        states = {t.name: t.state for t in result.tasks}
        assert states["print-op"] == "SUCCEEDED"  # the exit handler still ran
