"""The container image the lifecycle components run in, and how to point a compiled
pipeline at another one.

``KUBELINE_IMAGE`` replaces kubeline's image. It is read by :func:`image_setting` where a
command or a compile entry point starts, and the value is passed down from there: nothing
reads it at import time, so importing the components never depends on the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kubeline.version import __version__

__all__ = [
    "DEFAULT_IMAGE",
    "EXECUTOR_MODULE",
    "IMAGE_VARIABLE",
    "image_setting",
    "set_default_image",
    "set_python_image",
]

#: Components run in an image with kubeline installed, so they need no pip install at run
#: time. Build it from the repository's Dockerfile, or pass ``kubeline compile --image``;
#: ``KUBELINE_IMAGE`` replaces it (see :func:`image_setting`).
DEFAULT_IMAGE = f"ghcr.io/kubeline/kubeline:{__version__}"

#: The environment variable that names another image for kubeline's own components.
IMAGE_VARIABLE = "KUBELINE_IMAGE"

#: The module every lightweight Python component's command runs.
EXECUTOR_MODULE = "kfp.dsl.executor_main"


def image_setting(environ: Mapping[str, str] | None = None) -> str:
    """kubeline's image as this process is configured: ``$KUBELINE_IMAGE`` when set, else
    :data:`DEFAULT_IMAGE`. Call it once at the edge (a CLI command, a compile entry point)
    and pass the value down.

    Args:
        environ: The environment to read; the process's when ``None``.
    """
    return (os.environ if environ is None else environ).get(IMAGE_VARIABLE) or DEFAULT_IMAGE


def set_default_image(spec: dict[str, Any], image: str) -> list[str]:
    """Point every executor that runs in :data:`DEFAULT_IMAGE` (kubeline's own components)
    at ``image``, as ``KUBELINE_IMAGE`` asks; other images, a user's components' included,
    stay. Returns the names of the executors changed (none when ``image`` is the default).
    """
    if image == DEFAULT_IMAGE:
        return []
    changed = []
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    for name, executor in executors.items():
        container = executor.get("container")
        if container and container.get("image") == DEFAULT_IMAGE:
            container["image"] = image
            changed.append(name)
    return changed


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
