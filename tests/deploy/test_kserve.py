"""KServe InferenceService manifests for registered models, and `kubeline deploy kserve`.

No Kubernetes here: manifests are validated against the part of KServe's v1beta1 schema they
use and, for the standard Kubernetes parts, with kubernetes-validate; kubectl is a fake.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import stat
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # a dev dependency: this module's checks never skip
import pytest
import typer
import yaml

from kubeline.cli import app as cli_app
from kubeline.deploy.kserve import (
    DEFAULT_RESOURCES,
    inference_service,
    parse_quantity,
    service_name,
    to_yaml,
)
from kubeline.errors import ConfigError
from kubeline.store import ModelVersionRecord

DIGEST = "9f2c4e" + "0" * 58
RUN_ID = "kubeline-lifecycle-20261128-174232-30eb45"
K8S_VERSION = "1.31"  # a version GKE's release channels offer


def _version(**changes: Any) -> ModelVersionRecord:
    values: dict[str, Any] = {
        "name": "breast-cancer-classifier",
        "version": 3,
        "created_at": datetime(2026, 11, 28, 17, 42, 32, tzinfo=timezone.utc),
        "uri": "gs://my-bucket/models/breast-cancer-classifier/3",
        "digest": DIGEST,
        "framework": "sklearn",
        "libraries": {"python": "3.11.7", "scikit-learn": "1.9.1"},
        "run_id": RUN_ID,
    }
    return ModelVersionRecord(**{**values, **changes})


# The subset of KServe's InferenceService (serving.kserve.io/v1beta1) that these manifests
# use, from KServe's CRD (config/crd/full/serving.kserve.io_inferenceservices.yaml) and its Go
# types (pkg/apis/serving/v1beta1: InferenceServiceSpec, PredictorSpec, ModelSpec,
# PredictorExtensionSpec, ComponentExtensionSpec). Closed objects where we write them, so a
# misspelt field fails here rather than being dropped by the API server.
_QUANTITY = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
INFERENCE_SERVICE_SUBSET: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "serving.kserve.io/v1beta1"},
        "kind": {"const": "InferenceService"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["predictor"],
            "additionalProperties": False,
            "properties": {
                "predictor": {
                    "type": "object",
                    "additionalProperties": False,
                    # Either KServe's model runtime, or a custom serving container (whose
                    # fields Kubernetes' own Container schema checks, through the Pod).
                    "oneOf": [{"required": ["model"]}, {"required": ["containers"]}],
                    "properties": {
                        "minReplicas": {"type": "integer", "minimum": 0},
                        "maxReplicas": {"type": "integer", "minimum": 0},
                        "containers": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 1,
                            "items": {"type": "object", "required": ["name", "image"]},
                        },
                        "model": {
                            "type": "object",
                            "required": ["modelFormat"],
                            "additionalProperties": False,
                            "properties": {
                                "modelFormat": {
                                    "type": "object",
                                    "required": ["name"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "name": {"type": "string"},
                                        "version": {"type": "string"},
                                    },
                                },
                                "runtime": {"type": "string"},
                                "runtimeVersion": {"type": "string"},
                                "protocolVersion": {"enum": ["v1", "v2", "grpc-v1", "grpc-v2"]},
                                "storageUri": {"type": "string"},
                                "image": {"type": "string"},
                                "resources": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "limits": {
                                            "type": "object",
                                            "additionalProperties": _QUANTITY,
                                        },
                                        "requests": {
                                            "type": "object",
                                            "additionalProperties": _QUANTITY,
                                        },
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
    },
}

# Kubernetes object names (kubernetes.io/docs/concepts/overview/working-with-objects/names):
# RFC 1123 labels for namespaces, RFC 1035 labels for names that become Service names.
_RFC_1123_LABEL = re.compile(r"^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_RFC_1035_LABEL = re.compile(r"^(?=.{1,63}$)[a-z]([-a-z0-9]*[a-z0-9])?$")
# Label values (the same page, "Labels and Selectors").
_LABEL_VALUE = re.compile(r"^(?=.{0,63}$)(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _pod_from(manifest: dict[str, Any]) -> dict[str, Any]:
    """A Pod built from the InferenceService's metadata and predictor container.

    kubernetes-validate knows the standard kinds only, not KServe's CRD, so the parts that
    KServe copies onto the predictor's Pod (metadata, the container's image and resources)
    are validated through a Pod with the same values.
    """
    metadata = manifest["metadata"]
    predictor = manifest["spec"]["predictor"]
    if "containers" in predictor:
        container: dict[str, Any] = dict(predictor["containers"][0])
    else:
        model = predictor["model"]
        container = {
            "name": "kserve-container",
            "image": model.get("image", "kserve/sklearnserver:v0.15.0"),
        }
        if "resources" in model:
            container["resources"] = model["resources"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {k: metadata[k] for k in ("name", "namespace", "labels", "annotations")},
        "spec": {"containers": [container]},
    }


def check_manifest(manifest: dict[str, Any]) -> None:
    """Everything these tests hold a manifest to."""
    jsonschema.Draft202012Validator.check_schema(INFERENCE_SERVICE_SUBSET)
    jsonschema.validate(manifest, INFERENCE_SERVICE_SUBSET)
    kubernetes_validate.validate(_pod_from(manifest), K8S_VERSION, strict=True)
    metadata = manifest["metadata"]
    # Schemas type names as plain strings: their format is checked here.
    assert _RFC_1035_LABEL.match(metadata["name"]), metadata["name"]
    assert len(metadata["name"]) <= 63 - len("-predictor")
    assert _RFC_1123_LABEL.match(metadata["namespace"]), metadata["namespace"]
    for key, value in metadata["labels"].items():
        assert _LABEL_VALUE.match(value), (key, value)
    from kubernetes.utils import parse_quantity as k8s_quantity

    predictor = manifest["spec"]["predictor"]
    serving = predictor["containers"][0] if "containers" in predictor else predictor["model"]
    resources = serving.get("resources", {})
    for kind in resources.values():
        for value in kind.values():
            assert k8s_quantity(value) > 0  # the Kubernetes client's own parser accepts it
    for resource, request in resources.get("requests", {}).items():
        limit = resources.get("limits", {}).get(resource)
        if limit is not None:
            assert k8s_quantity(request) <= k8s_quantity(limit)


# -- the manifest ------------------------------------------------------------------------


def test_manifest_serves_the_version_with_kserves_sklearn_runtime() -> None:
    manifest = inference_service(_version())
    check_manifest(manifest)
    assert manifest["apiVersion"] == "serving.kserve.io/v1beta1"
    assert manifest["kind"] == "InferenceService"
    assert manifest["metadata"]["name"] == "breast-cancer-classifier"
    assert manifest["metadata"]["namespace"] == "default"
    predictor = manifest["spec"]["predictor"]
    assert predictor["minReplicas"] == 1 and predictor["maxReplicas"] == 1
    model = predictor["model"]
    assert model["modelFormat"] == {"name": "sklearn", "version": "1"}
    assert model["storageUri"] == "gs://my-bucket/models/breast-cancer-classifier/3"
    assert "protocolVersion" not in model  # v1 is KServe's default
    assert model["resources"] == DEFAULT_RESOURCES


def test_labels_and_annotations_carry_the_lineage() -> None:
    metadata = inference_service(_version())["metadata"]
    assert metadata["labels"] == {
        "app.kubernetes.io/name": "breast-cancer-classifier",
        "app.kubernetes.io/managed-by": "kubeline",
        "kubeline.io/model": "breast-cancer-classifier",
        "kubeline.io/model-version": "3",
        "kubeline.io/model-digest": DIGEST[:16],
        "kubeline.io/run-id": RUN_ID,
    }
    annotations = metadata["annotations"]
    assert annotations["kubeline.io/model"] == "breast-cancer-classifier"
    assert annotations["kubeline.io/model-version"] == "3"
    assert annotations["kubeline.io/model-digest"] == f"sha256:{DIGEST}"
    assert annotations["kubeline.io/run-id"] == RUN_ID
    assert annotations["kubeline.io/scikit-learn-version"] == "1.9.1"


def test_v2_protocol_replicas_resources_image_and_namespace() -> None:
    manifest = inference_service(
        _version(),
        storage_uri="pvc://models-claim/breast-cancer/3",
        namespace="ml-serving",
        protocol="v2",
        name="bc",
        min_replicas=0,
        max_replicas=4,
        resources={"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        image="europe-docker.pkg.dev/p-123456/r/sklearnserver-kubeline:1",
    )
    check_manifest(manifest)
    model = manifest["spec"]["predictor"]["model"]
    assert model["protocolVersion"] == "v2"
    assert model["storageUri"] == "pvc://models-claim/breast-cancer/3"
    assert model["image"] == "europe-docker.pkg.dev/p-123456/r/sklearnserver-kubeline:1"
    assert model["resources"] == {
        "requests": {"cpu": "250m", "memory": "1Gi"},
        "limits": {"memory": "2Gi"},
    }
    assert manifest["spec"]["predictor"]["minReplicas"] == 0
    assert manifest["metadata"]["namespace"] == "ml-serving"
    assert manifest["metadata"]["name"] == "bc"


def test_model_without_digest_or_run_is_still_valid() -> None:
    manifest = inference_service(
        _version(digest=None, run_id=None, libraries={}, framework=""),
        resources={},
    )
    check_manifest(manifest)
    assert "kubeline.io/run-id" not in manifest["metadata"]["labels"]
    assert manifest["spec"]["predictor"]["model"]["modelFormat"] == {"name": "sklearn"}
    assert "resources" not in manifest["spec"]["predictor"]["model"]


@pytest.mark.parametrize(
    ("model_name", "expected"),
    [
        ("breast-cancer-classifier", "breast-cancer-classifier"),
        ("Iris_Classifier.v2", "iris-classifier-v2"),
        ("3d-shapes", "model-3d-shapes"),
        ("x" * 80, "x" * 53),
        ("a--b__c", "a-b-c"),
    ],
)
def test_default_names_are_dns_1035_labels(model_name: str, expected: str) -> None:
    assert service_name(model_name) == expected
    check_manifest(inference_service(_version(name=model_name)))


def test_long_run_ids_stay_in_annotations_only() -> None:
    run_id = "r" * 70
    metadata = inference_service(_version(run_id=run_id))["metadata"]
    assert "kubeline.io/run-id" not in metadata["labels"]
    assert metadata["annotations"]["kubeline.io/run-id"] == run_id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"storage_uri": None, "uri": "/home/me/.kubeline/models/m/abc/model.joblib"}, "gsutil cp"),
        ({"storage_uri": None, "uri": "file:///tmp/model.joblib"}, "Upload it first"),
        ({"storage_uri": "/tmp/model"}, "--storage-uri must start with gs://"),
        ({"storage_uri": "https://example.com/model.joblib"}, "--storage-uri must start"),
        ({"storage_uri": "gs://"}, "--storage-uri must start"),
        ({"namespace": "ML"}, "namespace"),
        ({"namespace": "-ml"}, "namespace"),
        ({"name": "1model"}, "InferenceService name"),
        ({"name": "a" * 54}, "at most 53"),
        ({"name": "has_underscore"}, "InferenceService name"),
        ({"protocol": "v3"}, "v1 or v2"),
        ({"min_replicas": 3, "max_replicas": 2}, "Replicas"),
        ({"max_replicas": 0}, "Replicas"),
        ({"min_replicas": -1}, "Replicas"),
        ({"resources": {"requests": {"cpu": "lots"}}}, "not a Kubernetes quantity"),
        ({"resources": {"requests": {"memory": "1.5.3Gi"}}}, "not a Kubernetes quantity"),
        ({"resources": {"requests": {"memory": "0"}}}, "more than 0"),
        ({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}, "more than its limit"),
        ({"resources": {"request": {"cpu": "1"}}}, "'requests' and 'limits'"),
        ({"framework": "xgboost"}, "scikit-learn runtime"),
    ],
)
def test_what_kubernetes_or_kserve_would_refuse_is_refused_first(
    changes: dict[str, Any], message: str
) -> None:
    record_fields = {"uri", "framework"}
    record = _version(**{k: v for k, v in changes.items() if k in record_fields})
    options = {k: v for k, v in changes.items() if k not in record_fields}
    with pytest.raises(ConfigError, match=re.escape(message)):
        inference_service(record, **options)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Decimal("0.1")),
        ("1", Decimal(1)),
        ("1.5", Decimal("1.5")),
        ("512Mi", Decimal(512 * 2**20)),
        ("2Gi", Decimal(2 * 2**30)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        (".5", Decimal("0.5")),
        (2, Decimal(2)),
    ],
)
def test_quantities_parse_as_kubernetes_parses_them(text: str | int, value: Decimal) -> None:
    from kubernetes.utils import parse_quantity as k8s_quantity

    assert parse_quantity(text) == value == k8s_quantity(text)


def test_yaml_round_trips_and_keeps_versions_as_strings() -> None:
    manifest = inference_service(_version())
    text = to_yaml(manifest)
    assert yaml.safe_load(text) == manifest
    assert text.startswith("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n")
    assert "kubeline.io/model-version: '3'" in text


def test_schema_subset_refuses_misspelt_fields() -> None:
    manifest = inference_service(_version())
    manifest["spec"]["predictor"]["model"]["storageURI"] = "gs://x/y"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(manifest, INFERENCE_SERVICE_SUBSET)
    pod = _pod_from(inference_service(_version()))
    pod["spec"]["containers"][0]["resources"]["request"] = {"cpu": "1"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


# -- the CLI: `kubeline deploy kserve` ---------------------------------------------------


@pytest.fixture
def registered(kubeline_home: Path, tmp_path: Path) -> ModelVersionRecord:
    """A small scikit-learn model registered in this test's store, as a user would."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from kubeline.registry import register_file
    from kubeline.store import database_url, open_store

    frame = load_iris(as_frame=True)
    model = LogisticRegression(max_iter=500).fit(frame.data, frame.target)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    with contextlib.closing(open_store(database_url(kubeline_home))) as store:
        version, _ = register_file(store, path, "iris-classifier", models_root=kubeline_home)
        store.models.set_alias("iris-classifier", "production", version.version)
    return version


