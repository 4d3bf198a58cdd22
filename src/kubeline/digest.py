"""The sha256 kubeline gives a file's content, in one place: an artifact's digest, the model
registry's version folder and the model card's content id are the same value, so a reader
can match a card to the registry's page by eye.

Layer-free, like ``errors``: the engine digests artifacts with it, and the lifecycle's
register component (running in a task's process) names the model card's content with it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

__all__ = ["SHORT", "file_digest", "hash_file_into"]

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
