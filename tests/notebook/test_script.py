"""Outside a notebook nothing changes: ``kubeline.run`` in a script shows no display and
never imports IPython."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import kubeline
from tests.notebook import pipelines as p

result = kubeline.run(p.slow_steps, {"seconds": 0.05})
print("IPython" in sys.modules, result.state, repr(result).count("\\n"))
"""


def test_a_script_runs_as_before(kubeline_home: Path) -> None:
    env = {**os.environ, "KUBELINE_HOME": str(kubeline_home), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SCRIPT],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "False SUCCEEDED 0\n"  # no progress printed, IPython never loaded
