"""The container runtime and image the container tests use: Docker, and kubeline's own
image (``kubeline:<version>``, which has Python, kfp and a shell), built by
``python3 tasks.py image``. Missing, the tests skip here and fail in CI (tests/requirements.py);
``python3 tasks.py test`` starts dockerd and builds the image first."""

from __future__ import annotations

import functools
import shutil
import subprocess

from kubeline import __version__
from tests.requirements import need

HOW = (
    "as root on Linux: python3 tasks.py docker start, then python3 tasks.py image "
    "(python3 tasks.py test does both)"
)
IMAGE = f"kubeline:{__version__}"


@functools.cache
def _docker_answers() -> str:
    """Why Docker cannot be used here ("" when it can)."""
    cli = shutil.which("docker")
    if cli is None:
        return "no docker command on PATH"
    try:
        done = subprocess.run(
            [cli, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"docker version failed: {exc}"
    return "" if done.returncode == 0 else f"no Docker daemon answers ({done.stderr.strip()})"


def docker_image() -> str:
    """kubeline's image, present in a Docker that answers; else skip (fail in CI)."""
    why = _docker_answers()
    if why:
        need("Docker", why, HOW)
    found = subprocess.run(
        ["docker", "image", "inspect", IMAGE], capture_output=True, timeout=30, check=False
    )
    if found.returncode != 0:
        need(f"the image {IMAGE}", "it is not built", HOW)
    return IMAGE
