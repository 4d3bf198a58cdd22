"""Vertex AI Pipelines: the PipelineJob request kubeline builds, its checks, the dry run, and
submission through a fake google.cloud.aiplatform (no Google Cloud here)."""

from __future__ import annotations

import copy
import inspect
import json
import sys
import types
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from kubeline.cli import app as cli_app
from kubeline.deploy.vertex import (
    GCP_EXTRA_HINT,
    build_pipeline_job,
    check_labels,
    job_id_for,
    submit_pipeline_job,
)
from kubeline.errors import ConfigError, UserError

GOOD = {
    "project": "my-project-123",
    "region": "us-central1",
    "pipeline_root": "gs://my-bucket/pipeline-root",
}
NOW = datetime(2026, 11, 28, 17, 42, 32, tzinfo=timezone.utc)

# The keyword arguments of google.cloud.aiplatform.PipelineJob.__init__ and .submit, from the
# SDK's google/cloud/aiplatform/pipeline_jobs.py (1.x).
PIPELINE_JOB_INIT = {
    "display_name", "template_path", "job_id", "pipeline_root", "parameter_values",
    "input_artifacts", "enable_caching", "encryption_spec_key_name", "labels", "credentials",
    "project", "location", "failure_policy", "enable_preflight_validations", "default_runtime",
}  # fmt: skip
PIPELINE_JOB_SUBMIT = {
    "service_account", "network", "reserved_ip_ranges", "create_request_timeout", "experiment",
    "job_id",
}  # fmt: skip


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kubeline.pipelines.compile import compile_pipeline

    out = tmp_path_factory.mktemp("vertex") / "lifecycle.yaml"
    return compile_pipeline(None, out, image="us-docker.pkg.dev/p-123456/r/kubeline:1")


@pytest.fixture
def spec(compiled: Path) -> dict[str, Any]:
    return yaml.safe_load(compiled.read_text(encoding="utf-8"))


def _job(spec: dict[str, Any], compiled: Path, **changes: Any) -> Any:
    return build_pipeline_job(spec, compiled, **{**GOOD, "now": NOW, **changes})


# -- the request -----------------------------------------------------------------------


def test_request_holds_exactly_pipelinejob_and_submit_arguments(
    spec: dict[str, Any], compiled: Path
) -> None:
    job = _job(
        spec,
        compiled,
        parameters={"dataset": "iris", "trials_per_family": "3", "threshold": "0.8"},
        service_account="runner@my-project-123.iam.gserviceaccount.com",
        labels={"team": "ml"},
        experiment="lifecycle-trials",
        enable_caching=False,
    )
    assert set(job.job_kwargs) <= PIPELINE_JOB_INIT
    assert set(job.submit_kwargs) <= PIPELINE_JOB_SUBMIT
    assert job.job_kwargs == {
        "display_name": "kubeline-lifecycle",
        "template_path": str(compiled),
        "job_id": "kubeline-lifecycle-20261128174232",
        "pipeline_root": "gs://my-bucket/pipeline-root",
        "parameter_values": {"dataset": "iris", "trials_per_family": 3, "threshold": 0.8},
        "enable_caching": False,
        "labels": {"created-by": "kubeline", "team": "ml"},
        "project": "my-project-123",
        "location": "us-central1",
    }
    assert job.submit_kwargs == {
        "service_account": "runner@my-project-123.iam.gserviceaccount.com",
        "experiment": "lifecycle-trials",
    }
    inspect.signature(lambda **kw: None).bind(**job.job_kwargs)  # plain keyword arguments
    json.dumps(job.to_dict())  # the dry run's document is JSON


