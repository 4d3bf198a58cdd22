"""kubeline: Kubeflow Pipelines made easy.

A complete ML lifecycle pipeline written with the KFP v2 SDK, a local engine that runs any
compiled KFP pipeline, and the commands to move the same YAML to a cluster.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from kubeline.version import __version__

__all__ = ["__version__", "compare", "get_model", "register_model", "run"]


def run(
    pipeline: Any,
    arguments: dict[str, Any] | None = None,
    *,
    progress: bool | None = None,
    **options: Any,
) -> Any:
    """Run a pipeline on this machine and return its :class:`~kubeline.notebook.Result`, a
    :class:`~kubeline.engine.RunResult` (``run_id``, ``state``, ``outputs``, ``tasks``)
    whose artifacts are Python objects: ``result.outputs["model"].load()``,
    ``result.task("evaluate").outputs["metrics"].load()``.

    Args:
        pipeline: a ``@dsl.pipeline`` function, a path to a compiled ``.yaml`` / ``.json``
            pipeline, or a PipelineSpec dict.
        arguments: pipeline parameters by name.
        progress: show the run's progress in one display that updates in place (default:
            only when running in a Jupyter kernel; a terminal or script shows nothing).
        **options: as :func:`kubeline.engine.run_pipeline` (``enable_caching``,
            ``workers``, ``on_event``, ``allow_installs``, ``home``, ``display_name``,
            ``log_cap_mb``, ``runner="docker"`` to run each task in its image, ``pull``,
            or all of them as one ``options=RunOptions(...)``).

    >>> result = kubeline.run(my_pipeline, {"epochs": 3})  # doctest: +SKIP
    >>> result.state, result.outputs  # doctest: +SKIP
    """
    from kubeline.engine import run_pipeline
    from kubeline.notebook import LiveProgress, Result, in_kernel, register

    spec = _spec_of(pipeline)
    live = None
    if progress if progress is not None else in_kernel():
        register()
        live = LiveProgress(str(spec.get("pipelineInfo", {}).get("name", "pipeline")))
        options = _watched(options, live.start())
    try:
        result = run_pipeline(spec, arguments, **options)
    except BaseException as exc:
        if live is not None:
            live.finish(error=f"{type(exc).__name__}: {exc}")
        raise
    if live is not None:
        live.finish(result)
    return Result.of(result)


def compare(*runs: Any, home: str | os.PathLike[str] | None = None) -> Any:
    """Compare runs as the web UI's compare page does: parameters side by side with the
    differences marked, metrics with the best run marked, and every run's ROC curve in one
    chart. In a notebook the comparison is shown; the return value is a pandas DataFrame of
    parameters and metrics, one row per run, for your own analysis.

    Args:
        *runs: two to ten runs: results of :func:`run`, or run ids (or unique starts).
        home: the kubeline home the run ids are looked up in (default ``$KUBELINE_HOME``).

    >>> kubeline.compare(first, second)  # doctest: +SKIP
    """
    from pathlib import Path

    from kubeline.notebook.comparing import compare_runs

    return compare_runs(list(runs), home=Path(home) if home else None)


def _watched(options: dict[str, Any], live: Any) -> dict[str, Any]:
    """``options`` with ``live`` told of every event too (after the caller's own watcher)."""
    from dataclasses import replace

    given = options.get("options")
    mine = given.on_event if given is not None else options.get("on_event")

    def both(event: Any) -> None:
        # The display failing must not stop the engine calling the caller's own watcher.
        with contextlib.suppress(Exception):
            live(event)
        if mine is not None:
            mine(event)

    if given is not None:
        return {**options, "options": replace(given, on_event=both)}
    return {**options, "on_event": both}


def register_model(artifact: str | os.PathLike[str], name: str | None = None) -> Any:
    """Register a Model artifact (its id, from any run) or a saved model file as the next
    version of ``name`` in the registry of ``$KUBELINE_HOME``; the same content again gives
    the existing version. Returns the :class:`~kubeline.store.ModelVersionRecord`.

    >>> kubeline.register_model("model.joblib", name="churn")  # doctest: +SKIP
    """
    from kubeline.engine import kubeline_home
    from kubeline.registry import register
    from kubeline.store import database_url, open_store

    with open_store(database_url(kubeline_home())) as store:
        kept = kubeline_home() / "models"
        return register(store, os.fspath(artifact), name, models_root=kept)[0]


def get_model(reference: str) -> Any:
    """The registered version ``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS`` names, with its
    signature, metrics and lineage (a :class:`~kubeline.store.ModelVersionRecord`)."""
    from kubeline.engine import kubeline_home
    from kubeline.registry import resolve
    from kubeline.store import database_url, open_store

    with open_store(database_url(kubeline_home())) as store:
        return resolve(store, reference)


def _spec_of(pipeline: Any) -> dict[str, Any]:
    if isinstance(pipeline, dict):
        return pipeline
    if isinstance(pipeline, (str, os.PathLike)):
        from kubeline.engine.spec import load_spec

        return load_spec(pipeline)
    from kubeline.pipelines.compile import compile_function

    return compile_function(pipeline)


def _show_records_as_html() -> None:
    """In IPython, runs, tasks and artifacts display as HTML (nothing is imported until one
    is shown; outside IPython this does nothing)."""
    if "IPython" in sys.modules:
        from kubeline.notebook.formatters import register as register_views

        # An IPython too old or too odd for the formatter hook must not break `import kubeline`.
        with contextlib.suppress(Exception):
            register_views()


_show_records_as_html()
