"""``kubeline deploy kserve`` (a KServe manifest for a registered model) and the Vertex AI
side of ``kubeline submit`` (:func:`vertex_submit`, wired into ``submit_command``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from kubeline.cli.common import OutputFormat, OutputOption, open_cli_store, stderr, stdout
from kubeline.errors import ConfigError, UserError

__all__ = [
    "DryRunOption",
    "PipelineRootOption",
    "ProjectOption",
    "RegionOption",
    "ServiceAccountOption",
    "VertexOption",
    "deploy_app",
    "kserve_command",
    "vertex_submit",
]


deploy_app = typer.Typer(
    help="Take a registered model to a cluster: KServe manifests.", no_args_is_help=True
)

#: How long ``kubectl apply`` may take before we say so.
KUBECTL_TIMEOUT_SECONDS = 120

#: The --protocol and --runtime words, as the literal types inference_service takes.
_PROTOCOLS: dict[str, Literal["v1", "v2"]] = {"v1": "v1", "v2": "v2"}
_RUNTIMES: dict[str, Literal["auto", "kubeline", "sklearn"]] = {
    "auto": "auto",
    "kubeline": "kubeline",
    "sklearn": "sklearn",
}

_KUBECTL_HINT = (
    "kubectl is not installed (or not on PATH). Install it ('gcloud components install "
    "kubectl', or see https://kubernetes.io/docs/tasks/tools/), or leave out --apply and "
    "apply the manifest yourself with 'kubectl apply -f FILE'."
)


def _kubectl_apply(path: Path) -> str:
    """``kubectl apply -f path``; its output, or a UserError with kubectl's own message."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise UserError(_KUBECTL_HINT)
    try:
        done = subprocess.run(
            [kubectl, "apply", "-f", str(path)],
            capture_output=True,
            text=True,
            timeout=KUBECTL_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise UserError(
            f"'kubectl apply' did not answer in {KUBECTL_TIMEOUT_SECONDS} s: is the cluster "
            "reachable ('kubectl cluster-info')?"
        ) from exc
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        message = reason[-1] if reason else f"exit code {done.returncode}"
        hint = ""
        if "InferenceService" in message and "no matches for kind" in message:
            hint = " KServe is not installed on this cluster: install it first (docs/guide-gcp.md)."
        raise UserError(f"kubectl apply failed: {message}.{hint}")
    return done.stdout.strip()


@deploy_app.command("kserve")
def kserve_command(
    model: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS.")],
    storage_uri: Annotated[
        str | None,
        typer.Option(
            "--storage-uri",
            help="Where the cluster fetches the model: gs://, s3:// or pvc:// (default: the "
            "registry's URI, if it is one of those).",
        ),
    ] = None,
    namespace: Annotated[str, typer.Option(help="Kubernetes namespace.")] = "default",
    protocol: Annotated[
        str, typer.Option(help="v1 (KServe's) or v2 (Open Inference Protocol).")
    ] = "v1",
    name: Annotated[
        str | None, typer.Option(help="InferenceService name (default: from the model name).")
    ] = None,
    min_replicas: Annotated[int, typer.Option(min=0, help="Fewest pods (0: scale to zero).")] = 1,
    max_replicas: Annotated[int, typer.Option(min=1, help="Most pods.")] = 1,
    cpu: Annotated[str, typer.Option(help="CPU request.")] = "100m",
    memory: Annotated[str, typer.Option(help="Memory request.")] = "512Mi",
    cpu_limit: Annotated[str, typer.Option(help="CPU limit.")] = "1",
    memory_limit: Annotated[str, typer.Option(help="Memory limit.")] = "1Gi",
    image: Annotated[
        str | None,
        typer.Option(help="Predictor image instead of the runtime's (one with kubeline in it)."),
    ] = None,
    runtime: Annotated[
        str,
        typer.Option(
            help="kubeline (kubeline serve in kubeline's image), sklearn (KServe's stock "
            "runtime), or auto: kubeline for models made with kubeline.",
        ),
    ] = "auto",
    output_file: Annotated[
        Path | None,
        typer.Option("-o", "--output-file", help="Write the manifest here (default: stdout)."),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Run 'kubectl apply -f' on the manifest.")
    ] = False,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Write a KServe InferenceService for a registered model (and apply it with --apply)."""
    from kubeline.cli.render import print_json
    from kubeline.deploy.kserve import inference_service, to_yaml
    from kubeline.ml._files import write_text
    from kubeline.pipelines.image import image_setting
    from kubeline.registry import resolve

    wire = _PROTOCOLS.get(protocol)
    if wire is None:
        raise ConfigError(f"--protocol is v1 or v2, not '{protocol}'.")
    with open_cli_store() as store:
        version = resolve(store, model)
    server = _RUNTIMES.get(runtime)
    if server is None:
        raise ConfigError(f"The runtime is kubeline or sklearn, not '{runtime}'.")
    manifest = inference_service(
        version,
        storage_uri=storage_uri,
        namespace=namespace,
        protocol=wire,
        name=name,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        resources={
            "requests": {"cpu": cpu, "memory": memory},
            "limits": {"cpu": cpu_limit, "memory": memory_limit},
        },
        image=image,
        runtime=server,
        default_image=image_setting(),
    )
    text = to_yaml(manifest)
    written: Path | None = None
    if output_file is not None:
        written = output_file.expanduser()
        if written.is_dir():
            raise ConfigError(f"'{written}' is a folder; give a file name such as model.yaml.")
        write_text(written, text)
    applied: str | None = None
    if apply:
        if written is not None:
            applied = _kubectl_apply(written)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "inferenceservice.yaml"
                path.write_text(text, encoding="utf-8")
                applied = _kubectl_apply(path)
    err = stderr()
    if output is OutputFormat.json:
        print_json(
            {
                "model": version.name,
                "version": version.version,
                "manifest": manifest,
                "file": str(written) if written else None,
                "applied": apply,
                "kubectl": applied,
            }
        )
    elif apply:
        stdout().print(applied or "applied", markup=False, soft_wrap=True)
    elif written is None:
        stdout().out(text, end="", highlight=False)
    else:
        stdout().print(
            f"Wrote {manifest['kind']} {manifest['metadata']['name']} to {written}", markup=False
        )
    if not apply and output is OutputFormat.text:
        where = str(written) if written else "FILE"
        err.print(f"Apply it with: kubectl apply -f {where}", soft_wrap=True)


# Options for ``kubeline submit --vertex`` (added to submit_command in cli/app.py).
VertexOption = Annotated[
    bool,
    typer.Option(
        "--vertex",
        help="Run on Vertex AI Pipelines instead of a KFP host (needs kubeline[gcp]).",
    ),
]
ProjectOption = Annotated[
    str | None,
    typer.Option(envvar="GOOGLE_CLOUD_PROJECT", help="Google Cloud project id (--vertex)."),
]
RegionOption = Annotated[
    str | None,
    typer.Option(envvar="GOOGLE_CLOUD_REGION", help="Vertex AI region (--vertex)."),
]
PipelineRootOption = Annotated[
    str | None,
    typer.Option(
        "--pipeline-root",
        help="gs://BUCKET/path where Vertex AI keeps the run's artifacts (--vertex).",
    ),
]
ServiceAccountOption = Annotated[
    str | None,
    typer.Option(
        "--service-account",
        help="Service account the run's steps act as (--vertex; default: Compute Engine's).",
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Print the Vertex AI job as JSON; submit nothing."),
]


def _vertex_template(
    spec: dict[str, Any], source: str | None, image: str | None, job_id: str
) -> Path:
    """The file Vertex AI reads the pipeline from.

    A compiled .yaml/.json (``source``) is used as it is; a pipeline compiled now, or one
    given a new image, is written to ``KUBELINE_HOME/vertex/JOB_ID.yaml``, kept so that what
    was submitted can be looked at later.
    """
    from kubeline.engine import kubeline_home
    from kubeline.pipelines.compile import compile_pipeline

    if source is not None and not image:
        return Path(source).expanduser().resolve()
    return compile_pipeline(spec, kubeline_home() / "vertex" / f"{job_id}.yaml", image=image)


def _note_default_image(spec: dict[str, Any], image: str | None) -> None:
    """Say so when steps would run in kubeline's image ($KUBELINE_IMAGE or the default):
    Vertex AI must be able to pull it."""
    from kubeline.pipelines.image import image_setting

    default = image_setting()
    executors = spec.get("deploymentSpec", {}).get("executors", {}).values()
    if not image and any(e.get("container", {}).get("image") == default for e in executors):
        stderr().print(
            f"Note: the pipeline's steps run in {default}. To run your own build, push "
            "it (cloudbuild.yaml) and compile with 'kubeline compile --image IMAGE'.",
            soft_wrap=True,
            markup=False,
        )


def vertex_submit(
    pipeline: str = "lifecycle",
    *,
    project: str | None,
    region: str | None,
    pipeline_root: str | None,
    param: list[str] | None = None,
    service_account: str | None = None,
    run_name: str | None = None,
    experiment: str | None = None,
    enable_caching: bool | None = None,
    labels: dict[str, str] | None = None,
    image: str | None = None,
    dry_run: bool = False,
    wait: bool = False,
    output: OutputFormat = OutputFormat.text,
) -> None:
    """``kubeline submit --vertex``: check, then submit (or with ``dry_run`` print) the job.

    ``experiment`` ``"Default"`` (``kubeline submit``'s KFP default) means none: Vertex AI
    experiment names are lowercase.
    """
    from kubeline.cli.render import print_json
    from kubeline.deploy.vertex import (
        build_pipeline_job,
        check_pipeline_root,
        check_project,
        check_region,
        check_service_account,
        job_id_for,
        load_aiplatform,
        submit_pipeline_job,
    )
    from kubeline.engine import parse_assignments, resolve_arguments
    from kubeline.engine.spec import SPEC_SUFFIXES, load_spec
    from kubeline.pipelines.compile import compile_to_spec

    # Settings first: a wrong flag, or a missing SDK, is reported before any compiling.
    check_project(project)
    check_region(region)
    check_pipeline_root(pipeline_root)
    check_service_account(service_account)
    if experiment == "Default":
        experiment = None
    aiplatform = None if dry_run else load_aiplatform()
    source = pipeline if pipeline.lower().endswith(SPEC_SUFFIXES) else None
    spec = load_spec(pipeline) if source else compile_to_spec(pipeline)
    parameters = parse_assignments(param or [])
    resolve_arguments(spec, parameters)  # before anything is written
    pipeline_name = str(spec["pipelineInfo"]["name"])
    job_id = job_id_for(pipeline_name, datetime.now(timezone.utc))
    template = _vertex_template(spec, source, image, job_id)
    request = build_pipeline_job(
        spec,
        template,
        project=project,
        region=region,
        pipeline_root=pipeline_root,
        parameters=parameters,
        display_name=run_name,
        enable_caching=enable_caching,
        service_account=service_account,
        labels=labels,
        experiment=experiment,
        job_id=job_id,
    )
    err = stderr()
    _note_default_image(spec, image)
    if dry_run:
        print_json({"dry_run": True, **request.to_dict()})
        err.print(
            f"Dry run: nothing was submitted. Without --dry-run this creates Vertex AI "
            f"pipeline job {request.job_id} in {project}/{region}.",
            soft_wrap=True,
        )
        return
    err.print(f"Submitting {pipeline_name} to Vertex AI ({project}, {region})…")
    result = submit_pipeline_job(request, wait=wait, aiplatform=aiplatform)
    err.print(f"Submitted pipeline job {result['job_id']}: {result['console_url']}")
    if wait:
        err.print(f"Pipeline job {result['job_id']} ended {result['state']}.")
    if output is OutputFormat.json:
        print_json({**result, "template_path": str(template)})
    else:
        stdout().print(result["console_url"], soft_wrap=True)
    if wait and result["state"] != "PIPELINE_STATE_SUCCEEDED":
        raise typer.Exit(1)
