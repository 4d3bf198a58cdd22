"""Fuzzing ``kubeline server`` with schemathesis, driven by KFP's own OpenAPI description
(``../shared/conformance/kfp/api``): valid and invalid requests to every operation kubeline
implements, sent to a real server on a free loopback port that holds real data (a pipeline,
an experiment, runs, recurring runs), so that reads of existing ids are exercised too.

No answer may be a 5xx; every answer must match KFP's schema (``200`` its resource,
anything else ``googleRpcStatus``), and every error must be in KFP's error shape. The seed is
fixed, so a run is repeatable; a failure prints the request as a curl command.
Run only this with ``pytest -m fuzz tests/server/test_fuzz_api.py``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.engine import events, from_schema

from kubeline.pipelines.compile import compile_function, compile_pipeline
from tests.engine import pipelines as p
from tests.server.conftest import LiveServer, start_server

pytestmark = pytest.mark.fuzz

SEED = 20261206
EXAMPLES = 200  # per operation in the fuzzing phase; the coverage phase adds its own cases
MIN_REQUESTS = 25  # per operation, all phases together

# KFP operations kubeline does not serve, by design; the test below checks each answers
# 404 or 405 in KFP's error shape, so none of them can be a 5xx either.
NOT_SERVED = {
    "AuthService_Authorize": "Kubeflow's multi-user authorization; a local server has no users",
    "DummyFilterService_GetFilter": "a stub KFP keeps only to publish the Filter type",
    "PipelineService_UpdatePipeline": "not implemented: upload a new version instead",
    "PipelineService_UpdatePipelineVersion": "not implemented: versions are immutable here",
    "ReportService_ReportWorkflow": "Argo's persistence agent reports workflows; no Argo here",
    "ReportService_ReportScheduledWorkflow": "likewise for Argo's ScheduledWorkflow resources",
    "VisualizationService_CreateVisualizationV1": "KFP v1's visualization server",
}

CHECKS = {
    "not_a_server_error": True,
    "status_code_conformance": True,
    "content_type_conformance": True,
    "response_schema_conformance": True,
    "response_headers_conformance": True,
    "unsupported_method": True,  # 405 with an Allow header
    "use_after_free": True,
    "ensure_resource_availability": True,
    # KFP's schema marks no field required, so it calls an experiment without display_name
    # valid; kubeline, like KFP's server, refuses it (400).
    "positive_data_acceptance": False,
    # kubeline ignores fields and parameters it has no use for (output-only fields such as
    # storage_state, Kubernetes ones such as propagation_policy) where KFP's gateway may 400.
    "negative_data_rejection": False,
    # KFP's custom methods (/runs/{id}:archive) match /runs/{id} too, so Allow honestly
    # lists GET and DELETE beside POST there, which KFP's per-path schema does not.
    "allow_header_conformance": False,
    # The schema declares a bearer token; a loopback kubeline server needs none by design
    # (test_api.py and test_malformed.py test the token on a server that has one).
    "ignored_auth": False,
    "missing_required_header": False,
}

SENT: Counter[str] = Counter()


def kfp_schema(conformance: Path) -> dict[str, Any]:
    """KFP's OpenAPI document without the operations kubeline does not serve."""
    document = json.loads((conformance / "api" / "kfp_api_single_file.swagger.json").read_text())
    for path, item in list(document["paths"].items()):
        for method, operation in list(item.items()):
            if isinstance(operation, dict) and operation.get("operationId") in NOT_SERVED:
                del item[method]
        if not any(key != "parameters" for key in item):
            del document["paths"][path]
    return document


def _upload(http: httpx.Client, path: Path, name: str) -> dict[str, Any]:
    with path.open("rb") as f:
        response = http.post(
            "/apis/v2beta1/pipelines/upload",
            params={"name": name},
            files={"uploadfile": (path.name, f, "application/x-yaml")},
        )
    response.raise_for_status()
    pipeline = response.json()
    versions = http.get(f"/apis/v2beta1/pipelines/{pipeline['pipeline_id']}/versions").json()
    return {**pipeline, "version_id": versions["pipeline_versions"][0]["pipeline_version_id"]}


