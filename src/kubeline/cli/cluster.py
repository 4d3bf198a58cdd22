"""``kubeline cluster up|status|ui|down``: Kubeflow Pipelines on a local kind cluster.

The work is in :mod:`kubeline.deploy.kind`; this module turns its events and results into
output: results on stdout, progress, warnings and hints on stderr.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from kubeline.cli.common import OutputFormat, OutputOption, stderr, stdout
from kubeline.deploy import kind

__all__ = ["cluster_app"]

cluster_app = typer.Typer(
    help="Kubeflow Pipelines on a local kind cluster: up, status, ui, down.",
    no_args_is_help=True,
)

HEARTBEAT_SECONDS = 30.0

NameOption = Annotated[str, typer.Option("--name", help="The kind cluster's name.")]
PortOption = Annotated[
    int,
    typer.Option("--port", min=1, max=65535, help="Local port of the KFP UI's port-forward."),
]


def _config_path(name: str) -> Path:
    """Where ``up`` keeps the kind config it writes: next to the runs, one file a cluster."""
    from kubeline.engine import kubeline_home

    return kubeline_home() / "kind" / f"{name}.yaml"


def _warn(console: Console, message: str) -> None:
    console.print(Text.assemble(("Warning: ", "yellow"), message), soft_wrap=True)


def _dry_run_findings(port: int | None) -> list[kind.Finding]:
    """What can be known without running anything: PATH, inotify, this machine, the port."""
    findings = kind.check_tools()
    findings += kind.check_inotify()
    cpus, memory = kind.host_resources()
    try:
        free: int | None = shutil.disk_usage(Path.home()).free
    except OSError:
        free = None
    findings += kind.check_resources(cpus, memory, free, "This machine")
    if port is not None:
        taken = kind.check_port(port)
        if taken:
            findings.append(taken)
    return findings


class _UpProgress:
    """Renders ``up``'s events on stderr: each step, its output dimmed, and the KFP
    deployments as they become Available."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.ready: set[str] = set()
        self.last: tuple[int, int] | None = None
        self.said_at = 0.0

    def __call__(self, event: kind.UpEvent) -> None:
        out = self.console
        if event.kind == "step" and event.step is not None:
            out.print(
                Text.assemble((f"[{event.index}/{event.total}] ", "bold"), event.step.purpose)
            )
            out.print(Text(f"    $ {event.step.command}", style="dim"), soft_wrap=True)
        elif event.kind == "output":
            out.print(Text(f"    {event.line}", style="dim"), soft_wrap=True)
        elif event.kind == "warning":
            _warn(out, event.line)
        elif event.kind == "deployments" and event.deployments is not None:
            status = event.deployments
            for name in status.ready:
                if name not in self.ready:
                    self.ready.add(name)
                    out.print(Text.assemble(("    ✓ ", "green"), f"{name} is Available"))
            counts = (len(status.ready), status.total)
            # Say it when it changes, and every half minute while images are pulled.
            if counts != self.last or time.monotonic() - self.said_at >= HEARTBEAT_SECONDS:
                self.last, self.said_at = counts, time.monotonic()
                waiting = ", ".join(status.unready)
                line = f"    {counts[0]}/{counts[1]} deployments Available"
                out.print(
                    Text(line + (f"; waiting for: {waiting}" if waiting else "")),
                    soft_wrap=True,
                )


def _forward(name: str, port: int, console: Console) -> None:
    console.print(
        f"Forwarding http://127.0.0.1:{port} to the KFP UI and API. Ctrl-C stops the "
        "forward; the cluster keeps running.",
        soft_wrap=True,
    )
    kind.port_forward(
        name, port, on_line=lambda line: console.print(Text(f"    {line}", style="dim"))
    )
    console.print("Port-forward stopped.")


