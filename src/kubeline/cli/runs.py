"""``kubeline runs``: the runs kept in the store, listed, shown, and their tasks' logs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kubeline.cli.common import OutputFormat, OutputOption, open_cli_store, stderr, stdout
from kubeline.errors import UserError

__all__ = ["runs_app"]

runs_app = typer.Typer(
    help="Runs kept in the store: list them, show one, read logs.", no_args_is_help=True
)

#: The engine's decisions ``runs show`` prints as text (its last ones; JSON has all kept).
_EVENTS_SHOWN = 20


def _find_run(store: Any, ref: str) -> Any:
    """A run by id, by unique id prefix, or 'last' / 'latest'."""
    if ref in ("last", "latest"):
        runs = store.runs.list(limit=1)
        if not runs:
            raise UserError("There are no runs yet. Start one with 'kubeline run'.")
        return runs[0]
    run = store.runs.get(ref)
    if run is not None:
        return run
    found = store.runs.find(ref)
    if len(found) == 1:
        return found[0]
    if not found:
        raise UserError(f"No run '{ref}'. List the runs with 'kubeline runs list'.")
    raise UserError(f"'{ref}' matches {len(found)} runs; give more of the id.")


@runs_app.command("list")
def runs_list(
    limit: Annotated[int, typer.Option(min=1, help="How many runs, newest first.")] = 20,
    state: Annotated[str | None, typer.Option(help="Only runs in this state.")] = None,
    pipeline: Annotated[str | None, typer.Option(help="Only runs of this pipeline.")] = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """List runs, newest first."""
    from kubeline.cli.render import print_json, runs_table

    wanted = state.upper() if state else None
    with open_cli_store() as store:
        runs = store.runs.list(state=wanted, pipeline_name=pipeline, limit=limit)
        as_json = output is OutputFormat.json
        total = store.runs.count(state=wanted, pipeline_name=pipeline) if as_json else len(runs)
    if as_json:
        print_json({"runs": [_run_summary(r) for r in runs], "total": total})
        return
    if not runs:
        stderr().print("No runs yet. Start one with 'kubeline run'.")
        return
    stdout().print(runs_table(runs))


def _run_summary(run: Any) -> dict[str, Any]:
    seconds = (
        (run.finished_at - run.started_at).total_seconds()
        if run.finished_at and run.started_at
        else None
    )
    return {
        "run_id": run.run_id,
        "pipeline": run.pipeline_name,
        "state": run.state,
        "created_at": run.created_at.isoformat(),
        "seconds": seconds,
        "error": run.error,
    }


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="Run id, a unique prefix of it, or 'last'.")],
    output: OutputOption = OutputFormat.text,
) -> None:
    """Show a run: its state, arguments, outputs, every task, and the engine's last
    admission decisions (tasks started beyond the core count, or made to wait)."""
    from kubeline.cli.render import print_json, run_detail
    from kubeline.engine.results import RunResult

    with open_cli_store() as store:
        record = _find_run(store, run)
        result = RunResult(run=record, tasks=store.tasks.list(record.run_id))
    if output is OutputFormat.json:
        document = result.to_dict()
        document["arguments"] = record.arguments
        document["events"] = record.events
        print_json(document)
        return
    for renderable in run_detail(result):
        stdout().print(renderable)
    if record.events:
        stdout().print(_events_table(record.events, record.run_id))


def _events_table(events: list[dict[str, Any]], run_id: str) -> Any:
    """The run's last admission decisions, oldest first, with how many more there are."""
    from rich.table import Table

    from kubeline.cli.render import shown

    kept = events[-_EVENTS_SHOWN:]
    earlier = len(events) - len(kept)
    table = Table(
        title="Admission (the process's decisions about this run's tasks)",
        title_justify="left",
        caption=(
            f"{earlier} earlier decisions: kubeline runs show {run_id} --output json"
            if earlier
            else None
        ),
        caption_justify="left",
    )
    for column in ("time (UTC)", "task", "decision"):
        table.add_column(column, overflow="fold")
    for event in kept:
        at = str(event.get("at", ""))
        when = at[11:23] or at  # the time of day of an ISO timestamp
        table.add_row(shown(when), shown(event.get("task", "")), shown(event.get("message", "")))
    return table


@runs_app.command("logs")
def runs_logs(
    run: Annotated[str, typer.Argument(help="Run id, a unique prefix of it, or 'last'.")],
    task: Annotated[
        str | None, typer.Argument(help="Task name or path; default: every task.")
    ] = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Print the logs of a run's tasks (stdout and stderr, as the task wrote them)."""
    from kubeline.cli.render import print_json

    with open_cli_store() as store:
        record = _find_run(store, run)
        tasks = [t for t in store.tasks.list(record.run_id) if t.log_path]
    if task is not None:
        chosen = [t for t in tasks if task in (t.path, t.name)]
        if not chosen:
            names = ", ".join(t.path for t in tasks) or "none"
            raise UserError(
                f"Run {record.run_id} has no task '{task}' with a log. Tasks with logs: {names}."
            )
        tasks = chosen

    def text(path: str) -> str:
        file = Path(path)
        return file.read_text(encoding="utf-8", errors="replace") if file.is_file() else ""

    if output is OutputFormat.json:
        print_json(
            {
                "run_id": record.run_id,
                "tasks": [
                    {"path": t.path, "state": t.state, "log": text(t.log_path or "")} for t in tasks
                ],
            }
        )
        return
    for t in tasks:
        if len(tasks) > 1:
            sys.stdout.write(f"==> {t.path} ({t.state}) <==\n")
        if not Path(t.log_path or "").is_file():
            # A run recorded in a shared store (PostgreSQL) by another machine's engine.
            host = f" on host {record.host}" if record.host else ""
            stderr().print(
                f"Task {t.path}'s log is not on this machine: it was written to "
                f"{t.log_path}{host}.",
                markup=False,
                soft_wrap=True,
            )
            continue
        sys.stdout.write(text(t.log_path or ""))
        sys.stdout.flush()
