"""The option every Kubernetes provider shares: which Kubernetes versions a run covers."""

from __future__ import annotations

from cniqs.provider import Option

K8S_VERSION = Option(
    "--k8s-version",
    "Kubernetes minor (kind: from its versions table; kube: a release pinned in cniqs.toolchain.kubebin); default the "
    "newest; 'all' runs the suite once per version",
    default="",
    metavar="X.Y|all",
)
