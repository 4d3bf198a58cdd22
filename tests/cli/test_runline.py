"""`kubeline run`'s plain command lines, read without typer (cli/runline.py): the command
gets the same values as through typer, and every other line is left to typer."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from kubeline.cli import app as cli_app
from kubeline.cli.runline import RunLine, read_run_line


class _Reached(BaseException):
    """Raised where the run command loads its pipeline, carrying the command's values."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__()
        self.values = values


@pytest.fixture
def reach(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ("pipeline", "param", "no_cache", "workers", "allow_installs", "output")

    def stop(_ref: str) -> None:
        caller = sys._getframe(1).f_locals
        raise _Reached({name: caller[name] for name in names})

    monkeypatch.setattr(cli_app, "load_pipeline", stop)
    monkeypatch.setattr(cli_app, "_import_kfp_without_client", lambda: None)


def _values(call: Any) -> dict[str, Any]:
    cli_app._state["verbose"] = False
    with pytest.raises(_Reached) as reached:
        call()
    values = reached.value.values
    return {**values, "param": values["param"] or None, "verbose": cli_app._state["verbose"]}


@pytest.mark.usefixtures("reach")
@pytest.mark.parametrize(
    "argv",
    [
        ["run", "p.yaml"],
        ["run"],
        ["-v", "run", "p.yaml", "--no-cache"],
        ["--verbose", "run", "--workers", "3", "p.yaml", "-p", "a=1", "--param", "b=2"],
        ["run", "x.py:flow", "--allow-installs", "--output", "json", "--workers=12"],
        ["run", "p.yaml", "--output=text", "-p", "a=b=c", "--param=c=3", "--no-cache"],
    ],
)
def test_a_plain_line_gives_the_command_what_typer_gives_it(argv: list[str]) -> None:
    assert read_run_line(argv) is not None
    through_typer = _values(lambda: cli_app.app(args=argv, standalone_mode=False))
    without_typer = _values(lambda: cli_app.main(argv))
    assert without_typer == through_typer


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "p.yaml", "--help"],
        ["--version"],
        ["run", "p.yaml", "--workers", "0"],
        ["run", "p.yaml", "--workers", "03"],
        ["run", "p.yaml", "--workers", "two"],
        ["run", "p.yaml", "--workers", "2", "--workers", "3"],
        ["run", "p.yaml", "--output", "xml"],
        ["run", "p.yaml", "--no-cache=yes"],
        ["run", "p.yaml", "-p"],
        ["run", "p.yaml", "-p", "--no-cache"],
        ["run", "p.yaml", "-px=1"],
        ["run", "p.yaml", "--", "-x"],
        ["run", "p.yaml", "q.yaml"],
        ["run", "p.yaml", "--unknown"],
        ["runs", "list"],
        ["compile", "p.yaml"],
        [],
    ],
)
def test_any_other_line_is_typers(argv: list[str]) -> None:
    assert read_run_line(argv) is None


def test_the_default_pipeline_is_the_lifecycle() -> None:
    assert read_run_line(["run", "--no-cache"]) == RunLine(pipeline="lifecycle", no_cache=True)
