"""A KServe ``InferenceService`` for a registered model version, so the model kubeline
serves on this machine (``kubeline serve``) can be served by KServe on a cluster.

The manifest names the model, its version, content digest and producing run in labels and
annotations, so ``kubectl get inferenceservices -l kubeline.io/model=NAME`` finds it and the
lineage goes with it. Everything Kubernetes would refuse (names, quantities, replicas, a
storage URI the cluster cannot read) is refused here first, with the fix.

KServe facts used, from KServe's v1beta1 API (``InferenceService`` CRD) and its
``sklearnserver``: the predictor's ``model.modelFormat.name`` ``sklearn`` selects the
scikit-learn runtime, which loads the one ``.joblib``/``.pkl``/``.pickle`` file found under
``storageUri``; ``protocolVersion`` ``v2`` switches it to the Open Inference Protocol; the
predictor's ``image`` replaces the runtime's image.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import yaml

from kubeline.errors import ConfigError
from kubeline.pipelines.image import DEFAULT_IMAGE
from kubeline.store import ModelVersionRecord

__all__ = [
    "DEFAULT_RESOURCES",
    "LABEL_PREFIX",
    "STORAGE_SCHEMES",
    "check_dns_label",
    "check_storage_uri",
    "inference_service",
    "parse_quantity",
    "service_name",
    "to_yaml",
]

API_VERSION = "serving.kserve.io/v1beta1"
LABEL_PREFIX = "kubeline.io/"
#: What KServe's storage initializer can fetch and this command accepts.
STORAGE_SCHEMES = ("gs://", "s3://", "pvc://")
#: Enough for a scikit-learn model server with pandas; limits keep a runaway pod bounded.
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "512Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}

# Kubernetes names (apimachinery validation): a DNS-1123 label, and a DNS-1035 label (which
# must start with a letter) for the InferenceService, whose name becomes a Service's name.
_DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# KServe names the predictor's Service and Deployment NAME-predictor: 63 - len("-predictor").
_MAX_SERVICE_NAME = 53
# Label values: at most 63 characters, alphanumerics, '-', '_' and '.', alphanumeric ends.
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
# Quantities, as apimachinery's resource.Quantity parses them.
_QUANTITY = re.compile(r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?P<suffix>.*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_EXPONENT = re.compile(r"^[eE][+-]?[0-9]+$")


def check_dns_label(value: str, what: str, *, max_length: int = 63, dns_1035: bool = False) -> str:
    """A Kubernetes name, or a ConfigError that states the rule."""
    pattern = _DNS_1035_LABEL if dns_1035 else _DNS_1123_LABEL
    if not value or len(value) > max_length or not pattern.match(value):
        start = "a letter" if dns_1035 else "a letter or digit"
        raise ConfigError(
            f"'{value}' cannot be {what}: use at most {max_length} lowercase letters, digits "
            f"and '-', starting with {start} and ending with a letter or digit."
        )
    return value


def service_name(model_name: str) -> str:
    """The InferenceService name a model gets by default: its name made a DNS-1035 label.

    One name per model, not per version, so applying a new version rolls the same service.
    """
    name = re.sub(r"[^a-z0-9-]+", "-", model_name.lower())
    name = re.sub(r"-{2,}", "-", name).strip("-")
    if not name or not name[0].isalpha():
        name = f"model-{name}".rstrip("-")
    return name[:_MAX_SERVICE_NAME].rstrip("-")


def parse_quantity(text: str | int | float, what: str = "quantity") -> Decimal:
    """A Kubernetes resource quantity (``100m``, ``1``, ``512Mi``, ``1e3``) as a number.

    Raises:
        ConfigError: not a quantity Kubernetes accepts.
    """
    raw = str(text).strip()
    match = _QUANTITY.match(raw)
    suffix = match["suffix"] if match else ""
    if match is None or not (suffix in _BINARY or suffix in _DECIMAL or _EXPONENT.match(suffix)):
        raise ConfigError(
            f"'{text}' is not a Kubernetes quantity for {what}: use e.g. 250m or 1 for CPU, "
            "512Mi or 2Gi for memory."
        )
    try:
        number = Decimal(match["number"])
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise ConfigError(f"'{text}' is not a number for {what}.") from exc
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    return number.scaleb(int(suffix[1:]))


def _check_resources(resources: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    unknown = sorted(set(resources) - {"requests", "limits"})
    if unknown:
        raise ConfigError(f"Resources take 'requests' and 'limits', not {', '.join(unknown)}.")
    checked: dict[str, dict[str, str]] = {}
    for kind, values in resources.items():
        checked[kind] = {}
        for resource, value in (values or {}).items():
            amount = parse_quantity(value, f"{kind}.{resource}")
            if amount <= 0:
                raise ConfigError(f"{kind}.{resource} must be more than 0, not '{value}'.")
            checked[kind][str(resource)] = str(value)
    for resource, value in checked.get("requests", {}).items():
        limit = checked.get("limits", {}).get(resource)
        if limit is not None and parse_quantity(value) > parse_quantity(limit):
            raise ConfigError(
                f"The {resource} request ({value}) is more than its limit ({limit}); "
                "Kubernetes refuses that. Raise the limit or lower the request."
            )
    return {k: v for k, v in checked.items() if v}


def check_storage_uri(uri: str, *, given: bool, folder: str = "models/NAME/VERSION") -> str:
    """A URI the cluster can fetch the model from; a path on this machine is refused.

    ``given`` says whether the user passed it (``--storage-uri``) or it is the registry's;
    ``folder`` is the bucket folder the refusal suggests uploading to.
    """
    if uri.startswith(STORAGE_SCHEMES) and len(uri.split("://", 1)[1].strip("/")) > 0:
        return uri
    if given:
        raise ConfigError(
            f"--storage-uri must start with {', '.join(STORAGE_SCHEMES)} (where KServe can "
            f"fetch the model from), not '{uri}'."
        )
    local = uri.removeprefix("file://")
    raise ConfigError(
        f"The model is at '{local}', on this machine, where the cluster cannot read it. "
        f"Upload it first, named model.joblib (KServe loads the one .joblib file it finds): "
        f"'gsutil cp {local} gs://BUCKET/{folder}/model.joblib' (or 'gcloud storage cp'), "
        f"then pass --storage-uri gs://BUCKET/{folder}."
    )


def _label_value(text: str) -> str:
    """``text`` fitted to a label value (63 characters, alphanumeric ends); the exact value
    goes in an annotation."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63]
    value = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)
    return value if _LABEL_VALUE.match(value) else ""