def _seed(http: httpx.Client, spec: Path, label: str) -> dict[str, str]:
    """A pipeline with a version, an experiment, a finished run and a disabled recurring run."""
    pipeline = _upload(http, spec, f"fuzz-{label}")
    experiment = http.post("/apis/v2beta1/experiments", json={"display_name": f"fuzz-{label}"})
    experiment_id = experiment.json()["experiment_id"]
    reference = {
        "pipeline_id": pipeline["pipeline_id"],
        "pipeline_version_id": pipeline["version_id"],
    }
    run = http.post(
        "/apis/v2beta1/runs",
        json={
            "display_name": f"fuzz-{label}",
            "experiment_id": experiment_id,
            "pipeline_version_reference": reference,
        },
    ).json()
    recurring = http.post(
        "/apis/v2beta1/recurringruns",
        json={
            "display_name": f"fuzz-{label}",
            "experiment_id": experiment_id,
            "mode": "DISABLE",
            "pipeline_version_reference": reference,
            "trigger": {"periodic_schedule": {"interval_second": 86400}},
        },
    ).json()
    return {
        "pipeline_id": pipeline["pipeline_id"],
        "pipeline_version_id": pipeline["version_id"],
        "name": pipeline["name"],
        "experiment_id": experiment_id,
        "run_id": run["run_id"],
        "recurring_run_id": recurring["recurring_run_id"],
    }


def _wait_until_final(http: httpx.Client, run_id: str) -> None:
    deadline = time.monotonic() + 300
    while http.get(f"/apis/v2beta1/runs/{run_id}").json()["state"] not in ("SUCCEEDED", "FAILED"):
        assert time.monotonic() < deadline, f"seeded run {run_id} did not finish"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, dict[str, str], dict[str, str]]]:
    """A server with two sets of data: one to read (never deleted), one to delete."""
    home = tmp_path_factory.mktemp("fuzz-home")
    spec = compile_pipeline(compile_function(p.two_step), home / "two.yaml")
    server = start_server(home)
    with server.http() as http:
        kept, doomed = _seed(http, spec, "kept"), _seed(http, spec, "doomed")
        for ids in (kept, doomed):
            _wait_until_final(http, ids["run_id"])
    yield server, kept, doomed
    server.stop()


def _config(url: str, kept: dict[str, str], doomed: dict[str, str]) -> schemathesis.Config:
    """Both phases that send invalid data (coverage, fuzzing in mode ``all``), a fixed seed,
    and real ids half the time: the kept ones for reads and writes, the doomed for deletes."""

    def real(kind: str) -> dict[str, Any]:
        return {"dictionary": kind, "probability": 0.5}

    def bind(prefix: str) -> dict[str, Any]:
        return {f"path.{key}": real(f"{prefix}-{key}") for key in kept}

    dictionaries = {
        f"{prefix}-{key}": {"values": [value]}
        for prefix, ids in (("kept", kept), ("doomed", doomed))
        for key, value in ids.items()
    }
    no_learning = {"extra-data-sources": {"responses": False}}  # only the ids above
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": url,
            "request-timeout": 60,
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                "deterministic": True,
                "with-security-parameters": False,
            },
            "phases": {
                "examples": no_learning,
                "coverage": no_learning,
                "fuzzing": no_learning,
                # KFP's schema declares no links between operations; inferring them would
                # chain creates into deletes of the seeded data, and cost minutes.
                "stateful": {"enabled": False},
            },
            "checks": {name: {"enabled": on} for name, on in CHECKS.items()},
            "dictionaries": dictionaries,
            "operations": [
                {"include-method": ["GET", "POST"], "parameters": bind("kept")},
                {"include-method": ["DELETE"], "parameters": bind("doomed")},
            ],
        }
    )


