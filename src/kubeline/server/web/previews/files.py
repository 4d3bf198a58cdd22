"""Where an artifact's content is, and reading it within limits: only from inside
``home / "runs"`` (symlinks resolved first), at most a preview's byte budget (enforced even
on a library reading through a file object), and folders listed without following links out.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from markupsafe import Markup

from kubeline.engine.artifacts import local_path
from kubeline.server.web.previews.text import brief, format_bytes, message, plural
from kubeline.store import ArtifactRecord

__all__ = [
    "BudgetFile",
    "OverBudget",
    "Where",
    "decode_text",
    "file_size",
    "folder_listing",
    "inside",
    "locate",
    "read_head",
]

_FOLDER_FILES = 50  # a folder lists this many files
_FOLDER_SCAN = 10_000  # and stops counting after this many entries


@dataclass(frozen=True)
class Where:
    """Where an artifact's content is: ``file`` or ``dir`` (a resolved path inside
    home/runs), or ``remote``, ``outside``, ``missing``, ``special``, ``error`` with a
    one-sentence reason."""

    state: str
    path: Path | None = None
    reason: str = ""
    runs: Path | None = None


def inside(path: Path, runs: Path) -> bool:
    return path == runs or runs in path.parents


def locate(artifact: ArtifactRecord, home: Path) -> Where:
    uri = artifact.uri or ""
    if not uri:
        return Where("missing", reason="This artifact has no URI, so there is no file to show.")
    path = local_path(uri)
    if path is None:
        return Where(
            "remote",
            reason=f"This artifact is stored at {uri}, not on this machine, so kubeline "
            "does not preview its content.",
        )
    try:
        runs = (home / "runs").resolve()
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a permission error
        return Where("error", reason=f"The artifact's path could not be resolved ({brief(exc)}).")
    if not inside(resolved, runs):
        return Where(
            "outside",
            reason=f"The artifact's content ({uri}) lies outside kubeline's runs folder, "
            "so kubeline does not read it.",
        )
    try:
        if resolved.is_file():
            return Where("file", resolved, runs=runs)
        if resolved.is_dir():
            return Where("dir", resolved, runs=runs)
        if resolved.exists():
            return Where(
                "special",
                reason=f"The artifact's path ({uri}) is not a regular file or folder, so it is "
                "not read.",
            )
    except OSError as exc:
        return Where("error", reason=f"The artifact's file could not be opened ({brief(exc)}).")
    return Where("missing", reason=f"The artifact's file ({uri}) does not exist.")


def read_head(path: Path, limit: int) -> tuple[bytes, int]:
    """The first ``limit`` bytes of a file and its full size."""
    with path.open("rb") as f:
        total = os.fstat(f.fileno()).st_size
        return f.read(max(0, limit)), total


def decode_text(data: bytes, *, cut: bool) -> str | None:
    """UTF-8 text, or None for binary content. A file cut mid-character loses that
    character only."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if cut and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8", errors="strict")
        return None


class OverBudget(Exception):
    """Raised by ``BudgetFile`` when a reader asks for more than the preview may read."""


class BudgetFile(io.RawIOBase):
    """A read-only file that refuses to hand out more than ``budget`` bytes in total, so a
    library (pyarrow) reading through it cannot read more than the preview allows."""

    def __init__(self, raw: BinaryIO, budget: int) -> None:
        super().__init__()
        self._raw = raw
        self.budget = budget
        self.used = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            here = self._raw.tell()
            size = os.fstat(self._raw.fileno()).st_size - here
        if self.used + size > self.budget:
            raise OverBudget(f"reading {size} more bytes would pass the preview limit")
        data = self._raw.read(size)
        self.used += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def file_size(where: Where) -> int | None:
    try:
        return where.path.stat().st_size if where.path is not None else None
    except OSError:
        return None


def folder_listing(where: Where) -> tuple[Markup, str]:
    """The first files of a ``dir`` artifact with their sizes, without following links out
    of home/runs (a link that leaves it is listed, not measured)."""
    if where.path is None or where.runs is None:  # only locate()'s "dir" lists a folder
        raise ValueError(f"an artifact in state {where.state!r} has no folder to list")
    root, runs = where.path, where.runs
    shown: list[tuple[str, str]] = []
    count = 0
    total = 0
    complete = True
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames.sort()
        for name in sorted(filenames):
            count += 1
            if count > _FOLDER_SCAN:
                complete = False
                break
            child = Path(dirpath) / name
            rel = child.relative_to(root).as_posix()
            try:
                if child.is_symlink() and not inside(child.resolve(), runs):
                    size_text = "link outside kubeline's runs folder"
                else:
                    size = child.stat().st_size
                    total += size
                    size_text = format_bytes(size)
            except (OSError, RuntimeError):
                size_text = "unreadable"
            if len(shown) < _FOLDER_FILES:
                shown.append((rel, size_text))
        if not complete:
            break
    if count == 0:
        return message("This folder is empty."), "empty folder"
    counted = count if complete else _FOLDER_SCAN
    more = "more than " if not complete else ""
    caption = f"{more}{plural(counted, 'file')}, {format_bytes(total)}"
    if counted > len(shown):
        caption += f" (first {len(shown)} listed)"
    rows = Markup("").join(
        Markup('<tr><td><code>{}</code></td><td class="num">{}</td></tr>').format(rel, size)
        for rel, size in shown
    )
    table = Markup(
        '<table class="files"><caption>Folder: {}</caption>'
        '<thead><tr><th scope="col">File</th><th scope="col">Size</th></tr></thead>'
        "<tbody>{}</tbody></table>"
    ).format(caption, rows)
    return table, f"folder, {caption}"
