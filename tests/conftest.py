"""Shared fixtures: every test gets its own KUBELINE_HOME, and the conformance corpus when
it is there (tests that need it skip where it is absent)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE = REPO.parent / "shared" / "conformance" / "kfp"


@pytest.fixture(autouse=True)
def kubeline_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("kubeline-home")
    monkeypatch.setenv("KUBELINE_HOME", str(home))
    return home


@pytest.fixture
def conformance() -> Path:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance corpus not found at {CONFORMANCE}")
    return CONFORMANCE


def run_cli(*args: str, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m kubeline`` in a real subprocess: real exit codes, real streams."""
    env = {**os.environ, "KUBELINE_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "kubeline", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )
