"""The container image the lifecycle components run in, and how to point a compiled
pipeline at another one."""

from __future__ import annotations

import os
from typing import Any

from kubeline import __version__

__all__ = ["DEFAULT_IMAGE", "EXECUTOR_MODULE", "set_python_image"]

#: Components run in an image with kubeline installed, so they need no pip install at run
#: time. Build it from the repository's Dockerfile, or pass ``kubeline compile --image``.
#: ``KUBELINE_IMAGE`` overrides it when the components are imported.
DEFAULT_IMAGE = os.environ.get("KUBELINE_IMAGE", f"ghcr.io/kubeline/kubeline:{__version__}")

#: The module every lightweight Python component's command runs.
EXECUTOR_MODULE = "kfp.dsl.executor_main"


def set_python_image(spec: dict[str, Any], image: str) -> list[str]:
    """Point every lightweight Python component of a compiled pipeline at ``image``.

    Container components keep their own images: their command belongs to that image.
    Returns the names of the executors changed.
    """
    changed = []
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    for name, executor in executors.items():
        container = executor.get("container")
        if not container:
            continue
        words = [*container.get("command", []), *container.get("args", [])]
        if any(EXECUTOR_MODULE in str(w) for w in words):
            container["image"] = image
            changed.append(name)
    return changed
