"""Run a compiled pipeline on Vertex AI Pipelines: the ``PipelineJob`` request, checked here
before Google sees it, and its submission through ``google-cloud-aiplatform``.

The request is plain data (:class:`VertexJobRequest`), so ``--dry-run`` shows exactly what
would be sent, and tests check it, without the SDK installed. The SDK is imported only to
submit (``pip install 'kubeline[gcp]'``).

Facts about the service used here, from Vertex AI's REST reference (``projects.locations.
pipelineJobs.create``) and the SDK's ``google/cloud/aiplatform/pipeline_jobs.py``: a job id
matches ``^[a-z][-a-z0-9]{0,127}$``; display names are at most 128 characters;
``enable_caching`` sets ``cachingOptions.enableCache`` on every task of the spec; the
runtime config carries ``gcsOutputDirectory`` and ``parameterValues``.
"""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kubeline.errors import ConfigError, UserError

__all__ = [
    "GCP_EXTRA_HINT",
    "VertexJobRequest",
    "build_pipeline_job",
    "check_labels",
    "check_pipeline_root",
    "check_project",
    "check_region",
    "check_service_account",
    "console_url",
    "job_id_for",
    "load_aiplatform",
    "submit_pipeline_job",
]

GCP_EXTRA_HINT = "pip install 'kubeline[gcp]'"

# Project ids: 6 to 30 characters, lowercase letters, digits and hyphens, starting with a
# letter and not ending with a hyphen; old domain-scoped projects add "example.com:".
_PROJECT = re.compile(r"^(?:[a-z][-a-z0-9.]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$")
# Regions: us-central1, europe-west4, northamerica-northeast1, ...
_REGION = re.compile(r"^[a-z]+(?:-[a-z]+)+[0-9]+$")
# Cloud Storage bucket names: 3 to 63 characters (222 with dots), lowercase.
_GCS_URI = re.compile(r"^gs://(?P<bucket>[a-z0-9][-a-z0-9_.]{1,220}[a-z0-9])(?:/(?P<path>.*))?$")
_JOB_ID = re.compile(r"^[a-z][-a-z0-9]{0,127}$")
_SERVICE_ACCOUNT = re.compile(r"^[a-z0-9][-a-z0-9_.]*@[a-z0-9][-a-z0-9.]*\.gserviceaccount\.com$")
# Google Cloud labels: lowercase keys starting with a letter; keys and values at most 63
# characters of lowercase letters, digits, '_' and '-'; at most 64 labels.
_LABEL_KEY = re.compile(r"^[a-z][-_a-z0-9]{0,62}$")
_LABEL_VALUE = re.compile(r"^[-_a-z0-9]{0,63}$")
_MAX_DISPLAY_NAME = 128
_EXPERIMENT = re.compile(r"^[a-z0-9][-a-z0-9]{0,127}$")


def check_project(project: str | None) -> str:
    """A Google Cloud project id, or a ConfigError that says what a valid one looks like."""
    if not project:
        raise ConfigError(
            "Name the Google Cloud project with --project PROJECT_ID (see 'gcloud projects "
            "list'), or set GOOGLE_CLOUD_PROJECT."
        )
    if not _PROJECT.match(project):
        raise ConfigError(
            f"'{project}' is not a Google Cloud project id: use the id (6 to 30 lowercase "
            "letters, digits or '-', starting with a letter), not the project's name or number."
        )
    return project


def check_region(region: str | None) -> str:
    if not region:
        raise ConfigError("Name the Vertex AI region with --region, e.g. --region us-central1.")
    if not _REGION.match(region):
        raise ConfigError(
            f"'{region}' is not a Google Cloud region: use one such as us-central1 or "
            "europe-west4 (a region, not a zone like us-central1-a, and not 'global')."
        )
    return region


def check_pipeline_root(root: str | None) -> str:
    """Vertex AI keeps every artifact under the pipeline root: a Cloud Storage folder."""
    if not root:
        raise ConfigError(
            "Give the folder where Vertex AI keeps the run's artifacts: "
            "--pipeline-root gs://BUCKET/pipeline-root (create the bucket with "
            "'gcloud storage buckets create gs://BUCKET --location REGION')."
        )
    if not root.startswith("gs://"):
        raise ConfigError(
            f"--pipeline-root must be a Cloud Storage URI starting with gs://, not '{root}': "
            "Vertex AI cannot write artifacts to this machine."
        )
    if not _GCS_URI.match(root):
        raise ConfigError(
            f"'{root}' does not name a Cloud Storage bucket: use gs://BUCKET/path with a "
            "bucket name of lowercase letters, digits, '-', '_' and '.'."
        )
    return root


