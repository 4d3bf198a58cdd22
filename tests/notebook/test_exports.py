"""The notebook's and the comparison's public names: each ``__all__`` lists only what the
module defines or re-exports, and the lazily loaded names of ``kubeline.notebook`` load."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import kubeline
import kubeline.comparison
import kubeline.notebook

SUBMODULES = sorted(
    f"{package.__name__}.{info.name}"
    for package in (kubeline.notebook, kubeline.comparison)
    for info in pkgutil.iter_modules(package.__path__)
)
MODULES = ["kubeline", "kubeline.notebook", "kubeline.comparison", *SUBMODULES]


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []
    assert len(set(module.__all__)) == len(module.__all__)


def test_the_notebook_api_is_public() -> None:
    assert {"run", "compare"} <= set(kubeline.__all__)
    assert {"Artifact", "Result", "Task", "LiveProgress", "get_run"} <= set(
        kubeline.notebook.__all__
    )
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        kubeline.notebook.nothing  # noqa: B018 - the lazy lookup's error
