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
from cniqs.providers.cluster.options import K8S_VERSION
from cniqs.providers.kind import commands, coredns, egress, mirror
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
        env="CNIQS_KIND_TARGET_IP",
    ),
    Option(
        "--kind-target-name",
        f"external name the connectivity tests resolve and ping (default {DEFAULT_TARGET_NAME})",
        default=DEFAULT_TARGET_NAME,
        metavar="NAME",
        env="CNIQS_KIND_TARGET_NAME",
    ),
    Option(
        "--kind-target-url",
        "URL the connectivity tests fetch (default: none; with --kind-egress ci https://NAME/)",
        default="",
        metavar="URL",
        env="CNIQS_KIND_TARGET_URL",
    ),
    Option(
        EGRESS,
        "internet (default): pods ping --kind-target-ip and --kind-target-name, as the original demo did; "
        "ci: for runners whose NAT drops ICMP (GitHub-hosted, actions/runner-images#1519), pods ping only "
        "the kind network's gateway and prove egress by resolving the name and fetching the URL over TCP",
        default=egress.INTERNET,
        choices=egress.MODES,
        env="CNIQS_KIND_EGRESS",
    ),
    Option(
        "--kind-pod-image",
        f"image of test pods (default {DEFAULT_POD_IMAGE})",
        default=DEFAULT_POD_IMAGE,
        metavar="IMAGE",
        env="CNIQS_KIND_POD_IMAGE",
    ),
    Option(
        "--registry-mirror",
        "pull every image through this registry ([http://]HOST[:PORT], as the nodes reach it; default "
        f"${mirror.ENV}): the node image, the pod image, the installer image and what pods pull from docker.io "
        "and registry.k8s.io (containerd mirrors in the nodes). Checked before any cluster is created",
        default="",
        metavar="URL",
        env=mirror.ENV,
    ),
    Option(
        "--kind-dns-zone",
        "ZONE=SERVER[,SERVER]: the cluster's CoreDNS answers names of ZONE from these DNS servers only "
        "(a site's own zone; default $CNIQS_KIND_DNS_ZONE)",
        default="",
        metavar="ZONE=SERVER",
        env="CNIQS_KIND_DNS_ZONE",
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
    mirror: str = ""
    dns_zone: str = ""


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
        mirror=get("--registry-mirror") or "",
        dns_zone=get("--kind-dns-zone") or "",
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
    try:
        chosen = mirror.parse(opts.mirror)
    except ValueError as exc:
        found.append(str(exc))
    else:
        if chosen is not None and mirror.is_loopback(chosen.host):
            found.append(
                f"--registry-mirror {opts.mirror}: inside the kind nodes that address is the node itself; "
                "name the registry by an address the nodes reach (e.g. this host's address on kind's network)"
            )
    if opts.dns_zone:
        try:
            coredns.parse_zone(opts.dns_zone)
        except ValueError as exc:
            found.append(str(exc))
    return found


def docker_answers(run: Runner = run_process) -> bool:
    """The Docker daemon answers `docker info`."""
    return run(commands.docker_info(), timeout=15).rc == 0


AARDVARK = (Path("/usr/lib/podman/aardvark-dns"), Path("/usr/libexec/podman/aardvark-dns"))


def tool_problems(
    which: Callable[[str], str | None] = shutil.which,
    run: Runner = run_process,
    environ: Mapping[str, str] | None = None,
    aardvark: tuple[Path, ...] = AARDVARK,
) -> list[str]:
    """kind, kubectl and the engine kind uses (docker with an answering daemon, or podman whose networks have
    DNS): each missing one, and how to get it."""
    env = os.environ if environ is None else environ
    found = []
    engine = commands.engine(env, which)
    kind = commands.kind_binary(env)
    if which(kind) is None:
        source = next((f"${var}" for var in commands.KIND_ENV_VARS if env.get(var)), "PATH")
        found.append(f"kind not found (looked for {kind!r} from {source}): {INSTALL_HINTS['kind']}")
    if which("kubectl") is None:
        found.append(f"kubectl not found on PATH: {INSTALL_HINTS['kubectl']}")
    if which(engine) is None:
        found.append(f"{engine} not found on PATH: {INSTALL_HINTS[engine]}")
        return found
    if engine == "podman":
        if (info := run(commands.podman_network_backend(), timeout=30)).rc != 0:
            reason = (info.stderr.strip().splitlines() or ["no output"])[-1]
            found.append(f"podman does not answer (`podman info` failed: {reason})")
        elif info.stdout.strip() != "netavark" or not any(p.exists() for p in aardvark):
            found.append(
                f"podman's networks have no DNS (network backend {info.stdout.strip() or '?'}, aardvark-dns "
                f"{'found' if any(p.exists() for p in aardvark) else 'missing'}): kind's nodes find each other by "
                "name, which needs netavark and aardvark-dns (apt-get install netavark aardvark-dns; with "
                'network_backend = "netavark" in containers.conf\'s [network] table)'
            )
        return found
    info = run(commands.docker_info(), timeout=30)
    if info.rc != 0:
        reason = (info.stderr.strip().splitlines() or ["no output"])[-1]
        found.append(
            f"the Docker daemon does not answer (`docker info` failed: {reason}): start Docker, "
            "or check DOCKER_HOST and that this user may use the Docker socket"
        )
    return found
