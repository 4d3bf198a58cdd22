"""``kubeline models ...`` (the registry) and ``kubeline serve`` (the model server)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kubeline.cli.common import OutputFormat, OutputOption, open_cli_store, stderr, stdout
from kubeline.cli.secrets import TokenFileOption, TokenOption, resolve_token
from kubeline.digest import SHORT
from kubeline.errors import ConfigError

__all__ = ["models_app", "serve_command"]

models_app = typer.Typer(
    help="The model registry: every registered model version with its lineage.",
    no_args_is_help=True,
)

_HEADLINE = ("accuracy", "roc_auc", "f1", "r2", "rmse")


def _headline(metrics: dict[str, Any]) -> str:
    for name in _HEADLINE:
        if isinstance(metrics.get(name), (int, float)):
            return f"{name} {metrics[name]:.4g}"
    return ""


@models_app.command("list")
def models_list(output: OutputOption = OutputFormat.text) -> None:
    """List registered models with their newest version and aliases."""
    from kubeline.cli.render import print_json
    from kubeline.registry import model_summaries

    with open_cli_store() as store:
        rows = model_summaries(store)
    if output is OutputFormat.json:
        print_json(
            {
                "models": [
                    {
                        "name": m.model.name,
                        "versions": len(m.versions),
                        "latest": m.latest.version if m.latest else None,
                        "aliases": m.aliases,
                        "latest_metrics": m.latest.metrics if m.latest else {},
                    }
                    for m in rows
                ]
            }
        )
        return
    if not rows:
        stderr().print(
            "No models yet. A lifecycle run registers one ('kubeline run'); "
            "'kubeline models register ARTIFACT --name NAME' adds any other."
        )
        return
    table = Table(title="Registered models")
    for column in ("model", "versions", "latest", "aliases", "latest metric", "created"):
        table.add_column(column)
    for m in rows:
        table.add_row(
            m.model.name,
            str(len(m.versions)),
            str(m.latest.version) if m.latest else "",
            ", ".join(f"{k}→{v}" for k, v in sorted(m.aliases.items())),
            _headline(m.latest.metrics) if m.latest else "",
            m.model.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    stdout().print(table)


@models_app.command("show")
def models_show(
    reference: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS.")],
    output: OutputOption = OutputFormat.text,
) -> None:
    """One model version: signature, metrics, parameters, lineage, card."""
    from kubeline.cli.render import print_json
    from kubeline.registry import aliases_by_version, notes, resolve, version_dict

    with open_cli_store() as store:
        version = resolve(store, reference)
        aliases = aliases_by_version(store, version.name)
        numbers = [v.version for v in store.models.list_versions(version.name)]
    if output is OutputFormat.json:
        print_json(
            {
                **version_dict(version, aliases.get(version.version, [])),
                "versions": [{"version": n, "aliases": aliases.get(n, [])} for n in numbers],
            }
        )
        return
    out = stdout()
    table = Table(title=f"{version.name} version {version.version}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    features = version.signature.get("features") or []
    classes = version.signature.get("classes") or []
    shown = ", ".join(map(str, features[:6])) + (
        f", … ({len(features)} in all)" if len(features) > 6 else ""
    )
    rows = [
        ("aliases", ", ".join(aliases.get(version.version, [])) or "none"),
        ("created", version.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("framework", version.framework),
        ("model file", version.uri),
        ("content digest", (version.digest or "")[:SHORT]),
        ("input features", shown or "unknown"),
        ("classes", ", ".join(map(str, classes)) or "none (a regressor?)"),
        ("parameters", ", ".join(f"{k}={v}" for k, v in version.parameters.items()) or "none"),
        ("data digest", version.data_digest[:16] or "unknown"),
        ("produced by run", version.run_id or "none (registered from a file)"),
        ("model card", version.card_uri or "none"),
        ("libraries", ", ".join(f"{k} {v}" for k, v in version.libraries.items())),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    for name, value in sorted(version.metrics.items()):
        table.add_row(f"  {name}", f"{value:.4g}" if isinstance(value, float) else str(value))
    out.print(table)
    for note in notes(version):
        out.print(f"Note: {note}", markup=False, highlight=False)
    if version.run_id:
        out.print(f"Lineage: kubeline runs show {version.run_id}")
    out.print(f"Serve it: kubeline serve {version.name}:{version.version}")


@models_app.command("promote")
def models_promote(
    reference: Annotated[str, typer.Argument(help="NAME:VERSION to point the alias at.")],
    alias: Annotated[str, typer.Argument(help="The alias, e.g. production or staging.")],
    output: OutputOption = OutputFormat.text,
) -> None:
    """Point an alias (production, staging...) at a version, moving it if it was elsewhere."""
    from kubeline.cli.render import print_json
    from kubeline.registry import check_alias, resolve, set_alias

    alias = check_alias(alias)
    with open_cli_store() as store:
        version = resolve(store, reference)
        before = set_alias(store, version, alias)
    if output is OutputFormat.json:
        print_json(
            {"name": version.name, "alias": alias, "version": version.version, "was": before}
        )
        return
    moved = f" (was version {before})" if before not in (None, version.version) else ""
    stdout().print(f"{version.name}@{alias} -> version {version.version}{moved}")


@models_app.command("register")
def models_register(
    artifact: Annotated[
        str, typer.Argument(help="A Model artifact's id (from a run), or a model file path.")
    ],
    name: Annotated[
        str | None, typer.Option(help="The model name (default: what the artifact asks for).")
    ] = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Register a Model artifact of any run, or a saved model file, as a new version."""
    from kubeline.cli.render import print_json
    from kubeline.engine import kubeline_home
    from kubeline.registry import notes, register, version_dict

    with open_cli_store() as store:
        version, new = register(store, artifact, name, models_root=kubeline_home() / "models")
    if output is OutputFormat.json:
        print_json({**version_dict(version, []), "new": new})
        return
    if new:
        stdout().print(f"Registered {version.name} version {version.version}.")
    else:
        stdout().print(
            f"{version.name} version {version.version} already holds this model; "
            "nothing new was registered."
        )
    for note in notes(version):
        stderr().print(f"Note: {note}", markup=False, highlight=False)


