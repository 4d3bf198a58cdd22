"""Runs compiled KFP v2 pipelines on this machine.

:func:`run_pipeline` is the one entry point the CLI (and later the server) uses: it checks
the arguments against the pipeline's input definitions, then runs the pipeline. The engine
runs any pipeline, so it never imports :mod:`kubeline.ml` or :mod:`kubeline.pipelines`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubeline.engine.arguments import parse_assignments, resolve_arguments
from kubeline.engine.results import FINAL_STATES, RunResult, TaskEvent, TaskRecord

__all__ = [
    "FINAL_STATES",
    "RunResult",
    "TaskEvent",
    "TaskRecord",
    "kubeline_home",
    "parse_assignments",
    "resolve_arguments",
    "run_pipeline",
]


def kubeline_home() -> Path:
    """Where runs, logs and artifacts are kept: ``$KUBELINE_HOME`` or ``~/.kubeline``."""
    return Path(os.environ.get("KUBELINE_HOME") or Path.home() / ".kubeline").expanduser()


def run_pipeline(
    spec: dict[str, Any],
    arguments: dict[str, Any] | None = None,
    *,
    home: Path | None = None,
    enable_caching: bool = True,
    on_event: Callable[[TaskEvent], None] | None = None,
) -> RunResult:
    """Run a compiled PipelineSpec (a dict) with ``arguments`` and return its result.

    Raises:
        kubeline.errors.ConfigError: the arguments do not match the pipeline's inputs
            (raised before anything runs).
    """
    from kubeline.engine.kfp_local import run_spec

    resolved = resolve_arguments(spec, arguments or {})
    return run_spec(
        spec,
        resolved,
        home=home or kubeline_home(),
        enable_caching=enable_caching,
        on_event=on_event,
    )
