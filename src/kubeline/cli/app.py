"""The ``kubeline`` command. Results go to stdout, progress and messages to stderr.

Exit codes: 0 success, 1 a run or command failed, 2 a user error (bad input, unknown name,
missing file), 130 interrupted.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.exceptions import TyperException

from kubeline import __version__
from kubeline.cli import prestart
from kubeline.cli.common import (
    OutputFormat,
    OutputOption,
    PipelineArg,
    load_pipeline,
    open_cli_store,
    report_error,
    stderr,
    stdout,
)
from kubeline.cli.runline import RunLine, read_run_line
from kubeline.cli.runs import runs_app
from kubeline.cli.secrets import TokenFileOption, TokenOption, resolve_token
from kubeline.discovery import DEFAULT_PORT
from kubeline.errors import UserError

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


_stderr = stderr
_stdout = stdout


def _version(value: bool) -> None:
    if value:
        print(f"kubeline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Show full tracebacks and the engine's admission of tasks."
        ),
    ] = False,
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
    from kubeline.pipelines.image import image_setting

    spec = load_pipeline(pipeline)
    path = compile_pipeline(spec, output_file, image=image)
    name = spec["pipelineInfo"]["name"]
    executors = len(spec.get("deploymentSpec", {}).get("executors", {}))
    document = {
        "pipeline": name,
        "file": str(path),
        "image": image or image_setting(),
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
    workers: Annotated[
        int | None, typer.Option(min=1, help="Tasks running at once (default: cores).")
    ] = None,
    allow_installs: Annotated[
        bool,
        typer.Option(
            "--allow-installs",
            help="Install packages a component asks for that are missing here, in "
            "a cached virtual environment.",
        ),
    ] = False,
    output: OutputOption = OutputFormat.text,
    log_cap_mb: Annotated[
        float | None,
        typer.Option(
            "--log-cap-mb",
            min=0,
            help="Keep each task's log under this many MB, its middle cut (0: no cap; "
            "default: $KUBELINE_LOG_CAP_MB or 50).",
        ),
    ] = None,
    grace_period: Annotated[
        float | None,
        typer.Option(
            "--grace-period",
            min=0,
            help="Seconds a stopped task (Ctrl-C) has to end before it and what it started "
            "are killed (default: 5; a second Ctrl-C kills at once).",
        ),
    ] = None,
    runner: Annotated[
        str,
        typer.Option(
            "--runner",
            help="Where tasks run: local (this machine's processes), or docker / podman "
            "(each task in its component's image, as on a cluster).",
        ),
    ] = "local",
    pull: Annotated[
        str,
        typer.Option(
            "--pull",
            help="With --runner docker|podman: pull images that are missing (default), "
            "always, or never.",
        ),
    ] = "missing",
    container_user: Annotated[
        str,
        typer.Option(
            "--container-user",
            help="With --runner docker|podman: run tasks as the caller (default: your "
            "uid:gid, HOME=/tmp, so they can write the run's folder), as the image's own "
            "user (image), or as UID:GID.",
        ),
    ] = "caller",
) -> None:
    """Run a pipeline on this machine and print its results."""
    from kubeline.cli.render import (
        TaskProgress,
        print_json,
        run_next_steps,
        run_table,
        shown,
    )
    from kubeline.engine import RunOptions, parse_assignments, resolve_arguments, run_pipeline
    from kubeline.engine.spec import SPEC_SUFFIXES

    compiled = pipeline.lower().endswith(SPEC_SUFFIXES)
    if compiled:
        _import_kfp_without_client()
    spec = load_pipeline(pipeline)
    arguments = resolve_arguments(spec, parse_assignments(param or []))
    if not compiled and _is_lifecycle(pipeline):
        from kubeline.pipelines.lifecycle import check_arguments

        check_arguments(arguments)
    err = _stderr()
    name = spec["pipelineInfo"]["name"]
    checked = RunOptions(runner=runner, pull=pull, container_user=container_user)
    if runner != "local":
        from kubeline.engine.containers import check_images

        checked = check_images(spec, checked, on_note=lambda line: err.print(escape(line)))
        err.print(f"Running [bold]{name}[/], each task in its image ({escape(runner)})…")
    else:
        err.print(f"Running [bold]{name}[/] on this machine…")
    progress = TaskProgress(err, verbose=_state["verbose"])
    try:
        options = RunOptions(
            enable_caching=not no_cache,
            workers=workers,
            on_event=progress,
            allow_installs=allow_installs,
            fork_server=prestart.take(),  # started by main(), when it could be
            log_cap_mb=log_cap_mb,
            grace_period=grace_period,
            runner=runner,
            pull=pull,
            container_user=container_user,
            image_ids=checked.image_ids,
        )
        result = run_pipeline(spec, arguments, options=options)
    finally:
        progress.close()
    for note in result.notes:
        err.print(f"[yellow]Note:[/] {note}", soft_wrap=True)
    if output is OutputFormat.json:
        print_json(result.to_dict())
    if result.state == "SUCCEEDED":
        if output is OutputFormat.text:
            out = _stdout()
            out.print(run_table(result))
            for line in run_next_steps(result, _registered(result.run_id, spec)):
                out.print(line, soft_wrap=True)
        return
    failed = result.failed_task
    if result.user_error and result.error_message:
        raise UserError(result.error_message)
    if result.state == "CANCELED":
        err.print(f"[yellow]Run {result.run_id} was canceled.[/] Its files: {result.root}")
        raise typer.Exit(130)
    where = f" in task '{shown(failed.path)}'" if failed else ""
    reason = shown(failed.error if failed else result.error)
    if result.error and "disk holding KUBELINE_HOME" in result.error:
        reason = shown(result.error)  # says the disk is full, and how full
    err.print(f"[red]Run {result.run_id} failed{where}:[/] {reason}", soft_wrap=True)
    if failed is not None and failed.log_path:
        tail = _tail(Path(failed.log_path), 12)
        if tail:
            err.print("[dim]Last lines of its log:[/]")
            for line in tail:
                err.print(f"  {shown(line)}", soft_wrap=True, style="dim")
        err.print(f"Full log: kubeline runs logs {result.run_id} {shown(failed.path)}")
    raise typer.Exit(1)


def _import_kfp_without_client() -> None:
    """Import the ``kfp`` package as KFP's own task containers do (``_KFP_RUNTIME=true``).

    Its ``__init__`` then skips ``kfp.client``, which imports the whole Kubernetes client
    (0.3-0.5 s), and ``kfp.dsl``; running a compiled pipeline needs neither. Later imports
    (``from kfp import dsl``, ``kfp.pipeline_spec``, ``kfp.local``) work as usual, since the
    variable is only set while the package itself is imported; only ``kfp.Client``, which
    ``kubeline run`` never uses, is then missing from this process's ``kfp``.
    """
    if "kfp" in sys.modules:
        return
    import os

    before = os.environ.get("_KFP_RUNTIME")
    os.environ["_KFP_RUNTIME"] = "true"
    try:
        import kfp  # noqa: F401 - imported for its side effect on sys.modules
    finally:
        if before is None:
            del os.environ["_KFP_RUNTIME"]
        else:
            os.environ["_KFP_RUNTIME"] = before


def _is_lifecycle(ref: str) -> bool:
    from kubeline.pipelines.compile import LIFECYCLE

    return ref in ("", LIFECYCLE)


def _tail(path: Path, lines: int) -> list[str]:
    if not path.is_file():
        return []
    # The end of the file only, and long lines cut: a log may be large, a line huge.
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - 64 * 1024))
        text = f.read().decode("utf-8", errors="replace")
    tail = [ln.rstrip() for ln in text.splitlines()[-lines:]]
    return [ln if len(ln) <= 300 else ln[:300] + " …" for ln in tail]


PortOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=65535,
        help="Port to listen on. The default was 8888 (Jupyter's) until December 2026.",
    ),
]
AllowHostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-host",
        help="Also answer requests that name this host (repeatable; '*' for any). Loopback "
        "names and the bound address are always allowed.",
        show_default=False,
    ),
]
TrustedProxyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--trusted-proxy",
        help="Address of a reverse proxy whose X-Forwarded-Proto and X-Forwarded-Host "
        "headers are believed (repeatable), e.g. 127.0.0.1 for nginx on this machine.",
        show_default=False,
    ),
]


@app.command("server")
def server_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: PortOption = DEFAULT_PORT,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
    max_runs: Annotated[int, typer.Option(min=1, help="Runs executing at once.")] = 4,
    allow_host: AllowHostOption = None,
    trusted_proxy: TrustedProxyOption = None,
    grace_period: Annotated[
        float | None,
        typer.Option(
            "--grace-period",
            min=0,
            help="Seconds a terminated run's tasks have to end before they and what they "
            "started are killed (default: 5).",
        ),
    ] = None,
    runner: Annotated[
        str,
        typer.Option(
            "--runner",
            help="Where runs' tasks run: local, or docker / podman (each in its image).",
        ),
    ] = "local",
    pull: Annotated[
        str,
        typer.Option("--pull", help="With --runner docker|podman: missing, always or never."),
    ] = "missing",
) -> None:
    """Serve the Kubeflow Pipelines v2beta1 API here, for kfp.Client and the kfp CLI."""
    secret = resolve_token(token, token_file, warn=_warn)
    _serve(
        host,
        port,
        secret,
        max_runs,
        allow_host or [],
        trusted_proxy or [],
        grace_period=grace_period,
        runner=runner,
        pull=pull,
    )


def _warn(message: str) -> None:
    _stderr().print(f"[yellow]Warning:[/] {escape(message)}", soft_wrap=True)


def _serve(
    host: str,
    port: int,
    token: str | None,
    max_runs: int,
    allow_hosts: list[str],
    trusted_proxies: list[str],
    *,
    opening: str | None = None,
    grace_period: float | None = None,
    runner: str = "local",
    pull: str = "missing",
) -> None:
    import uvicorn

    from kubeline.engine import kubeline_home
    from kubeline.server import ServerSettings, create_app

    settings = ServerSettings(
        home=kubeline_home(),
        host=host,
        port=port,
        token=token,
        max_concurrent_runs=max_runs,
        allow_hosts=tuple(allow_hosts),
        trusted_proxies=tuple(trusted_proxies),
        grace_period=grace_period,
        runner=runner,
        pull=pull,
    )
    if runner != "local":  # a wrong runner or no runtime: said now, not at the first run
        from kubeline.engine.containers import check_runner
        from kubeline.engine.executors.images import runtime_command
        from kubeline.engine.options import RunOptions

        check_runner(RunOptions(runner=runner, pull=pull))
        runtime_command(runner)
    app_ = create_app(settings)  # refuses a public address without a token
    _check_port_free(host, port)
    kept = _records_at(settings.resolved().store_url)  # a store that cannot open says so here
    shown = f"[{host}]" if ":" in host else host
    _stderr().print(
        f"kubeline server on http://{shown}:{port} (KFP API at /apis/v2beta1); "
        f"runs kept in {settings.home}{kept}. Ctrl-C stops it."
    )
    if port == DEFAULT_PORT:  # for those who bookmarked the old default
        _stderr().print(
            f"[dim]kubeline's default port is {DEFAULT_PORT} now (it was 8888, Jupyter's); "
            "--port 8888 keeps the old address.[/]",
            soft_wrap=True,
        )
    if opening is not None:
        import threading
        import webbrowser

        # Opened a moment later, once the server listens; the server keeps the terminal.
        threading.Timer(1.5, webbrowser.open, args=(opening,)).start()
    from kubeline.discovery import forget_server, record_server

    # Written down so that `kubeline.discovery.find_server` (the notebook's links, the
    # CLI's hints) finds this server; it is believed only while this instance answers.
    record = record_server(_local_url(host, port), settings.instance, home=settings.home)
    try:
        # Forwarded headers are read by kubeline's own guard, only from --trusted-proxy.
        uvicorn.run(app_, host=host, port=port, log_level="warning", proxy_headers=False)
    finally:
        forget_server(record, settings.instance)


def _local_url(host: str, port: int) -> str:
    """The address this machine reaches a server bound to ``host`` at."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _records_at(url: Any) -> str:
    """Open the server's store once, so that a wrong KUBELINE_DATABASE_URL (a bad password,
    a host that is down) is one line and exit 2, not a traceback from the server's start;
    and say where the records are when they are not in the home's SQLite file."""
    import sqlalchemy as sa

    from kubeline.store import open_store

    with open_store(url):
        pass
    where = sa.make_url(url)
    if where.get_backend_name() == "sqlite":
        return ""
    return f", records in {where.render_as_string(hide_password=True)}"


