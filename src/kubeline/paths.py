"""Where a URI points on this machine, and the file-system name kubeline gives a name it
did not choose, in one place: the engine names run files and the model registry names its
copies by the same rules, so a model's folder is the same whichever of them made it.

A name from a pipeline spec or a model's metadata is data anyone can write: a task named
``../../x``, an output named ``a/b`` or a model named ``CON`` must never become a path
outside its folder (or a device on Windows). An *ordinary* name (letters, digits, ``-``,
``_``, ``.``; not starting with a dot, nor with a dash that a command line would take for
an option; not ending with a dot; at most :data:`MAX_NAME` characters; no Windows device
name) maps to itself, so run folders keep the paths the docs show
(``tasks/evaluate/report``). Any other name maps to a readable form plus ``~`` and a hash
of the original: ``~`` is never part of an ordinary name, and the hash tells two different
names apart, so no two names ever share a file.

Layer-free, like ``errors`` and ``digest``: the engine and the registry (which may not
import the engine) both use it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["MAX_NAME", "is_ordinary", "local_path", "safe_name"]

#: The longest name kept as it is (KFP's own names stay well under it).
MAX_NAME = 128
_ORDINARY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_NOT_READABLE = re.compile(r"[^A-Za-z0-9_-]+")
_READABLE_LENGTH = 48
_HASH_LENGTH = 12
# Names Windows opens as devices whatever their extension (con.txt is the console too).
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"{port}{n}" for port in ("com", "lpt") for n in range(10)}
)


def local_path(uri: str) -> Path | None:
    """The local file a URI names (a plain path or ``file://``), else None."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):  # C:\...
        return Path(uri)
    return None


def is_ordinary(name: str) -> bool:
    """True when ``name`` is a file name as it is, on every OS (see the module's notes)."""
    return (
        len(name) <= MAX_NAME
        and _ORDINARY.fullmatch(name) is not None
        and not name.endswith(".")
        and name.split(".", 1)[0].lower() not in _WINDOWS_DEVICES
    )


def safe_name(name: object) -> str:
    """One file-name segment for a name kubeline did not choose: itself when ordinary, else
    a readable form plus a hash of the original (``../../x`` -> ``x~<hash>``)."""
    text = str(name)
    if is_ordinary(text):
        return text
    readable = _NOT_READABLE.sub("_", text).strip("_-")[:_READABLE_LENGTH] or "_"
    # surrogatepass: a name parsed from JSON may hold lone surrogates; they still hash.
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{readable}~{digest[:_HASH_LENGTH]}"
