"""Artifact references passed between tasks, and content digests for the cache.

An artifact is identified for caching by what it holds, never by where it lives: a re-run
upstream task that writes the same bytes to a new path still gives its consumers a hit.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kubeline.digest import file_digest, hash_file_into

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


def local_path(uri: str) -> Path | None:
    """The local file a URI names (a plain path or ``file://``), else None."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):  # C:\...
        return Path(uri)
    return None


def content_digest(uri: str) -> str:
    """sha256 of what ``uri`` holds: a file's bytes, or a folder's relative names and file
    bytes in sorted order. A URI that is not local, or holds nothing yet, digests its text
    (so an import of ``gs://bucket/x`` is keyed by its address)."""
    h = hashlib.sha256()
    path = local_path(uri)
    if path is not None and path.is_file():
        return file_digest(path)
    if path is not None and path.is_dir():
        h.update(b"dir\0")
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(child.relative_to(path).as_posix().encode() + b"\0")
            hash_file_into(child, h)
    else:
        h.update(b"uri\0" + uri.encode())
    return h.hexdigest()


def content_gone(ref: ArtifactRef) -> bool:
    """True when an artifact that had local content no longer has it (its files were
    deleted). Artifacts that never had a file, such as Metrics, are never gone."""
    path = local_path(ref.uri)
    if path is None or path.exists() or ref.digest is None:
        return False
    return ref.digest != content_digest(ref.uri)