def serve_command(
    models: Annotated[
        list[str] | None,
        typer.Argument(help="Models to serve: NAME, NAME:VERSION or NAME@ALIAS (several ok)."),
    ] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    workers: Annotated[
        int | None, typer.Option(min=1, help="Server processes (default: one per core).")
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(
            help="Serve the model file in this folder instead of registered models (how a "
            "cluster runs it: KServe fetches the model to /mnt/models).",
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="With --model-dir: the model's name.")] = "model",
    token: TokenOption = None,
    token_file: TokenFileOption = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Also answer requests that name this host (a proxy, a tunnel; repeatable; "
            "'*' for any). Loopback names and the bound address are always allowed.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve registered models over KServe's V1 and Open Inference (V2) protocols."""

    from kubeline.httpguard import is_loopback
    from kubeline.paths import local_path
    from kubeline.registry import inspect_model, model_file, resolve, version_from_metadata
    from kubeline.serving.config import check_token

    err = stderr()
    secret = resolve_token(token, token_file, warn=lambda message: _warn(err, message))
    if secret is not None:
        check_token(secret)
    if model_dir is not None:  # on a cluster: the model KServe fetched, no registry
        if models:
            raise ConfigError("Give registered models or --model-dir, not both.")
        path = model_file(model_dir.expanduser())
        versions = [
            version_from_metadata(inspect_model(path), name=name, uri=str(path), digest=None)
        ]
    elif models:
        with open_cli_store() as store:
            versions = [resolve(store, reference) for reference in models]  # all checked first
    else:
        raise ConfigError("Name the models to serve (NAME, NAME:VERSION or NAME@ALIAS).")
    from kubeline.serving import ModelEntry, ServeConfig, run_server
    from kubeline.serving.config import default_workers

    entries = []
    for version in versions:
        local = local_path(version.uri)
        if local is None:
            raise ConfigError(f"{version.name}:{version.version} is not on this machine.")
        signature = version.signature
        entries.append(
            ModelEntry(
                name=version.name,
                version=str(version.version or 1),
                path=str(model_file(local)),
                framework=version.framework or "sklearn",
                feature_names=list(signature.get("features") or []),
                feature_types=list(signature.get("types") or []),
                classes=list(signature.get("classes") or []),
                metadata={"run_id": version.run_id, "digest": version.digest},
            )
        )
    config = ServeConfig(
        models=entries,
        workers=workers or default_workers(),
        host=host,
        allow_hosts=list(allow_host or []),
        token=secret,
    )
    if secret is None and not is_loopback(host):
        _warn(
            err,
            f"serving on {host} with no token: whoever reaches this address can use the "
            "models. Give --token-file PATH (or KUBELINE_TOKEN) unless a gateway in front "
            "(KServe's) guards it.",
        )
    base = f"http://{host}:{port}"
    for entry in entries:
        err.print(
            f"{entry.name} version {entry.version}: {base}/v1/models/{entry.name}:predict "
            f"(V1), {base}/v2/models/{entry.name}/versions/{entry.version}/infer (V2)"
        )
    err.print(f"Metrics at {base}/metrics. Ctrl-C stops the server.")
    if secret is not None:
        err.print("Requests need 'Authorization: Bearer <token>' (health probes do not).")
    run_server(config, host=host, port=port)


def _warn(console: Console, message: str) -> None:
    console.print(Text.assemble(("Warning: ", "yellow"), message), soft_wrap=True)