def _deploy_app() -> typer.Typer:
    """The CLI with `deploy`: the real one once cli/app.py adds deploy_app, else a stand-in
    that mounts deploy_app the same way."""
    if any(group.name == "deploy" for group in cli_app.app.registered_groups):
        return cli_app.app
    from kubeline.cli.deploy import deploy_app

    stand_in = typer.Typer(pretty_exceptions_enable=False, add_completion=False)

    @stand_in.callback()
    def _root() -> None:
        pass

    stand_in.add_typer(deploy_app, name="deploy")
    return stand_in


def _run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(cli_app, "app", _deploy_app())
    return cli_app.main(["deploy", "kserve", *args])


def _fake_kubectl(folder: Path, monkeypatch: pytest.MonkeyPatch, *, fail: str = "") -> Path:
    """A kubectl that records its arguments and the manifest it was given."""
    bin_dir = folder / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "kubectl"
    body = (
        f'echo "$@" > "{folder}/kubectl-args"\ncp "$3" "{folder}/applied.yaml"\n'
        'echo "inferenceservice.serving.kserve.io/iris-classifier created"\n'
    )
    if fail:
        body = f'echo "{fail}" >&2\nexit 1\n'
    script.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_cli_prints_the_manifest_for_an_alias(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registered: ModelVersionRecord,
) -> None:
    code = _run(monkeypatch, "iris-classifier@production", "--storage-uri", "gs://b/m/iris/1")
    out, err = capsys.readouterr()
    assert code == 0, err
    manifest = yaml.safe_load(out)
    check_manifest(manifest)
    assert manifest["metadata"]["annotations"]["kubeline.io/model-version"] == str(
        registered.version
    )
    assert manifest["metadata"]["annotations"]["kubeline.io/model-digest"] == (
        f"sha256:{registered.digest}"
    )
    assert "kubectl apply -f" in err


