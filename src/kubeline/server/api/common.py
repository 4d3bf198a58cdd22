"""Helpers the resource routes share."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from kubeline.server.errors import ApiError
from kubeline.store import RunStore

__all__ = ["now", "pipeline_spec_of", "require"]


def now() -> datetime:
    return datetime.now(timezone.utc)


def require(value: Any, what: str, ident: str) -> Any:
    if value is None:
        raise ApiError(404, f"{what} '{ident}' not found.")
    return value


def pipeline_spec_of(
    store: RunStore, spec: dict[str, Any] | None, reference: dict[str, Any] | None
) -> tuple[dict[str, Any], str | None, str | None]:
    """The spec a run or recurring run names: inline, or a pipeline version (default: the
    pipeline's latest). Returns (spec, pipeline_id, pipeline_version_id)."""
    from kubeline.engine.spec import validate_spec

    if spec:
        if "pipeline_spec" in spec and "root" not in spec:  # kfp.Client with a platform spec
            platform = spec.get("platform_spec")
            spec = {**spec["pipeline_spec"], **({"platformSpec": platform} if platform else {})}
        validate_spec(spec, "The run's pipeline_spec")
        return spec, None, None
    if not reference or not (reference.get("pipeline_id") or reference.get("pipeline_version_id")):
        raise ApiError(400, "Give the run a pipeline_spec or a pipeline_version_reference.")
    version_id = reference.get("pipeline_version_id")
    if version_id:
        version = require(store.get_pipeline_version(version_id), "Pipeline version", version_id)
    else:
        pipeline_id = reference["pipeline_id"]
        require(store.get_pipeline(pipeline_id), "Pipeline", pipeline_id)
        version = require(
            store.latest_pipeline_version(pipeline_id), "A version of pipeline", pipeline_id
        )
    return version.spec, version.pipeline_id, version.pipeline_version_id
