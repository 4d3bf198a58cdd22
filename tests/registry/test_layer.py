"""The registry is a light layer: importing it loads no web framework, metrics client,
numpy, engine or server, so the CLI and a task's process can use it cheaply."""

from __future__ import annotations

import json
import subprocess
import sys

import kubeline.registry

HEAVY = ["fastapi", "starlette", "prometheus_client", "numpy", "sklearn", "joblib"]
ABOVE = ["kubeline.engine", "kubeline.server", "kubeline.serving", "kubeline.cli"]


def test_importing_the_registry_loads_nothing_heavy_and_no_layer_above() -> None:
    code = (
        "import json, sys\n"
        "import kubeline.registry\n"
        f"print(json.dumps([m for m in {HEAVY + ABOVE!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []


def test_the_public_names_are_all_there() -> None:
    assert sorted(kubeline.registry.__all__) == sorted(set(kubeline.registry.__all__))
    for name in kubeline.registry.__all__:
        assert getattr(kubeline.registry, name) is not None, name