def inference_service(
    version: ModelVersionRecord,
    *,
    storage_uri: str | None = None,
    namespace: str = "default",
    protocol: Literal["v1", "v2"] = "v1",
    name: str | None = None,
    min_replicas: int = 1,
    max_replicas: int = 1,
    resources: Mapping[str, Mapping[str, Any]] | None = None,
    image: str | None = None,
    runtime: Literal["auto", "kubeline", "sklearn"] = "auto",
    default_image: str = DEFAULT_IMAGE,
) -> dict[str, Any]:
    """The ``InferenceService`` serving ``version``.

    ``runtime``: ``sklearn`` uses KServe's scikit-learn runtime; ``kubeline`` runs
    ``kubeline serve --model-dir /mnt/models`` in kubeline's image (``image``, else
    ``default_image``: the pipeline image, which the CLI resolves from ``KUBELINE_IMAGE``),
    where KServe's storage initializer puts the model. ``auto`` picks ``kubeline`` for a
    model made with kubeline (a lifecycle model's feature step is a kubeline class, which
    the stock runtime cannot load) and ``sklearn`` otherwise.

    ``storage_uri`` (gs://, s3:// or pvc://) is where the cluster fetches the model; without
    it the registry's URI is used, which must already be one of those. ``image`` replaces
    the runtime's image, e.g. with one that has kubeline installed (its models' feature
    steps are kubeline classes).

    Raises:
        ConfigError: a name, namespace, quantity, replica count, protocol or URI that
            Kubernetes or KServe would refuse.
    """
    uri = check_storage_uri(
        storage_uri or version.uri,
        given=storage_uri is not None,
        folder=f"models/{version.name}/{version.version}",
    )
    namespace = check_dns_label(namespace, "a namespace")
    if name is None:
        name = service_name(version.name)
    check_dns_label(name, "an InferenceService name", max_length=_MAX_SERVICE_NAME, dns_1035=True)
    if protocol not in ("v1", "v2"):
        raise ConfigError(f"The protocol is v1 or v2, not '{protocol}'.")
    if min_replicas < 0 or max_replicas < 1 or min_replicas > max_replicas:
        raise ConfigError(
            f"Replicas must satisfy 0 <= min ({min_replicas}) <= max ({max_replicas}) and max >= 1."
        )
    if version.framework and version.framework != "sklearn":
        raise ConfigError(
            f"{version.name}:{version.version} is a {version.framework} model; this manifest "
            "uses KServe's scikit-learn runtime."
        )
    checked = _check_resources(DEFAULT_RESOURCES if resources is None else resources)
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/managed-by": "kubeline",
        f"{LABEL_PREFIX}model": _label_value(version.name),
        f"{LABEL_PREFIX}model-version": str(version.version),
    }
    if version.digest:
        labels[f"{LABEL_PREFIX}model-digest"] = version.digest[:16]
    if version.run_id and _label_value(version.run_id) == version.run_id:
        labels[f"{LABEL_PREFIX}run-id"] = version.run_id
    annotations = {
        f"{LABEL_PREFIX}model": version.name,
        f"{LABEL_PREFIX}model-version": str(version.version),
        f"{LABEL_PREFIX}model-digest": f"sha256:{version.digest}" if version.digest else "",
        f"{LABEL_PREFIX}run-id": version.run_id or "",
        f"{LABEL_PREFIX}registered-at": version.created_at.isoformat(),
    }
    sklearn = version.libraries.get("scikit-learn")
    if sklearn:
        annotations[f"{LABEL_PREFIX}scikit-learn-version"] = str(sklearn)
    model: dict[str, Any] = {"modelFormat": {"name": "sklearn"}}
    if sklearn and str(sklearn).split(".")[0].isdigit():
        model["modelFormat"]["version"] = str(sklearn).split(".")[0]
    if protocol == "v2":
        model["protocolVersion"] = "v2"
    model["storageUri"] = uri
    if image:
        model["image"] = image
    if checked:
        model["resources"] = checked
    if runtime == "auto":
        runtime = "kubeline" if "kubeline" in version.libraries else "sklearn"
    if runtime not in ("kubeline", "sklearn"):
        raise ConfigError(f"The runtime is kubeline or sklearn, not '{runtime}'.")
    predictor: dict[str, Any] = {"minReplicas": min_replicas, "maxReplicas": max_replicas}
    if runtime == "kubeline":
        annotations[f"{LABEL_PREFIX}protocols"] = "v1,v2"
        container: dict[str, Any] = {
            # KServe's name for the serving container; STORAGE_URI makes its storage
            # initializer fetch the model into /mnt/models first.
            "name": "kserve-container",
            "image": image or default_image,
            "command": ["kubeline"],
            "args": [
                "serve",
                "--model-dir",
                "/mnt/models",
                "--name",
                version.name,
                "--host",
                "0.0.0.0",
                "--port",
                "8080",
            ],
            "env": [{"name": "STORAGE_URI", "value": uri}],
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        }
        if checked:
            container["resources"] = checked
        predictor["containers"] = [container]
    else:
        predictor["model"] = model
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {k: v for k, v in labels.items() if v},
            "annotations": {k: v for k, v in annotations.items() if v},
        },
        "spec": {"predictor": predictor},
    }


def to_yaml(manifest: Mapping[str, Any]) -> str:
    """The manifest as ``kubectl apply -f`` reads it, keys in the order written."""
    return yaml.safe_dump(dict(manifest), sort_keys=False, default_flow_style=False)
