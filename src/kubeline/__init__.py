"""kubeline: Kubeflow Pipelines made easy.

A complete ML lifecycle pipeline written with the KFP v2 SDK, a local engine that runs any
compiled KFP pipeline, and the commands to move the same YAML to a cluster.
"""

from __future__ import annotations

import os
from typing import Any

from kubeline.version import __version__

__all__ = ["__version__", "get_model", "register_model", "run"]


def run(pipeline: Any, arguments: dict[str, Any] | None = None, **options: Any) -> Any:
    """Run a pipeline on this machine and return its :class:`~kubeline.engine.RunResult`
    (``run_id``, ``state``, ``outputs``, ``tasks``).

    Args:
        pipeline: a ``@dsl.pipeline`` function, a path to a compiled ``.yaml`` / ``.json``
            pipeline, or a PipelineSpec dict.
        arguments: pipeline parameters by name.
        **options: as :func:`kubeline.engine.run_pipeline` (``enable_caching``,
            ``workers``, ``on_event``, ``allow_installs``, ``home``, ``display_name``,
            ``log_cap_mb``, ``runner="docker"`` to run each task in its image, ``pull``,
            or all of them as one ``options=RunOptions(...)``).

    >>> result = kubeline.run(my_pipeline, {"epochs": 3})  # doctest: +SKIP
    >>> result.state, result.outputs  # doctest: +SKIP
    """
    from kubeline.engine import run_pipeline

    return run_pipeline(_spec_of(pipeline), arguments, **options)


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
