"""What a test does when a real part it needs is missing here: skip it, or fail it.

Daily work skips: a developer without Chromium still gets the rest of the suite. CI sets
``KUBELINE_TEST_REQUIRE_ALL=1`` (``.ci/run`` does): there a missing part FAILS the test,
so a suite cannot turn green by skipping what it was meant to check (the conformance
corpus gone, Chromium uninstalled, PostgreSQL not started).

Parts these machines cannot have (Podman, macOS, Windows) go through :func:`exempt`: they
skip in CI too, and their reason says they are exempt.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ALL_ENV = "KUBELINE_TEST_REQUIRE_ALL"


def require_all() -> bool:
    """Whether this run must have every real part (CI)."""
    return os.environ.get(REQUIRE_ALL_ENV, "") not in ("", "0", "false", "no")


def need(part: str, why: str, how: str, *, module: bool = False) -> NoReturn:
    """The test cannot run: ``part`` (what is missing: "Chromium") is not here because
    ``why`` ("no Chromium at /usr/bin/chromium"); ``how`` says how to get it.

    Skips, or fails under ``KUBELINE_TEST_REQUIRE_ALL=1``. ``module=True`` from a module's
    top level (where a failure is a collection error: the run fails all the same).
    """
    message = f"{part} is missing: {why}; to get it: {how}"
    if require_all():
        pytest.fail(f"{message} ({REQUIRE_ALL_ENV}=1: a missing part fails the test)")
    pytest.skip(message, allow_module_level=module)


def exempt_reason(part: str, why: str) -> str:
    """The reason of a skip that CI allows, for ``pytest.mark.skipif(..., reason=...)``."""
    return f"{part}: {why} (exempt from {REQUIRE_ALL_ENV}: these machines cannot have it)"


def exempt(part: str, why: str, *, module: bool = False) -> NoReturn:
    """Skip, even in CI: ``part`` is something these machines cannot have (Podman, macOS,
    Windows, a platform's own behaviour)."""
    pytest.skip(exempt_reason(part, why), allow_module_level=module)
