"""What every page module shares: paging, query strings, and the HTML error page."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from kubeline.server.web.templating import render

__all__ = ["PAGE_SIZES", "Page", "error_page", "not_found", "query_string"]

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
