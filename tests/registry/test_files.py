"""The registry's own small copies of the engine's file rules give the same answers: a
model registered from its file and from its run's artifact must be the same version, and
a name must map to the same folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kubeline.engine.artifacts import content_digest as engine_digest
from kubeline.engine.artifacts import local_path as engine_local_path
from kubeline.engine.safepath import safe_name
from kubeline.registry.files import content_digest, file_name, inside, link_out, local_path
from tests.requirements import exempt

NAMES = [
    "model",
    "iris.joblib",
    "a.",
    "con",
    "COM1.txt",
    "../x",
    "a b",
    "-x",
    ".hidden",
    "é",
    "x" * 200,
]


@pytest.mark.parametrize("name", NAMES)
def test_file_names_match_the_engines(name: str) -> None:
    assert file_name(name) == safe_name(name)


def test_digests_match_the_engines(tmp_path: Path) -> None:
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "a.joblib").write_bytes(b"model")
    (tmp_path / "folder" / "sub" / "card.md").write_text("# card")
    for uri in [
        str(tmp_path / "folder" / "a.joblib"),
        str(tmp_path / "folder"),
        f"file://{tmp_path / 'folder'}",
        "gs://bucket/model",
        str(tmp_path / "missing"),
    ]:
        assert content_digest(uri) == engine_digest(uri), uri
        assert local_path(uri) == engine_local_path(uri), uri


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
