"""What every command module shares: the output option, the consoles, the store, and how
an error ends a command (one line, the exit code of kubeline's one table)."""

from __future__ import annotations

import traceback
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from kubeline.errors import KubelineError, codes_of

if TYPE_CHECKING:  # the store (SQLAlchemy) is imported only when a command opens it
    from kubeline.store import RunStore

__all__ = ["OutputFormat", "OutputOption", "open_cli_store", "report_error", "stderr", "stdout"]


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def stdout() -> Console:
    return Console(highlight=False)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


OutputOption = Annotated[
    OutputFormat,
    typer.Option("--output", help="text for people, json for programs (one document)."),
]


def open_cli_store() -> RunStore:
    """The store of ``KUBELINE_HOME``, with runs a killed process left RUNNING failed."""
    from kubeline.engine import kubeline_home
    from kubeline.engine.runner import recover_orphans
    from kubeline.store import database_url, open_store

    store = open_store(database_url(kubeline_home()))
    if store.read_only_reason:
        stderr().print(f"[yellow]Warning:[/] {escape(store.read_only_reason)}.", soft_wrap=True)
        return store
    try:
        recover_orphans(store)
    except Exception as exc:
        from kubeline.engine.diskspace import is_disk_full

        if not is_disk_full(exc):
            raise
        stderr().print(
            "[yellow]Warning:[/] the disk holding KUBELINE_HOME is full: runs a killed "
            "process left RUNNING are marked FAILED later, once there is space.",
            soft_wrap=True,
        )
    return store


def report_error(error: BaseException, *, verbose: bool, console: Console | None = None) -> int:
    """Say ``error`` on one line of stderr (with its traceback when ``verbose``) and return
    the exit code :data:`kubeline.errors.CODES` gives it: 2 for what the user can fix, 1
    for a failed run or anything unexpected."""
    err = console or stderr()
    if verbose:
        err.print("".join(traceback.format_exception(error)), markup=False)
    code = codes_of(error).exit_code
    if not isinstance(error, KubelineError):
        err.print(
            f"[red]Unexpected error:[/] {type(error).__name__}: {escape(str(error))}. "
            "Run with --verbose to see the full traceback.",
            soft_wrap=True,
        )
    else:
        label = "Error" if code == 2 else "Failed"
        err.print(f"[red]{label}:[/] {escape(str(error))}", soft_wrap=True)
    return code


PipelineArg = Annotated[
    str,
    typer.Argument(
        help="'lifecycle' (the default), path/to/file.py:function, or a compiled .yaml/.json.",
        show_default=True,
    ),
]


def load_pipeline(ref: str) -> dict[str, Any]:
    """The compiled spec of a pipeline reference: a .yaml/.json file, or compiled now."""
    from kubeline.engine.spec import SPEC_SUFFIXES, load_spec

    if ref.lower().endswith(SPEC_SUFFIXES):
        return load_spec(ref)
    from kubeline.pipelines.compile import compile_to_spec

    return compile_to_spec(ref)