def _check_port_free(host: str, port: int) -> None:
    """Say which port is taken and what to do, instead of a server that dies on start."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        if sys.platform != "win32":  # as uvicorn does; on Windows it would allow stealing
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}. {_holder(host, port)}"
            ) from exc


def _holder(host: str, port: int) -> str:
    """Who holds the port, asked rather than guessed: it may be Jupyter's or anyone's."""
    from kubeline.discovery import kubeline_at

    url = _local_url(host, port)
    if kubeline_at(url) is not None:
        return f"A kubeline server already answers at {url}: use it, or pass another --port."
    return "Another server may be using it: stop it, or pass another --port."


@app.command("ui")
def ui_command(
    port: PortOption = DEFAULT_PORT,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the UI in the web browser.")
    ] = True,
    token_file: TokenFileOption = None,
    no_token: Annotated[
        bool,
        typer.Option(
            "--no-token",
            help="No sign-in: anyone with an account on this machine can use the UI.",
        ),
    ] = False,
) -> None:
    """Start the server on this machine and open its web UI in the browser, signed in."""
    import secrets

    token = None if no_token else resolve_token(None, token_file)
    if token is None and not no_token:
        # A fresh token per launch, as Jupyter does: other users of this machine can
        # reach loopback ports too. The browser we open is signed in by the link.
        token = secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{port}/"
    link = f"{url}login?token={token}" if token else url
    err = _stderr()
    err.print(f"kubeline UI at {url}")
    if token:
        err.print(f"Sign in with this link (it holds this launch's token): {link}", soft_wrap=True)
        err.print(
            "kfp.Client needs existing_token=<the token in the link> here; `kubeline server` "
            "serves the API on loopback without one.",
            soft_wrap=True,
        )
    _serve("127.0.0.1", port, token, 4, [], [], opening=link if open_browser else None)


app.add_typer(runs_app, name="runs")


def _registered(run_id: str, spec: dict[str, Any]) -> list[tuple[str, int]]:
    """(name, version) of the models a run registered. Only a Model output can be, so for
    a pipeline without one the store is not opened a second time (10-20 ms)."""
    from kubeline.registry.versions import MODEL_SCHEMA

    outputs = (
        artifact.get("artifactType", {}).get("schemaTitle")
        for component in spec.get("components", {}).values()
        for artifact in component.get("outputDefinitions", {}).get("artifacts", {}).values()
    )
    if MODEL_SCHEMA not in outputs:
        return []
    with open_cli_store() as store:
        return [(v.name, v.version) for v in store.models.versions_of_run(run_id)]


#: The commands this module defines. For them, ``main`` does not import the command
#: modules (models, cluster, deploy: kind, rich tables, hashing...): ``kubeline run`` is
#: timed by its users, whole process, and pays for what it imports.
_OWN_COMMANDS = frozenset({"compile", "run", "server", "ui", "runs"})


def _add_command_modules() -> None:
    """Add the model, cluster, deploy and submit commands to :data:`app`, each once."""
    from kubeline.cli import cluster, deploy, models, submit

    groups = {"models": models.models_app, "cluster": cluster.cluster_app}
    groups["deploy"] = deploy.deploy_app
    present = {group.name for group in app.registered_groups}
    for name, group in groups.items():
        if name not in present:
            app.add_typer(group, name=name)
    commands = {command.name for command in app.registered_commands}
    if "serve" not in commands:
        app.command("serve")(models.serve_command)
    if "submit" not in commands:
        app.command("submit")(submit.submit_command)


def _run_line(line: RunLine) -> None:
    """Run ``kubeline run`` with the values typer would have given it (without typer's
    pydantic conversion: see :mod:`kubeline.cli.runline`)."""
    _state["verbose"] = line.verbose
    run_command(
        pipeline=line.pipeline,
        param=list(line.param) or None,
        no_cache=line.no_cache,
        workers=line.workers,
        allow_installs=line.allow_installs,
        output=OutputFormat(line.output),
    )


def _command_of(argv: list[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option (the root's
    options are flags: ``--verbose``, ``-v``, ``--version``, ``--help``)."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app and maps errors to one line and an exit code.

    Without ``argv`` it is the ``kubeline`` program, whose process ends on return: the
    objects it made are then frozen out of the garbage collector (:func:`gc.freeze`), so
    that the interpreter's shutdown does not walk every module kfp, SQLAlchemy and the
    rest imported (0.1-0.3 s of a one-task ``kubeline run`` on 2 busy cores; objects still
    get their refcount cleanup: files are flushed and closed as usual).
    """
    err = _stderr()
    words = sys.argv[1:] if argv is None else argv
    if _command_of(words) == "run" and argv is None:
        # `kill PID` (SIGTERM: a service manager, `timeout`, a CI job ending) stops a run as
        # Ctrl-C does: its tasks are stopped and the run is recorded CANCELED.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    line = read_run_line(words)  # a plain `kubeline run` line, read without typer
    prestart.start_early(line)  # `kubeline run FILE`: the warm parent's imports begin now
    if _command_of(words) not in _OWN_COMMANDS:
        _add_command_modules()  # also for `kubeline --help` and unknown commands
    try:
        if line is not None:
            _run_line(line)
            return 0
        code = app(args=argv, prog_name="kubeline", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except TyperException as exc:  # a usage error: unknown option, bad choice...
        # typer's (vendored click) usage errors print themselves with the usage line; the
        # base class declares no show(), so a bare TyperException prints its message.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(exc.format_message(), markup=False, highlight=False)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        err.print("[yellow]Interrupted.[/]")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence prints, not crashes
        return report_error(exc, verbose=_state["verbose"], console=err)
    finally:
        prestart.close()  # the command ended before its run took the parent
        if argv is None:
            import gc

            gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
