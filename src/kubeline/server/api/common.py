"""Helpers the resource routes share."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from kubeline.errors import ConfigError, NotFoundError
from kubeline.store import RunStore

__all__ = ["ApiBody", "lone_surrogate_at", "now", "pipeline_spec_of", "require", "unwrap_spec"]


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate_at(data: Any, root: str = "body") -> str | None:
    """Where (``body.display_name``) a JSON document holds a lone UTF-16 surrogate, or None.

    JSON may spell one (``"\\ud800"``) and Python decodes it, but it is not text: it cannot
    be stored, logged or sent back as UTF-8.
    """
    stack: list[tuple[str, Any]] = [(root, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if not _is_unicode(value):
                return where[:200]
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and not _is_unicode(key):
                    return f"a field name in {where[:200]}"
                stack.append((f"{where}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return None


class ApiBody(BaseModel):
    """A JSON request body: unknown fields ignored (as KFP's API server does), and no text
    that is not Unicode anywhere in it."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _unicode_only(cls, data: Any) -> Any:
        where = lone_surrogate_at(data)
        if where is not None:
            raise ValueError(
                f"{where} holds a lone UTF-16 surrogate (such as \\ud800), which is not "
                "valid Unicode text: send UTF-8 text."
            )
        return data


def now() -> datetime:
    return datetime.now(timezone.utc)


def require(value: Any, what: str, ident: str) -> Any:
    if value is None:
        raise NotFoundError(f"{what} '{ident}' not found.")
    return value


def unwrap_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec as sent, or KFP's ``{"pipeline_spec": ..., "platform_spec": ...}`` wrapping of
    one (what kfp.Client sends with Kubernetes settings) as one spec with ``platformSpec``."""
    if "pipeline_spec" not in spec or "root" in spec:
        return spec
    inner, platform = spec["pipeline_spec"], spec.get("platform_spec")
    if not isinstance(inner, dict):
        raise ConfigError(
            "pipeline_spec.pipeline_spec must be an object, a compiled pipeline; got "
            f"{type(inner).__name__}. Send the pipeline's YAML as JSON, as kfp.Client does.",
        )
    if platform is not None and not isinstance(platform, dict):
        raise ConfigError(
            f"pipeline_spec.platform_spec must be an object; got {type(platform).__name__}.",
        )
    return {**inner, **({"platformSpec": platform} if platform else {})}


def pipeline_spec_of(
    store: RunStore, spec: dict[str, Any] | None, reference: dict[str, Any] | None
) -> tuple[dict[str, Any], str | None, str | None]:
    """The spec a run or recurring run names: inline, or a pipeline version (default: the
    pipeline's latest). Returns (spec, pipeline_id, pipeline_version_id)."""
    from kubeline.engine.spec import validate_spec

    if spec:
        spec = unwrap_spec(spec)
        validate_spec(spec, "The run's pipeline_spec")
        return spec, None, None
    if not reference or not (reference.get("pipeline_id") or reference.get("pipeline_version_id")):
        raise ConfigError("Give the run a pipeline_spec or a pipeline_version_reference.")
    version_id = reference.get("pipeline_version_id")
    if version_id:
        version = require(store.pipeline_versions.get(version_id), "Pipeline version", version_id)
    else:
        pipeline_id = reference["pipeline_id"]
        require(store.pipelines.get(pipeline_id), "Pipeline", pipeline_id)
        version = require(
            store.pipeline_versions.latest(pipeline_id), "A version of pipeline", pipeline_id
        )
    return version.spec, version.pipeline_id, version.pipeline_version_id
