"""Turn results into rich output. Only this module and the command functions print."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kubeline.engine.results import RunResult, TaskEvent

__all__ = ["TaskProgress", "print_json", "run_next_steps", "run_table"]

_MARK = {
    "SUCCEEDED": "[green]✓[/]",
    "FAILED": "[red]✗[/]",
    "SKIPPED": "[dim]-[/]",
    "CANCELED": "[yellow]■[/]",
}


# C0 and C1 control characters (ESC among them) and DEL, shown as \xNN: a name from a
# pipeline file must not move the cursor, retitle the terminal or hide text.
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if c != 0x0A}


def shown(text: Any) -> str:
    """``text`` safe to print: control characters made visible, rich markup escaped."""
    return escape(str(text).translate(_CONTROLS))


def print_json(document: Any) -> None:
    """One JSON document on stdout (``--output json``)."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


class TaskProgress:
    """Per-task progress on stderr: a line as each task ends (and, on a terminal, a live
    line of what is running); with ``verbose``, the admission's decisions too."""

    def __init__(self, console: Console, verbose: bool = False) -> None:
        self._console = console
        self._verbose = verbose
        self._running: set[str] = set()
        self.finished = 0
        self._status = console.status("") if console.is_terminal else None
        if self._status is not None:
            self._status.start()

    def __call__(self, event: TaskEvent) -> None:
        if event.kind == "admission":
            if self._verbose:
                self._console.print(
                    f"  [dim]· {shown(event.task)}: {shown(event.detail)}[/]", highlight=False
                )
            return
        if event.node_kind not in ("executor", "importer"):
            if (
                event.kind == "finished"
                and event.state == "SKIPPED"
                and event.error
                and ("condition" in event.error)
            ):
                self._console.print(
                    f"  [dim]- {shown(event.task)} skipped ({shown(event.error)})[/]",
                    highlight=False,
                )
            return
        if event.kind == "started":
            self._running.add(event.task)
        elif event.kind == "retrying":
            self._console.print(
                f"  [yellow]↻[/] {shown(event.task)} failed, retrying: "
                f"[dim]{shown(event.error)}[/]",
                highlight=False,
            )
        else:
            self._running.discard(event.task)
            self.finished += 1
            mark = _MARK.get(event.state, event.state)
            detail = (
                "(cached)"
                if event.kind == "cached"
                else (f"{event.seconds:.1f}s" if event.seconds is not None else "")
            )
            if event.state in ("FAILED", "SKIPPED") and event.error:
                detail += f" {shown(event.error)}"
            self._console.print(f"  {mark} {shown(event.task)} [dim]{detail}[/]", highlight=False)
        if self._status is not None:
            running = ", ".join(shown(t) for t in sorted(self._running)[:4]) + (
                " …" if len(self._running) > 4 else ""
            )
            self._status.update(f"{self.finished} done; running: {running or 'nothing'}")

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict) and "uri" in value:
        return str(value["uri"])
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def run_table(result: RunResult) -> Table:
    """The results table: the run, its outputs, and headline metrics when there are any."""
    table = Table(title=f"Run {result.run_id}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    state_style = "green" if result.state == "SUCCEEDED" else "red"
    table.add_row("state", f"[{state_style}]{result.state}[/]")
    leaves = [t for t in result.tasks if t.kind in ("executor", "importer")]
    cached = sum(t.cache_hit for t in leaves)
    table.add_row("time", f"{result.seconds:.1f} s, {len(leaves)} tasks ({cached} from cache)")
    for name, value in result.outputs.items():
        metadata = value.get("metadata") if isinstance(value, dict) else None
        if isinstance(metadata, dict) and value.get("type") == "system.Metrics":
            for metric, score in metadata.items():
                if isinstance(score, float) and metric != "test_rows":
                    table.add_row(f"  {metric}", f"{score:.4f}")
            continue
        table.add_row(name, _value(value))
    return table


def _run_page(result: RunResult) -> str:
    """The run's page on a running kubeline server of the run's home (its folder is
    ``HOME/runs/ID``), or how to start one. A dead port answers at once, so this costs a
    run next to nothing when no server is up."""
    from urllib.parse import quote

    from kubeline.discovery import find_server  # here: only a finished run asks

    path = f"/runs/{quote(result.run_id, safe='')}"
    url = find_server(home=result.root.parent.parent, default=False)
    if url is None:
        return f"kubeline ui, then open {shown(path)}"
    return shown(url + path)


def _find(result: RunResult, task: str, output: str) -> Path | None:
    """The file of a task's output artifact; from a cached task, the original file."""
    for record in result.tasks:
        if record.name == task and record.state == "SUCCEEDED":
            uris = record.outputs.get("artifacts", {}).get(output) or []
            if uris:
                return Path(uris[0])
    return None


def run_next_steps(result: RunResult, registered: Sequence[tuple[str, int]] = ()) -> list[str]:
    """Where to look next, for a newcomer: reports, card and logs of this run, the run's
    page (its real address when a kubeline server of the run's home answers), and the
    registered model with how to serve it."""
    lines = [
        f"{'Run folder:':<13} {result.root}",
        f"{'Details:':<13} kubeline runs show {result.run_id}",
        f"{'In a browser:':<13} {_run_page(result)}",
    ]
    for label, task, output in (
        ("Data profile", "explore", "report"),
        ("Evaluation", "evaluate", "report"),
        ("Leaderboard", "select-best", "leaderboard"),
        ("Model card", "register-model", "card"),
        ("Model", "register-model", "registered"),
        ("Rejection", "reject-model", "notice"),
    ):
        path = _find(result, task, output)
        if path is not None:
            lines.append(f"{label + ':':<13} {path}")
    for name, version in registered:
        lines.append(
            f"{'Registered:':<13} {name} version {version} "
            f"(kubeline models show {name}:{version}; kubeline serve {name}:{version})"
        )
    return lines


_STATE_STYLE = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "RUNNING": "cyan",
    "CANCELED": "yellow",
    "SKIPPED": "dim",
    "PENDING": "dim",
}