def test_rest_body_is_a_pipeline_job_vertex_accepts(spec: dict[str, Any], compiled: Path) -> None:
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    job = _job(
        spec,
        compiled,
        parameters={"families": "svm,knn", "seed": "7"},
        service_account="123456789-compute@developer.gserviceaccount.com",
    )
    rest = job.rest
    assert rest["method"] == "POST"
    assert rest["url"] == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/my-project-123/locations/"
        "us-central1/pipelineJobs?pipelineJobId=kubeline-lifecycle-20261128174232"
    )
    body = copy.deepcopy(rest["body"])
    assert body.pop("serviceAccount") == "123456789-compute@developer.gserviceaccount.com"
    # KFP's PipelineJob message is the one Vertex AI's REST body carries (less the
    # service account); unknown fields are refused.
    message = pipeline_spec_pb2.PipelineJob()
    json_format.ParseDict(body, message, ignore_unknown_fields=False)
    assert message.runtime_config.gcs_output_directory == "gs://my-bucket/pipeline-root"
    assert body["pipelineSpec"] == spec
    assert body["runtimeConfig"]["parameterValues"] == {"families": ["svm", "knn"], "seed": 7}


def test_parameter_values_have_the_types_the_pipeline_declares(
    spec: dict[str, Any], compiled: Path
) -> None:
    """As the KFP and Vertex AI servers check them: numbers for NUMBER_*, strings, lists."""
    given = {
        "dataset": "wine",
        "test_size": "0.25",
        "cv_folds": "3",
        "families": '["svm"]',
        "ratio_features": "[]",
    }
    values = _job(spec, compiled, parameters=given).rest["body"]["runtimeConfig"]["parameterValues"]
    kinds = spec["root"]["inputDefinitions"]["parameters"]
    expected = {
        "STRING": str,
        "NUMBER_DOUBLE": (int, float),
        "NUMBER_INTEGER": int,
        "LIST": list,
        "STRUCT": dict,
        "BOOLEAN": bool,
    }
    for name, value in values.items():
        assert isinstance(value, expected[kinds[name]["parameterType"]]), name


