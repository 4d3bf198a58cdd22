"""How a lightweight Python task starts: forked from the run's warm parent, or in a fresh
interpreter of its own (``spawn``).

Spawn is the only way where ``os.fork`` does not exist (Windows); ``KUBELINE_START_METHOD=spawn``
chooses it on Linux and macOS too, so the path Windows users take runs in this project's
tests. Read at the edges (:func:`kubeline.engine.run_pipeline`, the CLI's early start, a
:func:`~kubeline.engine.executors.local_executor` made without one), never per task.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from kubeline.errors import ConfigError

__all__ = ["START_METHOD_ENV", "StartMethod", "start_method"]

START_METHOD_ENV = "KUBELINE_START_METHOD"

StartMethod = Literal["fork", "spawn"]


def start_method(environ: Mapping[str, str] | None = None) -> StartMethod:
    """``spawn`` where there is no fork or when ``$KUBELINE_START_METHOD`` says so, else
    ``fork`` (the default: a warm parent saves each task its interpreter's start-up).

    Raises:
        ConfigError: the variable holds something other than ``fork`` or ``spawn``.
    """
    value = (os.environ if environ is None else environ).get(START_METHOD_ENV, "")
    value = value.strip().lower()
    if value not in ("", "fork", "spawn"):
        raise ConfigError(f"{START_METHOD_ENV} is '{value}': it can be 'fork' or 'spawn'")
    if value == "spawn" or not hasattr(os, "fork"):
        return "spawn"
    return "fork"
