"""Cached virtual environments, one per requirement set, for tasks whose packages this
environment lacks (only when the user allowed installs)."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from kubeline.engine.requirements import requirement_set_key
from kubeline.errors import KubelineError

__all__ = ["VenvCache"]


class VenvCache:
    """``home/venvs/<key>/``: made once, with this environment's packages visible
    (``--system-site-packages``) so only the missing ones are installed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def python_for(self, requirements: list[str]) -> str:
        folder = self.root / requirement_set_key(requirements)
        python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        ready = folder / ".ready"
        if ready.exists():
            return str(python)
        venv.EnvBuilder(system_site_packages=True, with_pip=True, clear=True).create(folder)
        done = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *requirements,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise KubelineError(f"Installing {', '.join(requirements)} failed: {' '.join(tail)}")
        ready.write_text(sys.version)
        return str(python)