def test_enable_caching_switches_every_task_and_leaves_the_spec_alone(
    spec: dict[str, Any], compiled: Path
) -> None:
    before = copy.deepcopy(spec)
    body = _job(spec, compiled, enable_caching=False).rest["body"]["pipelineSpec"]
    assert spec == before
    tasks = [
        task
        for component in [body["root"], *body["components"].values()]
        for task in component.get("dag", {}).get("tasks", {}).values()
    ]
    assert tasks and all(t["cachingOptions"] == {"enableCache": False} for t in tasks)
    default = _job(spec, compiled).rest["body"]["pipelineSpec"]
    assert default == spec


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"project": None}, "--project"),
        ({"project": "My Project"}, "not a Google Cloud project id"),
        ({"project": "123456789012"}, "not a Google Cloud project id"),
        ({"project": "abc"}, "not a Google Cloud project id"),
        ({"region": "us-central1-a"}, "not a zone"),
        ({"region": "global"}, "not a Google Cloud region"),
        ({"region": ""}, "--region"),
        ({"pipeline_root": "/tmp/root"}, "must be a Cloud Storage URI starting with gs://"),
        ({"pipeline_root": "s3://bucket/root"}, "starting with gs://"),
        ({"pipeline_root": "gs://"}, "does not name a Cloud Storage bucket"),
        ({"pipeline_root": "gs://UPPER/x"}, "does not name a Cloud Storage bucket"),
        ({"pipeline_root": None}, "--pipeline-root gs://"),
        ({"service_account": "runner"}, "not a service account email"),
        ({"labels": {"Team": "ml"}}, "not valid on Google Cloud"),
        ({"labels": {"team": "ML Ops"}}, "not valid on Google Cloud"),
        ({"experiment": "Default"}, "experiment"),
        ({"display_name": "x" * 129}, "at most 128"),
        ({"job_id": "1-bad"}, "job id"),
        ({"parameters": {"epochs": "3"}}, "Unknown parameter"),
        ({"parameters": {"seed": "seven"}}, "seed"),
    ],
)
def test_bad_settings_are_refused_before_google_sees_them(
    spec: dict[str, Any], compiled: Path, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _job(spec, compiled, **change)


def test_domain_scoped_projects_and_the_default_compute_account_are_accepted(
    spec: dict[str, Any], compiled: Path
) -> None:
    job = _job(
        spec,
        compiled,
        project="example.com:my-project",
        service_account="123456789-compute@developer.gserviceaccount.com",
    )
    assert job.job_kwargs["project"] == "example.com:my-project"


def test_job_ids_follow_vertex_rules() -> None:
    assert job_id_for("kubeline-lifecycle", NOW) == "kubeline-lifecycle-20261128174232"
    assert job_id_for("My Pipeline_v2!", NOW) == "my-pipeline-v2-20261128174232"
    assert job_id_for("3d-model", NOW).startswith("p-3d-model-")
    long = job_id_for("a" * 300, NOW)
    assert len(long) <= 128 and long.endswith("-20261128174232")
    assert check_labels(None) == {}
    with pytest.raises(ConfigError, match="at most 64"):
        check_labels({f"k{i}": "v" for i in range(65)})


# -- submission through a fake SDK ------------------------------------------------------


class FakePipelineJob:
    """Stands in for aiplatform.PipelineJob: records what it was given, reads the template."""

    created: ClassVar[list[FakePipelineJob]] = []
    fail_submit: ClassVar[Exception | None] = None
    final_state: ClassVar[str] = "PIPELINE_STATE_SUCCEEDED"

    def __init__(self, **kwargs: Any) -> None:
        assert set(kwargs) <= PIPELINE_JOB_INIT
        self.kwargs = kwargs
        self.template = yaml.safe_load(Path(kwargs["template_path"]).read_text(encoding="utf-8"))
        self.submitted: dict[str, Any] | None = None
        self.resource_name = (
            f"projects/123/locations/{kwargs['location']}/pipelineJobs/{kwargs['job_id']}"
        )
        self.state: Any = None
        FakePipelineJob.created.append(self)

    def submit(self, **kwargs: Any) -> None:
        assert set(kwargs) <= PIPELINE_JOB_SUBMIT
        if FakePipelineJob.fail_submit is not None:
            raise FakePipelineJob.fail_submit
        self.submitted = kwargs
        self.state = types.SimpleNamespace(name="PIPELINE_STATE_RUNNING")

    def wait(self) -> None:
        self.state = types.SimpleNamespace(name=FakePipelineJob.final_state)
        if FakePipelineJob.final_state != "PIPELINE_STATE_SUCCEEDED":
            raise RuntimeError(f"Job failed with state {FakePipelineJob.final_state}")


@pytest.fixture
def fake_aiplatform(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("google.cloud.aiplatform")
    module.PipelineJob = FakePipelineJob  # type: ignore[attr-defined]
    FakePipelineJob.created = []
    FakePipelineJob.fail_submit = None
    FakePipelineJob.final_state = "PIPELINE_STATE_SUCCEEDED"
    monkeypatch.setitem(sys.modules, "google.cloud.aiplatform", module)
    return module


@pytest.fixture
def no_aiplatform(monkeypatch: pytest.MonkeyPatch) -> None:
    """google.cloud.aiplatform cannot be imported, whether or not it is installed."""
    monkeypatch.setitem(sys.modules, "google.cloud.aiplatform", None)


def test_submit_with_fake_aiplatform_passes_the_request_through(
    spec: dict[str, Any], compiled: Path, fake_aiplatform: types.ModuleType
) -> None:
    request = _job(spec, compiled, service_account="sa@p-123456.iam.gserviceaccount.com")
    result = submit_pipeline_job(request, wait=True)
    (job,) = FakePipelineJob.created
    assert job.kwargs == request.job_kwargs
    assert job.submitted == request.submit_kwargs
    assert job.template == spec
    assert result == {
        "job_id": "kubeline-lifecycle-20261128174232",
        "resource_name": job.resource_name,
        "console_url": request.console_url,
        "state": "PIPELINE_STATE_SUCCEEDED",
    }


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (RuntimeError("403 Permission 'aiplatform.pipelineJobs.create' denied"), "refused"),
        (type("DefaultCredentialsError", (Exception,), {})("none found"), "gcloud auth"),
    ],
)
def test_fake_vertex_refusal_is_a_user_error(
    spec: dict[str, Any],
    compiled: Path,
    fake_aiplatform: types.ModuleType,
    error: Exception,
    message: str,
) -> None:
    FakePipelineJob.fail_submit = error
    with pytest.raises(UserError, match=message):
        submit_pipeline_job(_job(spec, compiled))


