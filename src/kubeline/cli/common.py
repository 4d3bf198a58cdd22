"""What every command module shares: the output option, the consoles, the store."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = ["OutputFormat", "OutputOption", "open_cli_store", "stderr", "stdout"]


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


def open_cli_store() -> Any:
    """The store of ``KUBELINE_HOME``, with runs a killed process left RUNNING failed."""
    from kubeline.engine import kubeline_home
    from kubeline.engine.runner import recover_orphans
    from kubeline.store import database_url, open_store

    store = open_store(database_url(kubeline_home()))
    recover_orphans(store)
    return store
