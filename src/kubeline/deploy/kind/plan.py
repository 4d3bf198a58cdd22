"""The plan of ``kubeline cluster up``: a fixed list of commands decided before anything
runs, so ``--dry-run`` shows exactly what would run, and the checks of the names and
versions that go into it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from kubeline.deploy.kind.facts import (
    CRD_WAIT,
    DEFAULT_CLUSTER,
    DEFAULT_KFP_VERSION,
    DEFAULT_PORT,
    DEFAULT_TIMEOUT,
    DOCKER_INFO,
    KFP_MANIFESTS,
    KFP_NAMESPACE,
    KIND_CLUSTERS,
    KIND_NODE_IMAGE,
    KIND_VERSION,
    UI_SERVICE,
)
from kubeline.errors import ConfigError

__all__ = [
    "Step",
    "StepKey",
    "UpPlan",
    "context_of",
    "kind_config",
    "plan_up",
    "validate_cluster_name",
    "validate_kfp_version",
]

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.]+)?")
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?")

StepKey = Literal[
    "docker-info",
    "kind-version",
    "kind-clusters",
    "create-cluster",
    "apply-cluster-scoped",
    "wait-crd",
    "apply-kfp",
    "wait-deployments",
    "port-forward",
]


@dataclass(frozen=True)
class Step:
    """One command of the plan, and why it runs."""

    key: StepKey
    argv: tuple[str, ...]
    purpose: str
    timeout: float | None
    retries: int = 0

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class UpPlan:
    """Everything ``kubeline cluster up`` will do, decided before anything runs."""

    name: str
    kfp_version: str
    port: int
    timeout: float
    node_image: str
    config_path: Path
    kind_config: str
    steps: tuple[Step, ...]

    @property
    def context(self) -> str:
        return context_of(self.name)

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def commands(self) -> list[str]:
        return [step.command for step in self.steps]

    def script(self) -> str:
        """The plan as shell lines, with the kind config written where ``up`` writes it."""
        lines = []
        for step in self.steps:
            if step.key == "create-cluster":
                lines.append(f"cat > {shlex.quote(str(self.config_path))} <<'EOF'")
                lines.extend(self.kind_config.rstrip("\n").splitlines())
                lines.append("EOF")
            lines.append(step.command)
        return "\n".join(lines) + "\n"

    def to_dict(self, warnings: Sequence[str] = ()) -> dict[str, Any]:
        return {
            "commands": self.commands,
            "kind_config": self.kind_config,
            "warnings": list(warnings),
        }


def context_of(name: str) -> str:
    """The kubectl context kind creates for a cluster; every kubectl call names it, so no
    other cluster is ever touched, whatever the current context is."""
    return f"kind-{name}"


def validate_kfp_version(version: str) -> str:
    """A KFP 2.x release such as ``2.17.0``; :class:`ConfigError` otherwise."""
    version = version.strip().removeprefix("v")
    found = _VERSION.fullmatch(version)
    if not found:
        raise ConfigError(
            f"--kfp-version '{version}' is not a KFP release: give one like {DEFAULT_KFP_VERSION} "
            "(the list: https://github.com/kubeflow/pipelines/releases)."
        )
    if found.group(1) != "2":
        raise ConfigError(
            f"--kfp-version {version}: kubeline installs Kubeflow Pipelines 2.x, whose "
            f"manifests it knows; give one like {DEFAULT_KFP_VERSION}."
        )
    return version


def validate_cluster_name(name: str) -> str:
    """A kind cluster name: lowercase letters, digits and '-', at most 50 characters."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"--name '{name}' cannot name a kind cluster: use lowercase letters, digits and "
            "'-', starting and ending with a letter or digit, at most 50 characters "
            f"(e.g. {DEFAULT_CLUSTER})."
        )
    return name


def kind_config(name: str, node_image: str = KIND_NODE_IMAGE) -> str:
    """The kind cluster config ``up`` writes: one node, the pinned image."""
    document = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": name,
        "nodes": [{"role": "control-plane", "image": node_image}],
    }
    header = "# Written by 'kubeline cluster up': one kind node for Kubeflow Pipelines.\n"
    return header + yaml.safe_dump(document, sort_keys=False)


def plan_up(
    name: str = DEFAULT_CLUSTER,
    kfp_version: str = DEFAULT_KFP_VERSION,
    *,
    config_path: Path,
    port: int = DEFAULT_PORT,
    timeout: float = DEFAULT_TIMEOUT,
    node_image: str = KIND_NODE_IMAGE,
    port_forward: bool = True,
) -> UpPlan:
    """The commands of ``kubeline cluster up``, in order (validates name and version)."""
    name = validate_cluster_name(name)
    kfp_version = validate_kfp_version(kfp_version)
    kubectl = ("kubectl", "--context", context_of(name))
    steps = [
        Step("docker-info", DOCKER_INFO, "Check that the Docker daemon answers", 60),
        Step("kind-version", KIND_VERSION, "Check the kind release", 60),
        Step("kind-clusters", KIND_CLUSTERS, f"Check that no cluster is named {name}", 60),
        Step(
            "create-cluster",
            ("kind", "create", "cluster", "--name", name, "--config", str(config_path)),
            f"Create the kind cluster {name}",
            timeout,
        ),
        Step(
            "apply-cluster-scoped",
            (
                *kubectl,
                "apply",
                "-k",
                f"{KFP_MANIFESTS}/cluster-scoped-resources?ref={kfp_version}",
            ),
            f"Install KFP {kfp_version}'s cluster-wide resources (CRDs)",
            timeout,
            retries=2,
        ),
        Step(
            "wait-crd",
            (
                *kubectl,
                "wait",
                "--for",
                "condition=established",
                f"--timeout={CRD_WAIT}",
                "crd/applications.app.k8s.io",
            ),
            "Wait for the Application CRD",
            90,
        ),
        Step(
            "apply-kfp",
            (*kubectl, "apply", "-k", f"{KFP_MANIFESTS}/env/platform-agnostic?ref={kfp_version}"),
            f"Install KFP {kfp_version} (the platform-agnostic overlay)",
            timeout,
            retries=2,
        ),
        Step(
            "wait-deployments",
            (*kubectl, "get", "deployments", "-n", KFP_NAMESPACE, "-o", "json"),
            f"Wait until every deployment in {KFP_NAMESPACE} is Available",
            timeout,
        ),
    ]
    if port_forward:
        steps.append(
            Step(
                "port-forward",
                (*kubectl, "port-forward", "-n", KFP_NAMESPACE, UI_SERVICE, f"{port}:80"),
                f"Forward the KFP UI and API to http://127.0.0.1:{port}",
                None,
            )
        )
    return UpPlan(
        name=name,
        kfp_version=kfp_version,
        port=port,
        timeout=timeout,
        node_image=node_image,
        config_path=config_path,
        kind_config=kind_config(name, node_image),
        steps=tuple(steps),
    )