def test_submit_without_the_sdk_says_how_to_install_it(
    spec: dict[str, Any], compiled: Path, no_aiplatform: None
) -> None:
    with pytest.raises(UserError, match=r"pip install 'kubeline\[gcp\]'"):
        submit_pipeline_job(_job(spec, compiled))
    assert GCP_EXTRA_HINT == "pip install 'kubeline[gcp]'"


# -- the CLI: `kubeline submit --vertex` -------------------------------------------------


def _run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_REGION", raising=False)
    return cli_app.main(list(args))


VERTEX_ARGS = (
    "--vertex",
    "--project",
    "my-project-123",
    "--region",
    "us-central1",
    "--pipeline-root",
    "gs://my-bucket/pipeline-root",
)


def test_dry_run_prints_the_job_as_json_without_the_sdk(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    compiled: Path,
    no_aiplatform: None,
) -> None:
    code = _run(
        monkeypatch, "submit", str(compiled), *VERTEX_ARGS, "-p", "dataset=iris", "--dry-run"
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    document = json.loads(out)
    assert document["dry_run"] is True
    assert document["pipeline_job"]["template_path"] == str(compiled.resolve())
    assert document["pipeline_job"]["parameter_values"] == {"dataset": "iris"}
    body = document["rest_request"]["body"]
    assert body["runtimeConfig"] == {
        "gcsOutputDirectory": "gs://my-bucket/pipeline-root",
        "parameterValues": {"dataset": "iris"},
    }
    assert document["submit"] == {"service_account": None, "experiment": None}
    assert "nothing was submitted" in err


def test_dry_run_of_a_pipeline_function_keeps_the_compiled_file(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kubeline_home: Path,
    no_aiplatform: None,
) -> None:
    code = _run(monkeypatch, "submit", "lifecycle", *VERTEX_ARGS, "--dry-run")
    out, err = capsys.readouterr()
    assert code == 0, err
    template = Path(json.loads(out)["pipeline_job"]["template_path"])
    assert template.parent == kubeline_home / "vertex" and template.is_file()
    from kfp import components

    components.load_component_from_file(str(template))


def test_real_submit_without_the_sdk_exits_2_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    compiled: Path,
    no_aiplatform: None,
) -> None:
    code = _run(monkeypatch, "submit", str(compiled), *VERTEX_ARGS)
    err = capsys.readouterr().err
    assert code == 2
    assert "pip install 'kubeline[gcp]'" in err


def test_submit_through_fake_aiplatform_prints_the_console_link(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    compiled: Path,
    fake_aiplatform: types.ModuleType,
) -> None:
    code = _run(monkeypatch, "submit", str(compiled), *VERTEX_ARGS, "--output", "json")
    out, err = capsys.readouterr()
    assert code == 0, err
    document = json.loads(out)
    (job,) = FakePipelineJob.created
    assert document["job_id"] == job.kwargs["job_id"]
    assert document["console_url"].startswith(
        "https://console.cloud.google.com/vertex-ai/locations/us-central1/pipelines/runs/"
    )
    assert job.submitted == {"service_account": None, "experiment": None}


def test_failed_run_on_fake_vertex_exits_1(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    compiled: Path,
    fake_aiplatform: types.ModuleType,
) -> None:
    FakePipelineJob.final_state = "PIPELINE_STATE_FAILED"
    code = _run(monkeypatch, "submit", str(compiled), *VERTEX_ARGS, "--wait")
    assert code == 1
    assert "PIPELINE_STATE_FAILED" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--region", "us-central1-a"), "not a zone"),
        (("--pipeline-root", "/tmp/artifacts"), "gs://"),
        (("--project", "My Project"), "project id"),
        (("-p", "nope=1"), "Unknown parameter"),
    ],
)
def test_cli_refusals_exit_2_before_anything_is_written(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    compiled: Path,
    kubeline_home: Path,
    fake_aiplatform: types.ModuleType,
    args: tuple[str, ...],
    message: str,
) -> None:
    code = _run(monkeypatch, "submit", "lifecycle", *VERTEX_ARGS, *args)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not FakePipelineJob.created
    assert not (kubeline_home / "vertex").exists()
