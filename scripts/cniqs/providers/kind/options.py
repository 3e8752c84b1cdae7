"""Command-line options of the kind provider, and the checks that run before any work starts."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cniqs.common.run import Runner, run_process
from cniqs.provider import Option, Targets
from cniqs.providers.k8s.options import K8S_VERSION
from cniqs.providers.kind import commands, egress
from cniqs.providers.kind.cluster import IP_FAMILIES

DEFAULT_TARGET_IP = "1.1.1.1"
DEFAULT_TARGET_NAME = "kubernetes.io"
DEFAULT_POD_IMAGE = "alpine:3.20"
DEFAULT_ARTIFACTS = Path("artifacts") / "kind"  # below the directory the run starts in
EGRESS = "--kind-egress"  # the suite's option, and the cniqs tool's (cniqs demo/up --kind-egress)

INSTALL_HINTS = {
    "kind": "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation "
    "(or point CNIQS_KIND or KIND at a kind binary)",
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop",
    "podman": "install podman (apt-get install podman); kind uses it with KIND_EXPERIMENTAL_PROVIDER=podman",
    "kubectl": "install kubectl: https://kubernetes.io/docs/tasks/tools/",
}


OPTIONS = (
    K8S_VERSION,
    Option(
        "--kind-cluster",
        "reuse this existing kind cluster instead of creating one (a cni-quickstart installed there by hand "
        "is removed: the suite cannot tell it from its own)",
        default="",
        metavar="NAME",
    ),
    Option("--kind-keep", "keep the cluster this run created (prints how to delete it)", action="store_true"),
    Option("--kind-workers", "worker nodes besides the control plane (default 1)", default=1, type=int, metavar="N"),
    Option("--kind-ip-family", "cluster IP family (default ipv4)", default="ipv4", choices=IP_FAMILIES),
    Option(
        "--kind-artifacts",
        "where diagnostics go when something fails (default artifacts/kind)",
        default=str(DEFAULT_ARTIFACTS),
        metavar="DIR",
    ),
    Option(
        "--kind-target-ip",
        f"external IP the connectivity tests ping (default {DEFAULT_TARGET_IP}; not with --kind-egress ci)",
        default=DEFAULT_TARGET_IP,
        metavar="IP",
    ),
    Option(
        "--kind-target-name",
        f"external name the connectivity tests resolve and ping (default {DEFAULT_TARGET_NAME})",
        default=DEFAULT_TARGET_NAME,
        metavar="NAME",
    ),
    Option(
        "--kind-target-url",
        "URL the connectivity tests fetch (default: none; with --kind-egress ci https://NAME/)",
        default="",
        metavar="URL",
    ),
    Option(
        EGRESS,
        "internet (default): pods ping --kind-target-ip and --kind-target-name, as the original demo did; "
        "ci: for runners whose NAT drops ICMP (GitHub-hosted, actions/runner-images#1519), pods ping only "
        "the kind network's gateway and prove egress by resolving the name and fetching the URL over TCP",
        default=egress.INTERNET,
        choices=egress.MODES,
    ),
    Option(
        "--kind-pod-image",
        f"image of test pods (default {DEFAULT_POD_IMAGE})",
        default=DEFAULT_POD_IMAGE,
        metavar="IMAGE",
    ),
    Option("--kind-rebuild", "rebuild the node executable even if a cached build is current", action="store_true"),
)


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
    egress_mode: str = egress.INTERNET


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
        egress_mode=get(EGRESS) or egress.INTERNET,
    )


def option_problems(opts: KindOptions, versions: int) -> list[str]:
    found = []
    if opts.reuse_cluster and versions > 1:
        found.append("--kind-cluster reuses one cluster, so it needs one --k8s-version, not all")
    if opts.workers < 1:
        found.append("--kind-workers must be at least 1: the suite needs pods on two nodes")
    if opts.egress_mode not in egress.MODES:
        found.append(f"--kind-egress {opts.egress_mode!r}: use one of {', '.join(egress.MODES)}")
    if opts.egress_mode == egress.CI and opts.targets.ip != DEFAULT_TARGET_IP:
        found.append(
            f"--kind-target-ip {opts.targets.ip} is what --kind-egress internet pings; "
            "--kind-egress ci pings the gateway of kind's network"
        )
    return found


def docker_answers(run: Runner = run_process) -> bool:
    """The Docker daemon answers `docker info`."""
    return run(commands.docker_info(), timeout=15).rc == 0


def tool_problems(
    which: Callable[[str], str | None] = shutil.which,
    run: Runner = run_process,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """kind, docker (with buildx and a daemon that answers) and kubectl, or podman: each missing one, and how to
    get it. podman when KIND_EXPERIMENTAL_PROVIDER=podman, or when there is podman and no docker (then the
    release's kubectl is built here with the node image)."""
    env = os.environ if environ is None else environ
    found = []
    podman = commands.engine(env, which) == "podman"
    kind = commands.kind_binary(env)
    if podman and which(kind) is None:
        from cniqs.providers.kind import podman as kind_podman  # the kind CLI cniqs.kubebin builds

        kind = kind_podman.kind_binary(env)
    if which(kind) is None:
        source = next((f"${var}" for var in commands.KIND_ENV_VARS if env.get(var)), "PATH")
        found.append(f"kind not found (looked for {kind!r} from {source}): {INSTALL_HINTS['kind']}")
    if which("kubectl") is None and not podman:  # on podman, the release's kubectl is built with its node image
        found.append(f"kubectl not found on PATH: {INSTALL_HINTS['kubectl']}")
    if podman:
        if which("podman") is None:
            found.append(f"podman not found on PATH: {INSTALL_HINTS['podman']}")
        elif (info := run(commands.podman_info(), timeout=30)).rc != 0:
            reason = (info.stderr.strip().splitlines() or ["no output"])[-1]
            found.append(f"podman does not answer (`podman info` failed: {reason})")
        return found
    if which("docker") is None:
        found.append(f"docker not found on PATH: {INSTALL_HINTS['docker']}")
        return found
    info = run(commands.docker_info(), timeout=30)
    if info.rc != 0:
        reason = (info.stderr.strip().splitlines() or ["no output"])[-1]
        found.append(
            f"the Docker daemon does not answer (`docker info` failed: {reason}): start Docker, "
            "or check DOCKER_HOST and that this user may use the Docker socket"
        )
    elif run(commands.docker_buildx_version(), timeout=30).rc != 0:
        found.append(
            "docker buildx is missing: it builds the plugin for the nodes' platform; "
            "install the buildx plugin (https://docs.docker.com/build/install-buildx/)"
        )
    return found
