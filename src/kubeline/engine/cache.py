"""Cache keys composed from named parts, by content: the component (its spec and
executor), the resolved parameter values, and the digests of the input artifacts' contents.
Never a run id or a path, so results are reused across runs and a re-run upstream task that
writes the same bytes elsewhere still gives its consumers a hit."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kubeline.engine.artifacts import ArtifactRef

__all__ = ["cache_key"]

# Changed whenever the same inputs would give a task other outputs, so older results are
# not reused: 2 gives values KFP's text (numbers, lists and dicts in str inputs, #13).
KEY_VERSION = "kubeline-cache-2"


def cache_key(
    component: dict[str, Any],
    executor: dict[str, Any],
    parameters: dict[str, Any],
    artifacts: dict[str, list[ArtifactRef]],
    custom: str | None = None,
    runner: str | None = None,
) -> str:
    """The sha256 key of one task's work. ``custom`` (KFP's ``cachingOptions.cacheKey``)
    replaces the inputs part when the pipeline author set one. ``runner`` says where it
    runs when not on this machine (``docker:sha256:...``: the runtime and the image's id),
    so a result from the host is never taken for a container's, nor one image's for
    another's."""
    parts = {
        "version": KEY_VERSION,
        "component": component,
        "executor": executor,
        "inputs": custom
        if custom
        else {
            "parameters": parameters,
            "artifacts": {
                name: [[r.schema_title, r.digest or r.uri] for r in refs]
                for name, refs in artifacts.items()
            },
        },
    }
    if runner:
        parts["runner"] = runner
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
