"""Turn results into rich output. Only this module and the command functions print."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from kubeline.engine.results import RunResult, TaskEvent

__all__ = ["TaskProgress", "print_json", "run_next_steps", "run_table"]

_MARK = {
    "SUCCEEDED": "[green]✓[/]",
    "FAILED": "[red]✗[/]",
    "SKIPPED": "[dim]-[/]",
    "CANCELED": "[yellow]■[/]",
}


def print_json(document: Any) -> None:
    """One JSON document on stdout (``--output json``)."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


class TaskProgress:
    """Per-task progress on stderr: a line when a task starts and when it ends."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._started: dict[str, list[float]] = {}
        self.finished = 0

    def __call__(self, event: TaskEvent) -> None:
        now = time.perf_counter()
        if event.kind == "cached":
            self.finished += 1
            self._console.print(f"  [green]✓[/] {event.task} [dim](cached)[/]", highlight=False)
            return
        if event.kind == "started":
            self._started.setdefault(event.task, []).append(now)
            self._console.print(f"  [dim]…[/] {event.task}", highlight=False)
            return
        starts = self._started.get(event.task) or [now]
        seconds = now - starts.pop(0)
        self.finished += 1
        mark = _MARK.get(event.state, event.state)
        self._console.print(f"  {mark} {event.task} [dim]{seconds:.1f}s[/]", highlight=False)


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
    table.add_row("time", f"{result.seconds:.1f} s, {len(result.tasks)} tasks")
    for name, value in result.outputs.items():
        metadata = value.get("metadata") if isinstance(value, dict) else None
        if isinstance(metadata, dict) and value.get("type") == "system.Metrics":
            for metric, score in metadata.items():
                if isinstance(score, float) and metric != "test_rows":
                    table.add_row(f"  {metric}", f"{score:.4f}")
            continue
        table.add_row(name, _value(value))
    return table


def _find(root: Path, task: str, output: str) -> Path | None:
    hits = sorted(root.glob(f"artifacts/*/{task}/{output}"))
    return hits[0] if hits else None


def run_next_steps(result: RunResult) -> list[str]:
    """Where to look next, for a newcomer: reports, card and log of this run."""
    lines = [f"Run folder:  {result.root}", f"Run log:     {result.log_path}"]
    for label, task, output in (
        ("Data profile", "explore", "report"),
        ("Evaluation", "evaluate", "report"),
        ("Leaderboard", "select-best", "leaderboard"),
        ("Model card", "register-model", "card"),
        ("Model", "register-model", "registered"),
        ("Rejection", "reject-model", "notice"),
    ):
        path = _find(result.root, task, output)
        if path is not None:
            lines.append(f"{label + ':':<12} {path}")
    return lines
