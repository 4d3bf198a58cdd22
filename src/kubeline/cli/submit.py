"""``kubeline submit``: run a pipeline on any KFP-compatible host through kfp.Client, or on
Vertex AI (``--vertex``)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kubeline.cli.common import (
    OutputFormat,
    OutputOption,
    PipelineArg,
    load_pipeline,
    stderr,
    stdout,
)
from kubeline.cli.deploy import (
    DryRunOption,
    PipelineRootOption,
    ProjectOption,
    RegionOption,
    ServiceAccountOption,
    VertexOption,
)
from kubeline.errors import UserError

__all__ = ["submit_command"]


def submit_command(
    pipeline: PipelineArg = "lifecycle",
    host: Annotated[
        str,
        typer.Option(
            help="The KFP API: kubeline server's (http://127.0.0.1:8740 by default), or a "
            "cluster's (http://127.0.0.1:8080 with 'kubeline cluster ui').",
        ),
    ] = "",
    param: Annotated[
        list[str] | None,
        typer.Option("-p", "--param", help="A pipeline parameter as name=value (repeatable)."),
    ] = None,
    experiment: Annotated[str, typer.Option(help="Experiment to run in.")] = "Default",
    run_name: Annotated[str | None, typer.Option(help="The run's display name.")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="KUBELINE_TOKEN", help="Bearer token for the host.")
    ] = None,
    cookie: Annotated[
        str | None,
        typer.Option(
            envvar="KUBELINE_COOKIE",
            help="Cookies for a KFP behind a login proxy (Kubeflow's Dex), as 'name=value'.",
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to end.")] = False,
    timeout: Annotated[int, typer.Option(help="Seconds to wait with --wait.")] = 3600,
    output: OutputOption = OutputFormat.text,
    vertex: VertexOption = False,
    project: ProjectOption = None,
    region: RegionOption = None,
    pipeline_root: PipelineRootOption = None,
    service_account: ServiceAccountOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Run a pipeline on any KFP-compatible host (kfp.Client), or on Vertex AI (--vertex)."""
    import tempfile

    if vertex:
        from kubeline.cli.deploy import vertex_submit

        vertex_submit(
            pipeline,
            project=project,
            region=region,
            pipeline_root=pipeline_root,
            param=param,
            service_account=service_account,
            run_name=run_name,
            experiment=experiment,
            dry_run=dry_run,
            wait=wait,
            output=output,
        )
        return
    if dry_run or pipeline_root or service_account:
        raise UserError("--pipeline-root, --service-account and --dry-run go with --vertex.")

    from kubeline.cli.render import print_json
    from kubeline.engine import parse_assignments, resolve_arguments
    from kubeline.pipelines.compile import compile_pipeline

    if not host:
        raise UserError(_name_the_host())
    spec = load_pipeline(pipeline)
    arguments = resolve_arguments(spec, parse_assignments(param or []))
    client = _kfp_client(host, token, cookie)
    # kfp.Client prints links on stdout; keep stdout for results (--output json).
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(sys.stderr):
        package = compile_pipeline(spec, Path(tmp) / "pipeline.yaml")
        try:
            run = client.create_run_from_pipeline_package(
                str(package),
                arguments=arguments,
                run_name=run_name,
                experiment_name=experiment,
                enable_caching=None,
            )
        except Exception as exc:  # the host's refusal, said in one line
            raise UserError(f"The host refused the run: {_api_message(exc)}") from exc
    link = f"{host.rstrip('/')}/#/runs/details/{run.run_id}"
    err = stderr()
    err.print(f"Submitted run {run.run_id}: {link}")
    document = {"run_id": run.run_id, "host": host, "link": link, "state": None}
    if wait:
        with contextlib.redirect_stdout(sys.stderr):
            done = client.wait_for_run_completion(run.run_id, timeout=timeout)
        document["state"] = done.state
        err.print(f"Run {run.run_id} ended {done.state}.")
    if output is OutputFormat.json:
        print_json(document)
    else:
        stdout().print(link)
    if wait and document["state"] != "SUCCEEDED":
        raise typer.Exit(1)


def _name_the_host() -> str:
    """What to pass as --host: a kubeline server that answers (asked, not guessed from a
    port), else how to start one."""
    from kubeline.discovery import DEFAULT_URL, find_server

    running = find_server()
    if running:
        return f"Name the KFP host with --host: a kubeline server answers at {running}."
    return (
        f"Name the KFP host with --host, e.g. --host {DEFAULT_URL} after starting "
        "'kubeline server'."
    )


def _kfp_client(host: str, token: str | None, cookie: str | None = None) -> Any:
    import warnings

    import kfp

    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore", FutureWarning)  # "needs KFP >= 2.0.0-beta.2"
            return kfp.Client(host=host, existing_token=token, cookies=cookie)
    except Exception as exc:  # an unreachable host is the user's to fix
        raise UserError(f"Cannot reach a KFP API at {host}: {_api_message(exc)}") from exc


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if body:
        try:
            import json

            return json.loads(body).get("message") or str(body)
        except (ValueError, AttributeError):
            return str(body)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