def test_cli_refuses_a_model_only_on_this_machine(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registered: ModelVersionRecord,
) -> None:
    code = _run(monkeypatch, "iris-classifier:1")
    err = capsys.readouterr().err
    assert code == 2
    assert "Upload it first" in err and "gsutil cp" in err and "--storage-uri" in err


def test_cli_writes_the_file_and_json(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registered: ModelVersionRecord,
    tmp_path: Path,
) -> None:
    target = tmp_path / "out" / "iris.yaml"
    code = _run(
        monkeypatch,
        "iris-classifier",
        "--storage-uri",
        "s3://models/iris/1",
        "--protocol",
        "v2",
        "--namespace",
        "serving",
        "-o",
        str(target),
        "--output",
        "json",
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    document = json.loads(out)
    assert document["file"] == str(target) and document["applied"] is False
    assert yaml.safe_load(target.read_text(encoding="utf-8")) == document["manifest"]
    assert document["manifest"]["spec"]["predictor"]["model"]["protocolVersion"] == "v2"
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temp left
    check_manifest(document["manifest"])


def test_cli_apply_runs_fake_kubectl_on_the_manifest(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registered: ModelVersionRecord,
    tmp_path: Path,
) -> None:
    _fake_kubectl(tmp_path, monkeypatch)
    code = _run(monkeypatch, "iris-classifier", "--storage-uri", "gs://b/iris", "--apply")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (tmp_path / "kubectl-args").read_text().split()[:2] == ["apply", "-f"]
    applied = yaml.safe_load((tmp_path / "applied.yaml").read_text(encoding="utf-8"))
    check_manifest(applied)
    assert "created" in out


def test_cli_apply_without_kubectl_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registered: ModelVersionRecord,
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code = _run(monkeypatch, "iris-classifier", "--storage-uri", "gs://b/iris", "--apply")
    err = capsys.readouterr().err
    assert code == 2
    assert "kubectl is not installed" in err and "gcloud components install kubectl" in err


def test_cli_apply_on_a_cluster_without_kserve_names_the_cause(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registered: ModelVersionRecord,
    tmp_path: Path,
) -> None:
    _fake_kubectl(
        tmp_path,
        monkeypatch,
        fail='error: resource mapping not found for name: "iris-classifier": no matches for '
        'kind "InferenceService" in version "serving.kserve.io/v1beta1"',
    )
    code = _run(monkeypatch, "iris-classifier", "--storage-uri", "gs://b/iris", "--apply")
    err = capsys.readouterr().err
    assert code == 2
    assert "KServe is not installed" in err


def test_cli_unknown_model_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kubeline_home: Path
) -> None:
    code = _run(monkeypatch, "no-such-model", "--storage-uri", "gs://b/x")
    assert code == 2
    assert "No model named 'no-such-model'" in capsys.readouterr().err