def check_service_account(account: str | None) -> str | None:
    if account and not _SERVICE_ACCOUNT.match(account):
        raise ConfigError(
            f"'{account}' is not a service account email: it looks like "
            "NAME@PROJECT_ID.iam.gserviceaccount.com."
        )
    return account or None


def check_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    """Labels as Google Cloud accepts them; refused here with the rule rather than by the API."""
    result = {str(k): str(v) for k, v in (labels or {}).items()}
    if len(result) > 64:
        raise ConfigError(f"{len(result)} labels given; Google Cloud accepts at most 64.")
    for key, value in result.items():
        if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            raise ConfigError(
                f"Label '{key}={value}' is not valid on Google Cloud: keys start with a "
                "lowercase letter; keys and values use at most 63 lowercase letters, digits, "
                "'_' and '-'."
            )
    return result


def job_id_for(pipeline_name: str, now: datetime | None = None) -> str:
    """A job id as the SDK would make it (pipeline name + timestamp), checked up front."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d%H%M%S")
    base = re.sub(r"[^-0-9a-z]+", "-", pipeline_name.lower()).strip("-") or "pipeline"
    if not base[0].isalpha():
        base = f"p-{base}"
    return f"{base[: 127 - len(stamp)].rstrip('-')}-{stamp}"


def console_url(project: str, region: str, job_id: str) -> str:
    """Where the run shows in the Google Cloud console."""
    return (
        f"https://console.cloud.google.com/vertex-ai/locations/{region}/pipelines/runs/"
        f"{job_id}?project={project}"
    )


@dataclass(frozen=True)
class VertexJobRequest:
    """What submitting a pipeline to Vertex AI sends.

    ``job_kwargs`` are the keyword arguments of ``aiplatform.PipelineJob(...)``,
    ``submit_kwargs`` those of its ``.submit(...)``, and ``rest`` the HTTP request the SDK
    makes from them (``POST .../pipelineJobs`` with the PipelineJob body).
    """

    job_kwargs: dict[str, Any]
    submit_kwargs: dict[str, Any]
    rest: dict[str, Any]

    @property
    def job_id(self) -> str:
        return str(self.job_kwargs["job_id"])

    @property
    def console_url(self) -> str:
        return console_url(self.job_kwargs["project"], self.job_kwargs["location"], self.job_id)

    def to_dict(self) -> dict[str, Any]:
        """The dry run's JSON document."""
        return {
            "pipeline_job": self.job_kwargs,
            "submit": self.submit_kwargs,
            "rest_request": self.rest,
            "console_url": self.console_url,
        }


def _with_caching(spec: dict[str, Any], enable: bool) -> dict[str, Any]:
    """The spec with every task's cache switched as ``PipelineJob(enable_caching=...)`` does."""
    spec = copy.deepcopy(spec)
    for component in [spec.get("root", {}), *spec.get("components", {}).values()]:
        for task in component.get("dag", {}).get("tasks", {}).values():
            task["cachingOptions"] = {"enableCache": enable}
    return spec