def _state(state: str) -> str:
    return f"[{_STATE_STYLE.get(state, 'white')}]{state}[/]"


def _duration(start: Any, end: Any) -> str:
    if start and end:
        return f"{(end - start).total_seconds():.1f}s"
    return ""


def runs_table(runs: list[Any]) -> Table:
    table = Table(title="Runs, newest first", title_justify="left")
    for column in ("run", "pipeline", "state", "started", "duration"):
        table.add_column(column, overflow="fold")
    for run in runs:
        table.add_row(
            run.run_id,
            shown(run.pipeline_name),
            _state(run.state),
            f"{run.created_at:%Y-%m-%d %H:%M:%S}",
            _duration(run.started_at, run.finished_at),
        )
    return table


def run_detail(result: RunResult) -> list[Any]:
    """A run's summary table, then one row per task."""
    out: list[Any] = [run_table(result)]
    run = result.run
    if run.arguments:
        args = Table(title="Arguments", show_header=False, title_justify="left")
        args.add_column("name", style="bold")
        args.add_column("value", overflow="fold")
        for name, value in run.arguments.items():
            args.add_row(name, _value(value))
        out.append(args)
    tasks = Table(title="Tasks", title_justify="left")
    for column in ("task", "kind", "state", "time", "attempts", "note"):
        tasks.add_column(column, overflow="fold")
    for t in result.tasks:
        note = "cached" if t.cache_hit else (t.error or "")
        tasks.add_row(
            shown(t.path),
            t.kind,
            _state(t.state),
            _duration(t.started_at, t.finished_at),
            str(t.attempts or ""),
            shown(note),
        )
    out.append(tasks)
    if run.error:
        out.append(f"[red]Error:[/] {shown(run.error)}")
    return out
