"""A model's files come only from the folders they may come from: ``..`` and links out do
not count as inside. (Where a URI points, digests and file names are the engine's rules
too, shared in kubeline.paths and kubeline.digest: tests/test_paths.py.)"""

from __future__ import annotations

import sys
from pathlib import Path

from kubeline.registry.files import inside, link_out
from tests.requirements import exempt


def test_inside_follows_links_and_dots(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "f").write_text("x")
    assert not inside(root / ".." / "outside" / "f", [root])
    assert not inside(root / "missing", [root])
    try:
        (root / "link").symlink_to(outside / "f")
    except OSError as exc:  # Windows without the right to make symlinks
        if sys.platform != "win32":
            raise
        exempt("symlinks on Windows", f"cannot make one here: {exc}")
    assert not inside(root / "link", [root])
    assert link_out(root, [root]) == root / "link"
    assert link_out(root, [root, outside]) is None
