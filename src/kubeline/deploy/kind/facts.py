"""The facts ``kubeline cluster`` relies on: pinned releases, names and thresholds, with
their sources, kept in one place so a KFP or kind upgrade is one edit.

* KFP 2.x standalone install: ``cluster-scoped-resources``, then wait for the
  ``applications.app.k8s.io`` CRD, then the ``env/platform-agnostic`` overlay, then
  port-forward ``svc/ml-pipeline-ui`` (kubeflow.org, Pipelines > Operator guides >
  Installation). ``env/dev`` is the GCP flavour: its ``proxy-agent`` crash-loops elsewhere
  (kubeflow/pipelines#9546, #9719); ``env/platform-agnostic-pns`` was removed with Argo's
  PNS executor (kubeflow/pipelines#12981).
* inotify limits for kind on Linux: kind's "Known Issues" page, "Pod errors due to too
  many open files".
* The node image: the release notes of kind v0.33.0, which lists the images built for it.
"""

from __future__ import annotations

__all__ = [
    "CRD_WAIT",
    "DEFAULT_CLUSTER",
    "DEFAULT_KFP_VERSION",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "DOCKER_INFO",
    "INOTIFY_MINIMUMS",
    "KFP_MANIFESTS",
    "KFP_NAMESPACE",
    "KIND_CLUSTERS",
    "KIND_NODE_IMAGE",
    "KIND_RELEASE",
    "KIND_VERSION",
    "RECOMMENDED_CPUS",
    "RECOMMENDED_FREE_DISK_GB",
    "RECOMMENDED_MEMORY_GB",
    "SYSCTL_FILE",
    "UI_SERVICE",
]

DEFAULT_CLUSTER = "kubeline"
DEFAULT_KFP_VERSION = "2.17.0"
DEFAULT_PORT = 8080
#: Seconds for each command, and for every KFP deployment to become Available.
DEFAULT_TIMEOUT = 900
KFP_NAMESPACE = "kubeflow"
KFP_MANIFESTS = "github.com/kubeflow/pipelines/manifests/kustomize"
UI_SERVICE = "svc/ml-pipeline-ui"

#: The kind release :data:`KIND_NODE_IMAGE` was built for. kind supports a node image only
#: with the release that built it, hence the digest (kind v0.33.0 release notes, which
#: list v1.37.0, v1.36.4, v1.35.8 and v1.34.11). 1.35 is one minor behind kind's default:
#: recent for KFP 2.17, not its newest. It needs cgroup v2; on a cgroup v1 host pass
#: ``--node-image`` with the v1.34.11 image of the same notes.
KIND_RELEASE = "0.33.0"
KIND_NODE_IMAGE = (
    "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0"
)

#: kind's known-issues page: below these, pods fail with "too many open files".
INOTIFY_MINIMUMS = {"max_user_watches": 524288, "max_user_instances": 512}
SYSCTL_FILE = "/etc/sysctl.d/99-kubeline-inotify.conf"

#: What KFP standalone runs comfortably on (see docs/guide-kind.md for the sources).
RECOMMENDED_CPUS = 4
RECOMMENDED_MEMORY_GB = 8
#: kind's node image and KFP's images take several GB; pipelines add their artifacts.
RECOMMENDED_FREE_DISK_GB = 20
CRD_WAIT = "60s"

#: The read-only commands ``up`` starts with (and ``status`` reuses).
DOCKER_INFO = ("docker", "info", "--format", "{{json .}}")
KIND_VERSION = ("kind", "version")
KIND_CLUSTERS = ("kind", "get", "clusters")
