"""Artifact references passed between tasks, and content digests for the cache.

An artifact is identified for caching by what it holds, never by where it lives: a re-run
upstream task that writes the same bytes to a new path still gives its consumers a hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# Shared with the model registry (which may not import the engine): one digest, one rule.
from kubeline.digest import content_digest
from kubeline.paths import local_path

__all__ = ["ArtifactRef", "content_digest", "content_gone", "local_path"]


@dataclass(frozen=True)
class ArtifactRef:
    """An artifact as the engine passes it on: where it is, its type, metadata, digest."""

    name: str
    uri: str
    schema_title: str = "system.Artifact"
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    digest: str | None = None
    artifact_id: str | None = None

    def with_digest(self) -> ArtifactRef:
        return replace(self, digest=content_digest(self.uri))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uri": self.uri,
            "schema_title": self.schema_title,
            "metadata": self.metadata,
            "digest": self.digest,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArtifactRef:
        return cls(
            name=data.get("name", ""),
            uri=data["uri"],
            schema_title=data.get("schema_title", "system.Artifact"),
            metadata=dict(data.get("metadata") or {}),
            digest=data.get("digest"),
        )

    def to_dsl(self) -> Any:
        """The kfp ``dsl.Artifact`` subclass instance KFP's executor input is built from."""
        from kfp.local.importer_handler import get_artifact_class_from_schema_title

        cls = get_artifact_class_from_schema_title(self.schema_title)
        return cls(name=self.name, uri=self.uri, metadata=dict(self.metadata))

    @classmethod
    def from_dsl(cls, artifact: Any) -> ArtifactRef:
        return cls(
            name=artifact.name or "",
            uri=artifact.uri,
            schema_title=artifact.schema_title,
            metadata=dict(artifact.metadata),
        )


def content_gone(ref: ArtifactRef) -> bool:
    """True when an artifact that had local content no longer has it (its files were
    deleted). Artifacts that never had a file, such as Metrics, are never gone."""
    path = local_path(ref.uri)
    if path is None or path.exists() or ref.digest is None:
        return False
    return ref.digest != content_digest(ref.uri)
