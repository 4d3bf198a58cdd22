"""The sha256 kubeline gives a file's content, in one place: an artifact's digest, the model
registry's version folder and the model card's content id are the same value, so a reader
can match a card to the registry's page by eye.

Layer-free, like ``errors``: the engine digests artifacts with it, the model registry its
versions (the same rule, so a model registered from its file and from its run's artifact is
the same version), and the lifecycle's register component (running in a task's process)
names the model card's content with it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from kubeline.paths import local_path

__all__ = ["SHORT", "content_digest", "file_digest", "hash_file_into"]

#: How many hex digits pages, the CLI and model cards show of a model's digest (the
#: registry's version folders are named with as many).
SHORT = 16

_CHUNK = 1 << 20


def hash_file_into(path: Path, h: Any) -> None:
    """Feed a file's bytes to the hash ``h``, a chunk at a time (models can be large)."""
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)


def file_digest(path: str | Path) -> str:
    """The hex sha256 of a file as an artifact: ``file\\0`` then its bytes."""
    h = hashlib.sha256(b"file\0")
    hash_file_into(Path(path), h)
    return h.hexdigest()


def content_digest(uri: str) -> str:
    """sha256 of what ``uri`` holds: a file's bytes (:func:`file_digest`), or a folder's
    relative names and file bytes in sorted order. A URI that is not local, or holds nothing
    yet, digests its text (so an import of ``gs://bucket/x`` is keyed by its address)."""
    path = local_path(uri)
    if path is not None and path.is_file():
        return file_digest(path)
    h = hashlib.sha256()
    if path is not None and path.is_dir():
        h.update(b"dir\0")
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(child.relative_to(path).as_posix().encode() + b"\0")
            hash_file_into(child, h)
    else:
        h.update(b"uri\0" + uri.encode())
    return h.hexdigest()