def test_cli_options_match_the_function() -> None:
    """Every inference_service option is reachable from the command line."""
    from kubeline.cli.deploy import kserve_command

    cli = set(inspect.signature(kserve_command).parameters)
    for option in inspect.signature(inference_service).parameters:
        # default_image is KUBELINE_IMAGE, which the command resolves and passes down.
        if option in ("version", "resources", "default_image"):
            continue
        assert option in cli, option


# -- the kubeline runtime: kubeline serve in kubeline's image ---------------------------


def test_a_model_made_with_kubeline_gets_the_kubeline_runtime() -> None:
    version = _version(libraries={"kubeline": "0.1.0", "scikit-learn": "1.9.1"})
    manifest = inference_service(version, storage_uri="gs://bucket/models/bcc/1")
    check_manifest(manifest)
    (container,) = manifest["spec"]["predictor"]["containers"]
    assert "model" not in manifest["spec"]["predictor"]
    assert container["name"] == "kserve-container"
    assert container["command"] == ["kubeline"]
    assert container["args"][:3] == ["serve", "--model-dir", "/mnt/models"]
    assert {"name": "STORAGE_URI", "value": "gs://bucket/models/bcc/1"} in container["env"]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    forced = inference_service(version, storage_uri="gs://bucket/m", runtime="sklearn")
    assert forced["spec"]["predictor"]["model"]["modelFormat"]["name"] == "sklearn"


