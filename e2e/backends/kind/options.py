"""Command-line options of the kind backend, and the checks that run before any work starts."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cniqs import REPO
from e2e.backends.base import Targets
from e2e.backends.kind import commands as c
from e2e.backends.kind.cluster import IP_FAMILIES
from e2e.backends.kind.nodeutils import Runner, run_process

DEFAULT_TARGET_IP = "1.1.1.1"
DEFAULT_TARGET_NAME = "kubernetes.io"
DEFAULT_POD_IMAGE = "alpine:3.20"
DEFAULT_ARTIFACTS = REPO / "artifacts" / "kind"

INSTALL_HINTS = {
    "kind": "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation "
    "(or point CNIQS_KIND or KIND at a kind binary)",
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop",
    "kubectl": "install kubectl: https://kubernetes.io/docs/tasks/tools/",
}


def add_options(group: Any) -> None:
    add = group.addoption
    add(
        "--k8s-version",
        default="",
        metavar="X.Y|all",
        help="Kubernetes minor from the kind versions table (default: the newest); 'all' runs the suite per version",
    )
    add(
        "--kind-cluster",
        default="",
        metavar="NAME",
        help="reuse this existing kind cluster instead of creating one (a cni-quickstart installed there by hand "
        "is removed: the suite cannot tell it from its own)",
    )
    add("--kind-keep", action="store_true", help="keep the cluster this run created (prints how to delete it)")
    add("--kind-workers", type=int, default=1, metavar="N", help="worker nodes besides the control plane (default 1)")
    add("--kind-ip-family", choices=IP_FAMILIES, default="ipv4", help="cluster IP family (default ipv4)")
    add(
        "--kind-artifacts",
        default=str(DEFAULT_ARTIFACTS),
        metavar="DIR",
        help="where diagnostics go when something fails (default artifacts/kind)",
    )
    add(
        "--kind-target-ip",
        default=DEFAULT_TARGET_IP,
        metavar="IP",
        help=f"external IP the connectivity tests ping (default {DEFAULT_TARGET_IP})",
    )
    add(
        "--kind-target-name",
        default=DEFAULT_TARGET_NAME,
        metavar="NAME",
        help=f"external name the connectivity tests ping (default {DEFAULT_TARGET_NAME})",
    )
    add("--kind-target-url", default="", metavar="URL", help="URL the connectivity tests fetch (default: none)")
    add(
        "--kind-pod-image",
        default=DEFAULT_POD_IMAGE,
        metavar="IMAGE",
        help=f"image of test pods (default {DEFAULT_POD_IMAGE})",
    )
    add("--kind-rebuild", action="store_true", help="rebuild the node executable even if a cached build is current")


@dataclass(frozen=True)
class KindOptions:
    k8s_version: str
    reuse_cluster: str
    keep: bool
    workers: int
    ip_family: str
    artifacts: Path
    targets: Targets
    pod_image: str
    rebuild: bool


def read_options(get: Callable[[str], Any]) -> KindOptions:
    """KindOptions from a getoption callable (pytest's config.getoption)."""
    url = get("--kind-target-url") or None
    return KindOptions(
        k8s_version=get("--k8s-version") or "",
        reuse_cluster=get("--kind-cluster") or "",
        keep=bool(get("--kind-keep")),
        workers=int(get("--kind-workers")),
        ip_family=get("--kind-ip-family"),
        artifacts=Path(get("--kind-artifacts")),
        targets=Targets(ip=get("--kind-target-ip"), name=get("--kind-target-name"), url=url),
        pod_image=get("--kind-pod-image"),
        rebuild=bool(get("--kind-rebuild")),
    )


def option_problems(opts: KindOptions, versions: int) -> list[str]:
    found = []
    if opts.reuse_cluster and versions > 1:
        found.append("--kind-cluster reuses one cluster, so it needs one --k8s-version, not all")
    if opts.workers < 1:
        found.append("--kind-workers must be at least 1: the suite needs pods on two nodes")
    return found


def tool_problems(
    which: Callable[[str], str | None] = shutil.which,
    run: Runner = run_process,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """kind, docker (with buildx and a daemon that answers) and kubectl: each missing one, and how to get it."""
    env = os.environ if environ is None else environ
    found = []
    kind = c.kind_binary(env)
    if which(kind) is None:
        source = next((f"${var}" for var in c.KIND_ENV_VARS if env.get(var)), "PATH")
        found.append(f"kind not found (looked for {kind!r} from {source}): {INSTALL_HINTS['kind']}")
    if which("kubectl") is None:
        found.append(f"kubectl not found on PATH: {INSTALL_HINTS['kubectl']}")
    if which("docker") is None:
        found.append(f"docker not found on PATH: {INSTALL_HINTS['docker']}")
        return found
    info = run(c.docker_info(), timeout=30)
    if info.rc != 0:
        reason = (info.stderr.strip().splitlines() or ["no output"])[-1]
        found.append(
            f"the Docker daemon does not answer (`docker info` failed: {reason}): start Docker, "
            "or check DOCKER_HOST and that this user may use the Docker socket"
        )
    elif run(c.docker_buildx_version(), timeout=30).rc != 0:
        found.append(
            "docker buildx is missing: it builds the plugin for the nodes' platform; "
            "install the buildx plugin (https://docs.docker.com/build/install-buildx/)"
        )
    return found
