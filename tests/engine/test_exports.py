"""The engine's public names: each module's ``__all__`` lists only what it defines or
re-exports, so a rename cannot leave a stale name behind."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "kubeline.engine",
    "kubeline.engine.arguments",
    "kubeline.engine.inputs",
    "kubeline.engine.options",
    "kubeline.engine.plan",
    "kubeline.engine.recorder",
    "kubeline.engine.results",
    "kubeline.engine.runner",
    "kubeline.engine.scheduler",
    "kubeline.engine.spec",
]


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []
    assert len(set(module.__all__)) == len(module.__all__)


def test_the_options_object_is_public() -> None:
    import kubeline.engine as engine

    assert {"RunOptions", "CheckedArguments", "run_pipeline"} <= set(engine.__all__)
