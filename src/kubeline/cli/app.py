"""The ``kubeline`` command. Results go to stdout, progress and messages to stderr.

Exit codes: 0 success, 1 a run or command failed, 2 a user error (bad input, unknown name,
missing file), 130 interrupted.
"""

from __future__ import annotations

import sys
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from typer.exceptions import TyperException

from kubeline import __version__
from kubeline.errors import KubelineError, UserError

__all__ = ["app", "main"]

app = typer.Typer(
    name="kubeline",
    help="Kubeflow Pipelines made easy: compile and run ML pipelines on this machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

_state = {"verbose": False}


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _stdout() -> Console:
    return Console(highlight=False)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


OutputOption = Annotated[
    OutputFormat,
    typer.Option("--output", help="text for people, json for programs (one document)."),
]
PipelineArg = Annotated[
    str,
    typer.Argument(
        help="'lifecycle' (the default), path/to/file.py:function, or a compiled .yaml/.json.",
        show_default=True,
    ),
]


def _load(ref: str) -> dict:
    """The compiled spec of a pipeline reference: a .yaml/.json file, or compiled now."""
    from kubeline.engine.spec import SPEC_SUFFIXES, load_spec

    if ref.lower().endswith(SPEC_SUFFIXES):
        return load_spec(ref)
    from kubeline.pipelines.compile import compile_to_spec

    return compile_to_spec(ref)


def _version(value: bool) -> None:
    if value:
        print(f"kubeline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show full tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    _state["verbose"] = verbose


@app.command("compile")
def compile_command(
    pipeline: PipelineArg = "lifecycle",
    output_file: Annotated[
        Path, typer.Option("-o", "--output-file", help="Where to write the pipeline YAML.")
    ] = Path("pipeline.yaml"),
    image: Annotated[
        str | None,
        typer.Option(help="Container image for the Python components (default: kubeline's)."),
    ] = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Compile a pipeline to KFP v2 YAML for the KFP UI, Vertex AI, or `kubeline run`."""
    from kubeline.pipelines.compile import compile_pipeline
    from kubeline.pipelines.image import DEFAULT_IMAGE

    spec = _load(pipeline)
    path = compile_pipeline(spec, output_file, image=image)
    name = spec["pipelineInfo"]["name"]
    executors = len(spec.get("deploymentSpec", {}).get("executors", {}))
    document = {
        "pipeline": name,
        "file": str(path),
        "image": image or DEFAULT_IMAGE,
        "executors": executors,
    }
    if output is OutputFormat.json:
        from kubeline.cli.render import print_json

        print_json(document)
    else:
        _stdout().print(
            f"Compiled [bold]{name}[/] ({executors} components, image "
            f"{document['image']}) to {path}"
        )


@app.command("run")
def run_command(
    pipeline: PipelineArg = "lifecycle",
    param: Annotated[
        list[str] | None,
        typer.Option("-p", "--param", help="A pipeline parameter as name=value (repeatable)."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every task again.")] = False,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Run a pipeline on this machine and print its results."""
    from kubeline.cli.render import TaskProgress, print_json, run_next_steps, run_table
    from kubeline.engine import parse_assignments, resolve_arguments, run_pipeline
    from kubeline.pipelines.compile import LIFECYCLE

    spec = _load(pipeline)
    arguments = resolve_arguments(spec, parse_assignments(param or []))
    if pipeline in ("", LIFECYCLE):
        from kubeline.pipelines.lifecycle import check_arguments

        check_arguments(arguments)
    err = _stderr()
    name = spec["pipelineInfo"]["name"]
    err.print(f"Running [bold]{name}[/] on this machine…")
    progress = TaskProgress(err)
    result = run_pipeline(spec, arguments, enable_caching=not no_cache, on_event=progress)
    if output is OutputFormat.json:
        print_json(result.to_dict())
    if result.state == "SUCCEEDED":
        if output is OutputFormat.text:
            out = _stdout()
            out.print(run_table(result))
            for line in run_next_steps(result):
                out.print(line, soft_wrap=True)
        return
    if result.user_error:
        raise UserError(result.error or "the run failed")
    if result.state == "CANCELED":
        err.print(f"[yellow]Run {result.run_id} was canceled.[/] Its files: {result.root}")
        raise typer.Exit(130)
    where = f" in task '{result.failed_task}'" if result.failed_task else ""
    err.print(f"[red]Run {result.run_id} failed{where}:[/] {result.error}")
    failed = next((t for t in result.tasks if t.state == "FAILED"), None)
    if failed is not None and failed.log_lines:
        err.print("[dim]Last lines of its log:[/]")
        for line in [ln for ln in failed.log_lines if ln][-10:]:
            err.print(f"  [dim]{line}[/]", soft_wrap=True, markup=False)
    err.print(f"Full log: {result.log_path}")
    raise typer.Exit(1)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app and maps errors to one line and an exit code."""
    err = _stderr()
    try:
        code = app(args=argv, prog_name="kubeline", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except TyperException as exc:  # a usage error: unknown option, bad choice...
        exc.show()
        return 2
    except (typer.Abort, KeyboardInterrupt):
        err.print("[yellow]Interrupted.[/]")
        return 130
    except UserError as exc:
        if _state["verbose"]:
            err.print(traceback.format_exc(), markup=False)
        err.print(f"[red]Error:[/] {exc}", soft_wrap=True)
        return 2
    except KubelineError as exc:
        if _state["verbose"]:
            err.print(traceback.format_exc(), markup=False)
        err.print(f"[red]Failed:[/] {exc}", soft_wrap=True)
        return 1
    except Exception as exc:
        if _state["verbose"]:
            err.print(traceback.format_exc(), markup=False)
        err.print(
            f"[red]Unexpected error:[/] {type(exc).__name__}: {exc}. "
            "Run with --verbose to see the full traceback.",
            soft_wrap=True,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