@cluster_app.command("up")
def up_command(
    name: NameOption = kind.DEFAULT_CLUSTER,
    kfp_version: Annotated[
        str, typer.Option("--kfp-version", help="The Kubeflow Pipelines release to install.")
    ] = kind.DEFAULT_KFP_VERSION,
    timeout: Annotated[
        int,
        typer.Option(
            "--timeout", min=1, help="Seconds for each step, and for KFP to become ready."
        ),
    ] = kind.DEFAULT_TIMEOUT,
    port: PortOption = kind.DEFAULT_PORT,
    node_image: Annotated[
        str,
        typer.Option(
            "--node-image",
            show_default=False,
            help=f"kind node image (default: {kind.KIND_NODE_IMAGE.split('@')[0]}, pinned by "
            f"digest, built for kind v{kind.KIND_RELEASE}).",
        ),
    ] = kind.KIND_NODE_IMAGE,
    port_forward: Annotated[
        bool,
        typer.Option(
            "--port-forward/--no-port-forward",
            help="End by forwarding the UI to --port (in the foreground).",
        ),
    ] = True,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print every command, run none of them.")
    ] = False,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Create a kind cluster, install Kubeflow Pipelines, wait for it, forward its UI."""
    plan = kind.plan_up(
        name,
        kfp_version,
        config_path=_config_path(name),
        port=port,
        timeout=timeout,
        node_image=node_image,
        port_forward=port_forward,
    )
    err = stderr()
    if dry_run:
        warnings = [f.message for f in _dry_run_findings(port if port_forward else None)]
        if output is OutputFormat.json:
            from kubeline.cli.render import print_json

            print_json(plan.to_dict(warnings))
        else:
            sys.stdout.write(plan.script())
            sys.stdout.flush()
        for message in warnings:
            _warn(err, message)
        err.print(
            f"Dry run: nothing was run. 'up' repeats 'kubectl ... get deployments' every "
            f"{kind.POLL_SECONDS:g} s until every deployment is Available (at most "
            f"{timeout} s).",
            soft_wrap=True,
        )
        return
    missing = [f.message for f in kind.check_tools() if f.level == "error"]
    if missing:
        raise kind.MissingToolError(" ".join(missing))
    if port_forward:
        taken = kind.check_port(port)
        if taken:
            raise kind.PortInUseError(taken.message)
    inotify = kind.check_inotify()
    for finding in inotify:
        _warn(err, finding.message)
    err.print(
        f"Creating kind cluster [bold]{plan.name}[/] with Kubeflow Pipelines "
        f"{plan.kfp_version} (a few minutes; KFP's images are pulled the first time).",
        soft_wrap=True,
    )
    result = kind.cluster_up(plan, on_event=_UpProgress(err))
    result.warnings[:0] = [f.message for f in inotify]
    if output is OutputFormat.json:
        from kubeline.cli.render import print_json

        print_json(result.to_dict())
    else:
        out = stdout()
        out.print(
            f"Kubeflow Pipelines {plan.kfp_version} is ready on kind cluster '{plan.name}' "
            f"(kubectl context {plan.context}).",
            soft_wrap=True,
        )
        out.print(f"UI and API: {plan.ui_url}", soft_wrap=True)
        out.print(
            f"Submit a compiled pipeline: kubeline submit PIPELINE.yaml --host {plan.ui_url}",
            soft_wrap=True,
        )
    if port_forward:
        _forward(plan.name, port, err)
    else:
        err.print(f"Forward the UI with: kubeline cluster ui --name {plan.name} --port {port}")


@cluster_app.command("status")
def status_command(
    name: NameOption = kind.DEFAULT_CLUSTER,
    port: PortOption = kind.DEFAULT_PORT,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Does the cluster exist, is KFP ready (n/m deployments), where is the UI."""
    status = kind.cluster_status(name, port)
    if output is OutputFormat.json:
        from kubeline.cli.render import print_json

        print_json(status.to_dict())
        return
    out = stdout()
    if not status.exists:
        others = ", ".join(status.other_clusters)
        out.print(f"No kind cluster named '{name}'.", soft_wrap=True)
        if others:
            out.print(f"Other kind clusters here: {others}.", soft_wrap=True)
        out.print(f"Create it with: kubeline cluster up --name {name}", soft_wrap=True)
        return
    out.print(f"Cluster '{name}': exists (kubectl context {status.context}).", soft_wrap=True)
    if status.error is not None:
        out.print(
            f"Its Kubernetes API does not answer ({status.error}). Is Docker running? "
            f"'docker ps' should list {name}-control-plane.",
            soft_wrap=True,
            markup=False,
        )
        return
    deployments = status.deployments or kind.DeploymentsStatus()
    if deployments.total == 0:
        out.print(
            f"Kubeflow Pipelines: not installed (no deployments in namespace "
            f"{kind.KFP_NAMESPACE}). Start over with 'kubeline cluster down --name {name}' "
            f"and 'kubeline cluster up --name {name}'.",
            soft_wrap=True,
        )
        return
    state = "ready" if deployments.all_ready else "not ready"
    out.print(
        f"Kubeflow Pipelines: {state}, {len(deployments.ready)}/{deployments.total} "
        "deployments Available.",
        soft_wrap=True,
    )
    if deployments.unready:
        out.print(f"Not Available yet: {', '.join(deployments.unready)}.", soft_wrap=True)
    forwarded = (
        "forwarded"
        if status.ui_forwarding
        else f"not forwarded; run 'kubeline cluster ui --name {name} --port {port}'"
    )
    out.print(f"UI and API: {status.ui_url} ({forwarded}).", soft_wrap=True)


@cluster_app.command("ui")
def ui_command(
    name: NameOption = kind.DEFAULT_CLUSTER, port: PortOption = kind.DEFAULT_PORT
) -> None:
    """Forward the KFP UI (and its API) to localhost, in the foreground until Ctrl-C."""
    from kubeline.errors import UserError

    kind.validate_cluster_name(name)
    if name not in kind.list_clusters():
        raise UserError(
            f"No kind cluster named '{name}': create it with 'kubeline cluster up --name {name}'."
        )
    _forward(name, port, stderr())


@cluster_app.command("down")
def down_command(
    name: NameOption = kind.DEFAULT_CLUSTER, output: OutputOption = OutputFormat.text
) -> None:
    """Delete the kind cluster NAME (only that one), with everything in it."""
    deleted = kind.cluster_down(name)
    if deleted:
        _config_path(name).unlink(missing_ok=True)
    if output is OutputFormat.json:
        from kubeline.cli.render import print_json

        print_json({"cluster": name, "deleted": deleted})
    elif deleted:
        stdout().print(f"Deleted kind cluster '{name}'.")
    else:
        stderr().print(f"No kind cluster named '{name}'; nothing to delete.")
