"""How an error ends a command: one line on stderr, the exit code of kubeline's table."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from kubeline.cli.common import report_error
from kubeline.errors import ConfigError, NotFoundError, RunFailedError


def _report(error: BaseException, verbose: bool = False) -> tuple[int, str]:
    console = Console(file=io.StringIO(), width=100, highlight=False)
    try:
        raise error
    except BaseException as exc:  # noqa: BLE001 - the report reads the live traceback
        code = report_error(exc, verbose=verbose, console=console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (ConfigError("--workers must be 1 or more"), 2, "Error: --workers must be 1 or more"),
        (NotFoundError("No run 'x'."), 2, "Error: No run 'x'."),
        (RunFailedError("task fit failed"), 1, "Failed: task fit failed"),
        (KeyError("k"), 1, "Unexpected error: KeyError: 'k'. Run with --verbose"),
    ],
    ids=["user", "not-found", "run-failed", "unexpected"],
)
def test_one_line_and_the_tables_exit_code(error: BaseException, code: int, line: str) -> None:
    got, text = _report(error)
    assert got == code
    assert text.startswith(line) and "Traceback" not in text


def test_verbose_adds_the_traceback() -> None:
    code, text = _report(ConfigError("[bold]x[/]"), verbose=True)
    assert code == 2 and "Traceback" in text and "Error: [bold]x[/]" in text  # markup shown
