"""Whether a model's file stays inside the folders it may come from: a registered path, or
a link in a model's folder, must not lead the registry's copy out of them.

Where a URI points, what its content digests to and the file-system name a model's name
gets are the engine's rules too: ``kubeline.paths`` and ``kubeline.digest`` hold them for
both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["inside", "link_out"]


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
