"""What every page module shares: paging, query strings, and the HTML error page."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from kubeline.comparison import side_by_side
from kubeline.server.web.templating import render

__all__ = [
    "PAGE_SIZES",
    "Page",
    "attachment",
    "error_page",
    "not_found",
    "parse_expanded",
    "query_string",
    "side_by_side",
]

PAGE_SIZES = (20, 50, 100)


@dataclass(frozen=True)
class Page:
    """Where a list is: page ``number`` (from 1) of ``pages``, ``size`` rows a page."""

    number: int
    size: int
    total: int

    @classmethod
    def of(cls, number: int, size: int, total: int) -> Page:
        size = size if size in PAGE_SIZES else PAGE_SIZES[0]
        pages = max(1, math.ceil(total / size))
        return cls(number=min(max(1, number), pages), size=size, total=total)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def query_string(**params: object) -> str:
    """``a=1&b=x`` from the parameters that have a value (paging links keep the filters)."""
    return urlencode({k: v for k, v in params.items() if v not in (None, "", False)})


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` value that downloads as ``filename``, whatever it holds.

    Names come from users (a pipeline called ``测试``, or one with a line break), and a raw
    one in a header either fails (not Latin-1) or injects headers (CR LF). Control
    characters and path separators become ``_``; the name travels as RFC 5987 UTF-8
    (``filename*``) with an ASCII ``filename`` for old clients.
    """
    clean = (
        "".join(
            "_" if unicodedata.category(c).startswith("C") or c in "/\\" else c for c in filename
        ).strip()
        or "download"
    )
    fallback = "".join(c if " " <= c <= "~" and c not in '"%' else "_" for c in clean)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(clean, safe='')}"


def error_page(
    request: Request, status: int, title: str, message: str, hint: str = ""
) -> HTMLResponse:
    """A page that says what went wrong and where to go next (``hint`` may hold links)."""
    return render(
        request,
        "error.html",
        {"title": title, "message": message, "hint": hint},
        status_code=status,
    )


def not_found(request: Request, what: str, ident: str) -> HTMLResponse:
    return error_page(
        request,
        404,
        f"{what} not found",
        f"There is no {what.lower()} with id '{ident}'. It may have been deleted.",
    )


def parse_expanded(text: str | None) -> set[str] | None:
    """The graph groups to unfold: ``a,b`` -> {a, b}; absent -> None (the graph chooses)."""
    return None if text is None else {part for part in text.split(",") if part}
