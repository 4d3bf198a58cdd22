"""A run's progress in one notebook display that updates in place.

:class:`LiveProgress` is an ``on_event`` callback: it counts tasks done, running, failed and
cached from the engine's events and redraws one display (IPython's ``display_id``) at most
every ``interval`` seconds, however many events a 200-task ParallelFor sends; a ticker keeps
the elapsed time moving while a long task runs. Each update is static HTML with a text/plain
line beside it, so the last one stays readable when the notebook is saved and reopened.
"""

from __future__ import annotations

import contextvars
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from kubeline.engine import RunResult, TaskEvent
from kubeline.errors import ConfigError
from kubeline.notebook.html import badge, block, seconds_text, table

__all__ = ["LiveProgress", "Tally"]

_LEAVES = ("executor", "importer")
_ITERATION = re.compile(r"iteration-\d+")
_ROWS = 12  # task rows in the table; the rest are counted in one line
_COLOURS = {"done": "#1e7b34", "cached": "#1d5fa8", "failed": "#b3261e", "running": "#c98a00"}


@dataclass
class Tally:
    """How many tasks of one kind (a task, or every iteration of a loop's task) are where."""

    name: str
    running: int = 0
    done: int = 0
    cached: int = 0
    failed: int = 0
    other: int = 0  # skipped, canceled
    seconds: float = 0.0

    @property
    def seen(self) -> int:
        return self.running + self.done + self.cached + self.failed + self.other


class LiveProgress:
    """Call it with each :class:`~kubeline.engine.TaskEvent`; :meth:`finish` with the result.

    Args:
        title: what the display names (the pipeline).
        interval: the least time between two updates, in seconds.
        display: IPython's ``display`` (injected by tests; default: IPython.display's).
    """

    def __init__(self, title: str, *, interval: float = 0.5, display: Any = None) -> None:
        self.title = title
        self.interval = interval
        self._display = display
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last = 0.0
        self._states: dict[str, str] = {}  # task path -> running, done, cached, failed, other
        self._kinds: dict[str, str] = {}  # task path -> its row's name
        self._times: dict[str, float] = {}
        self._handle: Any = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.updates = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LiveProgress:
        """Show the display, and start the ticker that moves its clock."""
        if self._display is None:
            try:
                from IPython.display import display
            except ImportError as exc:
                raise ConfigError(
                    "progress=True shows the run in a Jupyter display, which needs IPython: "
                    "pip install ipykernel (or leave progress out: it is on in a kernel)."
                ) from exc
            self._display = display
        self._handle = self._display(self._bundle(None), raw=True, display_id=True)
        # A thread starts with an empty context; a kernel that routes output by context
        # (ipykernel 7) needs the cell's, so the ticker runs in a copy of it.
        context = contextvars.copy_context()
        self._ticker = threading.Thread(
            target=context.run, args=(self._tick,), name="kubeline-progress", daemon=True
        )
        self._ticker.start()
        return self

    def finish(self, result: RunResult | None = None, error: str | None = None) -> None:
        """Stop the ticker and draw the final state (the run's own, when it has one)."""
        self._stop.set()
        if result is not None and error is None and result.state != "SUCCEEDED":
            error = result.error
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        with self._lock:
            self._update(result, error)

    def _tick(self) -> None:
        while not self._stop.wait(max(self.interval, 1.0)):
            with self._lock:
                if time.monotonic() - self._last < self.interval:
                    continue  # an event just drew it
                try:
                    self._update(None)
                except Exception:  # noqa: BLE001 - the display is a courtesy; the run goes on
                    return

    # ------------------------------------------------------------------ events
    def __call__(self, event: TaskEvent) -> None:
        if event.node_kind not in _LEAVES:
            return
        if event.kind == "started":
            where = "running"
        elif event.kind == "cached" or event.state == "CACHED":
            where = "cached"
        elif event.kind == "retrying":
            where = "running"
        elif event.state == "SUCCEEDED":
            where = "done"
        elif event.state == "FAILED":
            where = "failed"
        else:
            where = "other"
        with self._lock:
            self._states[event.task] = where
            self._kinds[event.task] = _ITERATION.sub("*", event.task)
            if event.seconds is not None and where != "running":
                self._times[event.task] = event.seconds
            if time.monotonic() - self._last >= self.interval:
                self._update(None)

    # ------------------------------------------------------------------ drawing
    def tallies(self) -> list[Tally]:
        """One row per task (a loop's iterations in one), in the order they started."""
        rows: dict[str, Tally] = {}
        for path, where in self._states.items():
            name = self._kinds[path]
            row = rows.setdefault(name, Tally(name))
            setattr(row, where, getattr(row, where) + 1)
            row.seconds += self._times.get(path, 0.0)
        return list(rows.values())

    def _update(self, result: RunResult | None, error: str | None = None) -> None:
        if self._handle is None:
            return
        self._handle.update(self._bundle(result, error), raw=True)
        self._last = time.monotonic()
        self.updates += 1

    def _bundle(self, result: RunResult | None, error: str | None = None) -> dict[str, str]:
        return {"text/plain": self.text(result, error), "text/html": str(self.html(result, error))}

    def _counts(self) -> dict[str, int]:
        counts = {"running": 0, "done": 0, "cached": 0, "failed": 0, "other": 0}
        for where in self._states.values():
            counts[where] += 1
        return counts

    def _elapsed(self, result: RunResult | None) -> float:
        if result is not None and result.run.finished_at is not None:
            return result.seconds
        return time.monotonic() - self._started

    def _state(self, result: RunResult | None, error: str | None) -> str:
        if result is not None:
            return result.state
        return "FAILED" if error else "RUNNING"

    def text(self, result: RunResult | None = None, error: str | None = None) -> str:
        """The one line a plain-text frontend shows."""
        c = self._counts()
        return (
            f"{self.title}: {self._state(result, error)} {seconds_text(self._elapsed(result))} · "
            f"{c['done']} done, {c['running']} running, {c['failed']} failed, "
            f"{c['cached']} cached"
        )

    def html(self, result: RunResult | None = None, error: str | None = None) -> Markup:
        c = self._counts()
        total = max(1, sum(c.values()))
        bar = Markup("").join(
            Markup('<span style="width:{}%;background:{}" title="{} {}"></span>').format(
                round(100 * c[k] / total, 1), colour, c[k], k
            )
            for k, colour in _COLOURS.items()
            if c[k]
        )
        state = self._state(result, error)
        head = Markup('<h4>{} {} <span class="kl-muted">{}</span></h4>').format(
            self.title, badge(state), seconds_text(self._elapsed(result))
        )
        words = Markup("<p>{} done · {} running · {} failed · {} cached{}</p>").format(
            c["done"],
            c["running"],
            c["failed"],
            c["cached"],
            f" · {c['other']} skipped or canceled" if c["other"] else "",
        )
        rows = self.tallies()
        shown = sorted(rows, key=lambda r: -(r.running + r.failed))[:_ROWS]  # stable
        body = table(
            ("Task", "Running", "Done", "Cached", "Failed", "Time"),
            (
                (r.name, r.running, r.done, r.cached, r.failed, seconds_text(r.seconds))
                for r in shown
            ),
        )
        more = (
            Markup('<p class="kl-muted">and {} more tasks</p>').format(len(rows) - len(shown))
            if len(rows) > len(shown)
            else Markup("")
        )
        problem = Markup("<pre>{}</pre>").format(error) if error else Markup("")
        return block(
            head, Markup('<div class="kl-bar">{}</div>').format(bar), words, body, more, problem
        )