def _kfp_error_problem(status: int, content: bytes) -> str | None:
    """Why an error answer is not in KFP's shape, or None."""
    try:
        body = json.loads(content)
    except ValueError:
        return f"{status} with a body that is not JSON: {content[:200]!r}"
    if not isinstance(body, dict) or not {"error", "code", "message", "details"} <= set(body):
        return f"{status} without KFP's error, code, message and details: {content[:200]!r}"
    if not body["message"]:
        return f"{status} with an empty message"
    return None


# Thousands of requests: 850 s measured on a 2-core machine busy with other work.
@pytest.mark.timeout(1800)
def test_kfp_api_survives_fuzzing(
    conformance: Path,
    seeded: tuple[LiveServer, dict[str, str], dict[str, str]],
    pytestconfig: pytest.Config,
) -> None:
    server, kept, doomed = seeded
    schema = schemathesis.openapi.from_dict(
        kfp_schema(conformance), config=_config(server.url, kept, doomed)
    )
    started = time.perf_counter()
    per_operation: Counter[str] = Counter()
    reads_of_real_ids: Counter[str] = Counter()
    failures: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, (events.NonFatalError, events.FatalError)):
            problems.append(f"schemathesis: {getattr(event, 'value', event)}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        recorder = event.recorder
        for interaction in recorder.interactions.values():
            response = interaction.response
            if response is None:
                continue
            per_operation[recorder.label] += 1
            SENT[event.phase.value] += 1
            status = response.status_code
            if status >= 400 and (problem := _kfp_error_problem(status, response.content)):
                failures.setdefault((recorder.label, "KFP error shape"), problem)
            if status == 200 and recorder.label.startswith("GET") and "{" in recorder.label:
                reads_of_real_ids[recorder.label] += 1
        for checks in recorder.checks.values():
            for check in checks:
                if check.failure_info is not None:
                    key = (recorder.label, check.name)
                    failures.setdefault(key, check.failure_info.code_sample)
    elapsed = time.perf_counter() - started
    total = sum(per_operation.values())
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown without -s too
        print(
            f"\nschemathesis sent {total} requests to kubeline server ({SENT['coverage']} "
            f"coverage, {SENT['fuzzing']} fuzzing) over {len(per_operation)} KFP operations "
            f"in {elapsed:.1f} s"
        )

    assert not problems, problems
    assert not failures, "\n\n".join(
        f"{label}: {check}\n{sample}" for (label, check), sample in sorted(failures.items())
    )
    expected = {
        f"{method.upper()} {path}"
        for path, item in kfp_schema(conformance)["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert set(per_operation) == expected, f"untested: {sorted(expected - set(per_operation))}"
    # GET /healthz takes no input at all: there is nothing to vary.
    few = {
        label: n
        for label, n in per_operation.items()
        if n < MIN_REQUESTS and "healthz" not in label
    }
    assert not few, f"operations with fewer than {MIN_REQUESTS} requests: {few}"
    gets_by_id = {label for label in expected if label.startswith("GET") and "{" in label}
    assert set(reads_of_real_ids) == gets_by_id, (
        f"never read a seeded id: {sorted(gets_by_id - set(reads_of_real_ids))}"
    )


@pytest.mark.parametrize("operation", sorted(NOT_SERVED))
def test_operations_not_served_answer_404_or_405(
    conformance: Path, seeded: tuple[LiveServer, dict[str, str], dict[str, str]], operation: str
) -> None:
    server, kept, _ = seeded
    document = json.loads((conformance / "api" / "kfp_api_single_file.swagger.json").read_text())
    method, path = next(
        (method, path)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if isinstance(spec, dict) and spec.get("operationId") == operation
    )
    url = path.replace("{pipeline.pipeline_id}", kept["pipeline_id"])
    url = url.replace("{pipeline_version.pipeline_id}", kept["pipeline_id"])
    url = url.replace("{pipeline_version.pipeline_version_id}", kept["pipeline_version_id"])
    url = url.replace("{namespace}", "default")
    with server.http() as http:
        response = http.request(method.upper(), url, json={})
    assert response.status_code in (404, 405), (operation, response.status_code, response.text)
    assert _kfp_error_problem(response.status_code, response.content) is None
    if response.status_code == 405:
        assert "Allow" in response.headers
