"""The forked executor's warm parent: what it imports, and when."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubeline.engine.executors.admission import AdmissionController, RunAdmission
from kubeline.engine.executors.forked import ForkedExecutor
from tests.engine.executors.test_contract import FLAVORS, Harness
from tests.requirements import exempt_reason

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork"), reason=exempt_reason("Windows", "no os.fork")
)


def test_a_jobs_own_imports_are_made_in_the_parent_before_its_fork(tmp_path: Path) -> None:
    (forked,) = [f for f in FLAVORS if f.name == "forked"]
    harness = Harness(forked, tmp_path)
    try:
        # Not preloaded: the job names it (its source imports it), so the warm parent
        # imports it just before forking, and the child finds it there.
        task = harness.task("warm_import")
        assert "xml.dom.pulldom" in task.job.imports
        assert harness.run(task).exit_code == 0
        assert task.outputs()["Output"] is True
    finally:
        harness.executor.close()


def test_the_parent_is_ready_before_its_whole_preload_is_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A preload module that never finishes importing would hold every task back if the
    # parent imported the whole preload before saying it is ready.
    (tmp_path / "kubeline_never_ready_probe.py").write_text(
        "import time\ntime.sleep(600)\n", encoding="utf-8"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    executor = ForkedExecutor(
        RunAdmission(AdmissionController()), preload=["kubeline_never_ready_probe"]
    )
    try:
        assert executor.server()._ready.wait(timeout=60)
    finally:
        executor.close()  # it ran no job: stopped at once
