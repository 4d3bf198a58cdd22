"""Shared fixtures: every test gets its own KUBELINE_HOME and none of the caller's kubeline
settings, and the conformance corpus when it is there (tests that need it skip where it is
absent, and fail there in CI: see tests/requirements.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.requirements import REQUIRE_ALL_ENV, need, require_all

# The session's throwaway PostgreSQL server and a database per test (marker "postgres").
pytest_plugins = ["tests.postgres"]

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE = REPO.parent / "shared" / "conformance" / "kfp"
# Settings a developer's shell may carry that would point a test at their own database,
# server token or image, or cut its logs. (KUBELINE_START_METHOD stays: the test command's
# spawn pass sets it for a whole session.)
CALLER_SETTINGS = (
    "KUBELINE_DATABASE_URL",
    "KUBELINE_TOKEN",
    "KUBELINE_IMAGE",
    "KUBELINE_LOG_CAP_MB",
)


def pytest_report_header() -> str:
    mode = "a missing real part fails" if require_all() else "a missing real part skips"
    return f"{REQUIRE_ALL_ENV}={os.environ.get(REQUIRE_ALL_ENV, '')}: {mode}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that drives Chromium is a ``browser`` test (``-m "not browser"``)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def kubeline_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("kubeline-home")
    monkeypatch.setenv("KUBELINE_HOME", str(home))
    for name in CALLER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def conformance() -> Path:
    if not CONFORMANCE.is_dir():
        need(
            "the conformance corpus",
            f"not found at {CONFORMANCE}",
            "check out the shared folder beside the repository (../shared/conformance/kfp)",
        )
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
