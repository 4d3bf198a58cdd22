"""The CI switch works: a test whose real part is missing skips in daily work and FAILS with
``KUBELINE_TEST_REQUIRE_ALL=1``; an exempt part skips either way; a hang hits the timeout.

Each case runs pytest in a subprocess on a tiny test file, so the switch is read as a fresh
run reads it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.requirements import REQUIRE_ALL_ENV

REPO = Path(__file__).resolve().parent.parent

TINY = textwrap.dedent(
    """
    import time
    from pathlib import Path

    from tests.requirements import exempt, need


    def test_needs_a_missing_part():
        if not Path("/nonexistent/kubeline-test-part").exists():
            need("the test part", "no /nonexistent/kubeline-test-part", "make it")


    def test_needs_an_exempt_part():
        exempt("Podman", "no Podman on these machines")


    def test_hangs():
        time.sleep(60)
    """
)


def _pytest(
    tmp_path: Path,
    *args: str,
    require_all: str | None,
    source: str = TINY,
    settings: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    test_file = tmp_path / "test_tiny.py"
    test_file.write_text(source, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_ALL_ENV}
    env.update(settings or {})
    if require_all is not None:
        env[REQUIRE_ALL_ENV] = require_all
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # seconds of other plugins' imports: only ours
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", str(test_file), "-p", "no:cacheprovider",
            "--rootdir", str(tmp_path), "-c", os.devnull, "-p", "pytest_timeout", "-rsf",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("switch", [None, "", "0"])
def test_without_the_switch_a_missing_part_skips(tmp_path: Path, switch: str | None) -> None:
    proc = _pytest(tmp_path, "-k", "needs", require_all=switch)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 skipped" in proc.stdout
    assert "the test part is missing: no /nonexistent/kubeline-test-part" in proc.stdout


def test_with_the_switch_a_missing_part_fails(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, "-k", "needs", require_all="1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 skipped" in proc.stdout
    assert "FAILED" in proc.stdout and "test_needs_a_missing_part" in proc.stdout
    assert f"{REQUIRE_ALL_ENV}=1: a missing part fails the test" in proc.stdout
    # The exempt part still skips, and says why.
    assert "exempt from KUBELINE_TEST_REQUIRE_ALL" in proc.stdout


def test_a_hanging_test_fails_at_its_timeout(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, "-k", "hangs", "--timeout", "2", require_all="1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed" in proc.stdout and "Timeout" in proc.stdout


def test_the_callers_kubeline_settings_never_reach_a_test(tmp_path: Path) -> None:
    """The suite's autouse fixture (tests/conftest.py) clears what a developer's shell may
    set, so no test runs against their own database, token or image."""
    source = textwrap.dedent(
        """
        import os

        def test_settings_are_cleared():
            for name in ("KUBELINE_DATABASE_URL", "KUBELINE_TOKEN", "KUBELINE_IMAGE"):
                assert name not in os.environ, name
            assert os.environ["KUBELINE_HOME"] != "/caller/home"
        """
    )
    settings = {
        "KUBELINE_DATABASE_URL": "postgresql+psycopg://someone@db.example/theirs",
        "KUBELINE_TOKEN": "their-token",
        "KUBELINE_IMAGE": "their/image:1",
        "KUBELINE_HOME": "/caller/home",
    }
    proc = _pytest(
        tmp_path, "-p", "tests.conftest", require_all=None, source=source, settings=settings
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
