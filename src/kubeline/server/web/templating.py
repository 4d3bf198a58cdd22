"""The Jinja2 environment every page renders with, and the filters its templates use.

Filters turn stored values into what a reader wants to see (``1.2 s``, ``3 min ago``,
``0.9737``); they never raise on odd values, since a page must render whatever a run holds.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from kubeline.comparison import format_value
from kubeline.server.web.graph import STATE_WORDS as GRAPH_STATE_WORDS
from kubeline.server.web.previews import format_bytes
from kubeline.version import __version__

__all__ = ["STATIC_DIR", "duration", "format_value", "render", "templates", "when"]

_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"
templates = Jinja2Templates(directory=str(_HERE / "templates"))

#: Words for states, as a newcomer reads them (the graph's, plus the list's "cached", and
#: "terminated" for a run someone stopped, whose API state is FAILED: see run_state).
STATE_WORDS = {**GRAPH_STATE_WORDS, "CACHED": "cached", "TERMINATED": "terminated"}
FINAL_STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")


def duration(start: datetime | None, end: datetime | None = None) -> str:
    """``1.2 s``, ``3 min 4 s``, ``2 h 5 min``; running ones are measured up to now."""
    if start is None:
        return ""
    seconds = ((end or datetime.now(timezone.utc)) - _aware(start)).total_seconds()
    return seconds_text(seconds)


def seconds_text(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def when(moment: datetime | None) -> str:
    """An absolute UTC time a reader can compare across rows: ``2026-11-28 18:34:35``."""
    if moment is None:
        return ""
    return _aware(moment).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def iso(moment: datetime | None) -> str:
    return "" if moment is None else _aware(moment).isoformat()


def state_word(state: str | None) -> str:
    return STATE_WORDS.get(state or "", (state or "not started").lower())


def run_state(run: Any) -> str:
    """The state a page shows for a run: ``TERMINATED`` for one that was terminated on
    request (the API says FAILED, which ``kfp.Client`` needs), else its own."""
    from kubeline.server.manager import is_terminated

    state = str(getattr(run, "state", "") or "")
    return "TERMINATED" if is_terminated(state, getattr(run, "error", None)) else state


def short_id(identifier: str | None) -> str:
    """What tells runs apart: a run id is ``<pipeline>-<time>-<random>``, so its last part."""
    text = identifier or ""
    return text.rsplit("-", 1)[-1][:8] if "-" in text else text[:8]


templates.env.filters.update(
    duration=duration,
    seconds=seconds_text,
    when=when,
    iso=iso,
    value=format_value,
    state_word=state_word,
    run_state=run_state,
    bytes=format_bytes,
    short_id=short_id,
)
#: What every template may read. ``kubeline_version``, not ``version``: pages pass their
#: own ``version`` (a pipeline version), which would shadow it in the footer and asset links.
GLOBALS: dict[str, Any] = {"kubeline_version": __version__, "FINAL_STATES": FINAL_STATES}
templates.env.globals.update(GLOBALS)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page template; ``nav`` in the context marks the current menu entry.

    Raises:
        ValueError: the context names one of :data:`GLOBALS` (it would hide it).
    """
    shadowed = sorted(set(context or {}) & set(GLOBALS))
    if shadowed:
        raise ValueError(f"template context would shadow the globals {shadowed}")
    return templates.TemplateResponse(
        request, name, {"request": request, **(context or {})}, status_code=status_code
    )
