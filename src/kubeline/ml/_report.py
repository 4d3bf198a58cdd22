"""Self-contained HTML reports: one file, inline SVG plots, no network, autoescaped."""

from __future__ import annotations

import io
from typing import Any

import jinja2

__all__ = ["figure_svg", "render"]

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
    return _ENV.get_template(template).render(**context)


def figure_svg(fig: Any) -> str:
    """Serialise a matplotlib figure to inline SVG markup and close it."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.find("<svg") :]


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (no display, any OS)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    return plt
