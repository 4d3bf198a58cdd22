"""Self-contained HTML reports: one file, inline SVG plots, no network, autoescaped.

The plots are drawn by :mod:`kubeline.charts` (plain SVG as :class:`~markupsafe.Markup`,
every label escaped), the same code as the web UI's charts: no plotting library, no fonts
embedded, nothing to fetch.
"""

from __future__ import annotations

from typing import Any

import jinja2

__all__ = ["render"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("kubeline.ml", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


_ENV.filters["fmt"] = _fmt


def render(template: str, **context: Any) -> str:
    """``template`` filled with ``context``; strings are escaped, so only Markup (the
    charts) goes in as HTML."""
    return _ENV.get_template(template).render(**context)
