"""The environment a task starts with: this process's, less kubeline's own secrets.

A pipeline is someone else's code: the token that protects the server, the cookie
``kubeline submit`` sends and the store's database URL (which may hold a password) must
never reach it, whether the server got it from its
environment or a task asks for it by name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["SECRET_NAMES", "task_environ", "without_secrets"]

SECRET_NAMES = frozenset(
    {"KUBELINE_TOKEN", "KUBELINE_SERVE_TOKEN", "KUBELINE_COOKIE", "KUBELINE_DATABASE_URL"}
)


def task_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` plus ``extra``, without :data:`SECRET_NAMES`."""
    env = without_secrets(os.environ)
    if extra:
        env.update(without_secrets(extra))
    return env


def without_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` less :data:`SECRET_NAMES` (a task's own variables, set on top of a process
    that already has none)."""
    return {k: v for k, v in env.items() if k not in SECRET_NAMES}