def test_the_kubeline_containers_command_serves_the_registered_model(
    tmp_path: Path, kubeline_home: Path
) -> None:
    """Run the manifest's own command here, on a folder laid out as KServe's storage
    initializer lays out /mnt/models: the registry's copy of a model and its card."""
    import shutil
    import subprocess
    import sys
    import time

    import httpx
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from kubeline.registry import register_file
    from kubeline.store import database_url, open_store
    from tests.live import free_port

    frame = load_iris(as_frame=True).frame
    model = LogisticRegression(max_iter=500).fit(frame.drop(columns="target"), frame.target)
    source = tmp_path / "fitted.joblib"
    joblib.dump(model, source)
    with open_store(database_url(kubeline_home)) as store:
        version, _ = register_file(store, source, "iris", models_root=kubeline_home / "models")
    mnt = tmp_path / "mnt-models"
    shutil.copytree(Path(version.uri).parent, mnt)
    (mnt / "card.md").write_text("# a card beside the model")
    manifest = inference_service(
        _version(name="iris", libraries={"kubeline": "0.1.0"}), storage_uri="gs://b/iris/1"
    )
    args = list(manifest["spec"]["predictor"]["containers"][0]["args"])
    port = free_port()
    args[args.index("/mnt/models")] = str(mnt)
    args[args.index("0.0.0.0")] = "127.0.0.1"
    args[args.index("8080")] = str(port)
    server = subprocess.Popen(
        [sys.executable, "-m", "kubeline", *args, "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        rows = frame.drop(columns="target").iloc[[0, 60, 120]]
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/v1/models/iris:predict",
                    json={"instances": rows.to_numpy().tolist()},
                    timeout=10,
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.2)
        assert answer.json() == {"predictions": model.predict(rows).tolist()}
    finally:
        server.terminate()
        server.wait(timeout=30)