def build_pipeline_job(
    spec: dict[str, Any],
    template_path: str | Path,
    *,
    project: str | None,
    region: str | None,
    pipeline_root: str | None,
    parameters: Mapping[str, Any] | None = None,
    display_name: str | None = None,
    enable_caching: bool | None = None,
    service_account: str | None = None,
    labels: Mapping[str, str] | None = None,
    experiment: str | None = None,
    job_id: str | None = None,
    now: datetime | None = None,
) -> VertexJobRequest:
    """Check everything Vertex AI would refuse, then describe the job.

    ``spec`` is the compiled PipelineSpec that ``template_path`` holds; ``parameters`` are
    checked against its inputs and converted to their declared types.

    Raises:
        ConfigError: a malformed project, region, pipeline root, service account, label,
            experiment, display name, or a parameter the pipeline does not take.
    """
    from kubeline.engine import resolve_arguments

    project = check_project(project)
    region = check_region(region)
    pipeline_root = check_pipeline_root(pipeline_root)
    service_account = check_service_account(service_account)
    all_labels = check_labels({"created-by": "kubeline", **(labels or {})})
    values = resolve_arguments(spec, dict(parameters or {}))
    pipeline_name = str(spec.get("pipelineInfo", {}).get("name") or "pipeline")
    display_name = display_name or pipeline_name
    if len(display_name) > _MAX_DISPLAY_NAME:
        raise ConfigError(
            f"The run name is {len(display_name)} characters; Vertex AI accepts at most "
            f"{_MAX_DISPLAY_NAME}."
        )
    job_id = job_id or job_id_for(pipeline_name, now)
    if not _JOB_ID.match(job_id):
        raise ConfigError(
            f"'{job_id}' cannot be a Vertex AI job id: use at most 128 lowercase letters, "
            "digits and '-', starting with a letter."
        )
    if experiment is not None and not _EXPERIMENT.match(experiment):
        raise ConfigError(
            f"'{experiment}' cannot name a Vertex AI experiment: use lowercase letters, "
            "digits and '-' (at most 128)."
        )
    job_kwargs: dict[str, Any] = {
        "display_name": display_name,
        "template_path": str(template_path),
        "job_id": job_id,
        "pipeline_root": pipeline_root,
        "parameter_values": values,
        "enable_caching": enable_caching,
        "labels": all_labels,
        "project": project,
        "location": region,
    }
    submit_kwargs: dict[str, Any] = {"service_account": service_account, "experiment": experiment}
    body: dict[str, Any] = {
        "displayName": display_name,
        "pipelineSpec": spec if enable_caching is None else _with_caching(spec, enable_caching),
        "runtimeConfig": {"gcsOutputDirectory": pipeline_root, "parameterValues": values},
        "labels": all_labels,
    }
    if service_account:
        body["serviceAccount"] = service_account
    rest = {
        "method": "POST",
        "url": (
            f"https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/"
            f"{region}/pipelineJobs?pipelineJobId={job_id}"
        ),
        "body": body,
    }
    return VertexJobRequest(job_kwargs=job_kwargs, submit_kwargs=submit_kwargs, rest=rest)


def load_aiplatform() -> Any:
    """``google.cloud.aiplatform``, imported only when a job is really submitted.

    Raises:
        UserError: the SDK is not installed; says how to install it.
    """
    try:
        return importlib.import_module("google.cloud.aiplatform")
    except ImportError as exc:
        raise UserError(
            "Submitting to Vertex AI needs the Vertex AI SDK (google-cloud-aiplatform), which "
            f"is not installed: {GCP_EXTRA_HINT}. --dry-run shows the job without it."
        ) from exc


def _refusal(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message).splitlines()[0]


def submit_pipeline_job(
    request: VertexJobRequest, *, wait: bool = False, aiplatform: Any = None
) -> dict[str, Any]:
    """Create the job on Vertex AI (and with ``wait``, block until it ends).

    ``aiplatform`` is the SDK module; by default it is imported now. Returns the job id, its
    resource name, the console link and, with ``wait``, its final state.

    Raises:
        UserError: the SDK is missing, there are no credentials, or Vertex AI refused the job.
    """
    sdk = aiplatform if aiplatform is not None else load_aiplatform()
    try:
        job = sdk.PipelineJob(**request.job_kwargs)
        job.submit(**request.submit_kwargs)
    except Exception as exc:  # the service's or the SDK's refusal, said in one line
        text = _refusal(exc)
        if "credentials" in text.lower() or type(exc).__name__ == "DefaultCredentialsError":
            raise UserError(
                f"No Google Cloud credentials: {text}. Run 'gcloud auth application-default "
                "login' (or set GOOGLE_APPLICATION_CREDENTIALS) and try again."
            ) from exc
        raise UserError(f"Vertex AI refused the pipeline job: {text}") from exc
    result: dict[str, Any] = {
        "job_id": request.job_id,
        "resource_name": getattr(job, "resource_name", None),
        "console_url": request.console_url,
        "state": None,
    }
    if wait:
        try:
            job.wait()
        except Exception as exc:  # noqa: BLE001 - a failed run: its state says what happened
            result["error"] = _refusal(exc)
        state = getattr(job, "state", None)
        result["state"] = getattr(state, "name", None) or (str(state) if state else None)
    return result
