"""A local kind cluster with standalone Kubeflow Pipelines: checks, the plan, and running it.

``kubeline cluster up`` is a fixed list of commands (:func:`plan_up`), so ``--dry-run`` can
show exactly what would run. Every program (``docker``, ``kind``, ``kubectl``) is started
through :func:`run_command`, so tests stand in for them with fake executables on PATH.
Nothing here prints: progress goes to an ``on_event`` callback, results are returned.

The package, one concept a module: :mod:`.facts` (pinned releases and names, with their
sources), :mod:`.commands` (running a program), :mod:`.prerequisites` (what this machine
needs), :mod:`.plan` (the commands of ``up``), :mod:`.status` (what the cluster is like now)
and :mod:`.lifecycle` (up, the UI's port-forward, down). Callers use the names below.
"""

from __future__ import annotations

from kubeline.deploy.kind.commands import (
    CommandFailedError,
    CommandResult,
    MissingToolError,
    Runner,
    install_hint,
    run_command,
)
from kubeline.deploy.kind.facts import (
    DEFAULT_CLUSTER,
    DEFAULT_KFP_VERSION,
    DEFAULT_PORT,
    DEFAULT_TIMEOUT,
    INOTIFY_MINIMUMS,
    KFP_NAMESPACE,
    KIND_NODE_IMAGE,
    KIND_RELEASE,
    KIND_VERSION,
)
from kubeline.deploy.kind.lifecycle import (
    POLL_SECONDS,
    ClusterExistsError,
    DeploymentsTimeoutError,
    UpEvent,
    UpResult,
    cluster_down,
    cluster_up,
    port_forward,
)
from kubeline.deploy.kind.plan import (
    Step,
    UpPlan,
    context_of,
    kind_config,
    plan_up,
    validate_cluster_name,
    validate_kfp_version,
)
from kubeline.deploy.kind.prerequisites import (
    DockerNotRunningError,
    Finding,
    PortInUseError,
    check_inotify,
    check_port,
    check_resources,
    check_tools,
    docker_info,
    host_resources,
    kind_version,
)
from kubeline.deploy.kind.status import (
    ClusterStatus,
    DeploymentsStatus,
    cluster_status,
    deployments_status,
    list_clusters,
)

__all__ = [
    "DEFAULT_CLUSTER",
    "DEFAULT_KFP_VERSION",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "INOTIFY_MINIMUMS",
    "KFP_NAMESPACE",
    "KIND_NODE_IMAGE",
    "KIND_RELEASE",
    "KIND_VERSION",
    "POLL_SECONDS",
    "ClusterExistsError",
    "ClusterStatus",
    "CommandFailedError",
    "CommandResult",
    "DeploymentsStatus",
    "DeploymentsTimeoutError",
    "DockerNotRunningError",
    "Finding",
    "MissingToolError",
    "PortInUseError",
    "Runner",
    "Step",
    "UpEvent",
    "UpPlan",
    "UpResult",
    "check_inotify",
    "check_port",
    "check_resources",
    "check_tools",
    "cluster_down",
    "cluster_status",
    "cluster_up",
    "context_of",
    "deployments_status",
    "docker_info",
    "host_resources",
    "install_hint",
    "kind_config",
    "kind_version",
    "list_clusters",
    "plan_up",
    "port_forward",
    "run_command",
    "validate_cluster_name",
    "validate_kfp_version",
]
