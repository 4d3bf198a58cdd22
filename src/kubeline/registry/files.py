"""The registry's view of files: where a URI points, what a model's content digests to,
whether a path stays inside the folders it may come from, and the file-system name a
model's name or file gets in the registry's copies.

The engine names run files and digests artifacts by the same rules
(``kubeline.engine.artifacts``, ``kubeline.engine.safepath``); the registry keeps its own
small copy so it sits below the engine, and tests/registry checks both agree.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from kubeline.digest import file_digest, hash_file_into

__all__ = ["content_digest", "file_name", "inside", "link_out", "local_path"]


def local_path(uri: str) -> Path | None:
    """The local file a URI names (a plain path or ``file://``), else None."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):  # C:\...
        return Path(uri)
    return None


def content_digest(uri: str) -> str:
    """sha256 of what ``uri`` holds, as the engine digests an artifact: a file's bytes, or
    a folder's relative names and file bytes in sorted order (else the URI's text), so a
    model registered from its file and from its run's artifact is the same version."""
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


def inside(path: Path, roots: Sequence[Path]) -> bool:
    """Whether ``path`` lies in one of ``roots``, both with symlinks resolved: ``..`` and a
    link out of a folder do not count as inside. A path that does not exist is not."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return any(real.is_relative_to(root.resolve()) for root in roots)


def link_out(folder: Path, roots: Sequence[Path]) -> Path | None:
    """The first symlink in ``folder`` (walked without following links) that points outside
    ``roots``: copying the folder would copy what it points at."""
    for top, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            entry = Path(top) / name
            if entry.is_symlink() and not inside(entry, roots):
                return entry
    return None


_MAX_NAME = 128
_ORDINARY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_NOT_READABLE = re.compile(r"[^A-Za-z0-9_-]+")
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"{port}{n}" for port in ("com", "lpt") for n in range(10)}
)


def file_name(name: str) -> str:
    """One file-name segment for ``name``: itself when it is a file name on every OS, else
    a readable form plus a hash of the original (``../x`` -> ``x~<hash>``), so a name from
    artifact metadata never leaves the registry's folder."""
    if (
        len(name) <= _MAX_NAME
        and _ORDINARY.fullmatch(name) is not None
        and not name.endswith(".")
        and name.split(".", 1)[0].lower() not in _WINDOWS_DEVICES
    ):
        return name
    readable = _NOT_READABLE.sub("_", name).strip("_-")[:48] or "_"
    # surrogatepass: a name parsed from JSON may hold lone surrogates; they still hash.
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{readable}~{digest[:12]}"
