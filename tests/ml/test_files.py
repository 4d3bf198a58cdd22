"""Atomic writes: a file appears whole or not at all, with no temporary file left over."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeline.ml._files import atomic_path, write_text


def test_write_text_creates_folders_and_leaves_one_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "report.md"
    write_text(path, "# héllo\n")
    assert path.read_text(encoding="utf-8") == "# héllo\n"
    assert [p.name for p in path.parent.iterdir()] == ["report.md"]


def test_atomic_path_writes_beside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        assert Path(tmp).parent == tmp_path
        assert Path(tmp).name.startswith(".out.txt.") and tmp.endswith(".tmp")
        Path(tmp).write_text("new")
        assert not target.exists()  # nothing visible until the block succeeds
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk on fire"), atomic_path(target) as tmp:
        Path(tmp).write_text("half")
        raise RuntimeError("disk on fire")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
