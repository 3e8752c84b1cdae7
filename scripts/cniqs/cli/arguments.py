"""The arguments every `cniqs` command shares: one-line argument errors, -v, and the choice of provider with the
suite's own options a run passes on to it (--kind-egress, --k8s-version)."""

from __future__ import annotations

import argparse
from typing import NoReturn

from cniqs import providers
from cniqs.cli import session
from cniqs.providers.cluster.options import K8S_VERSION
from cniqs.providers.kind.options import EGRESS as KIND_EGRESS
from cniqs.providers.kind.options import OPTIONS as KIND_OPTIONS

PROVIDER_CHOICES = ("auto", *providers.NAMES)


class Parser(argparse.ArgumentParser):
    """Argument errors as one line (with where to look), not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"cniqs: error: {message} (see `{self.prog} --help`)\n")


def verbose(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="print every command cniqs runs"
    )


def provider(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--provider",
        "--backend",  # its name before the rename, kept so older scripts still run
        dest="provider",
        choices=PROVIDER_CHOICES,
        default=None,
        help="local: a containerd node in network namespaces (Linux, root); kube: a real Kubernetes built here "
        "on such nodes (Linux, root, Go); kind: a kind cluster (Docker or podman, kind, kubectl); "
        "auto (default, or $CNIQS_PROVIDER): kind when Docker answers and kind is on PATH, else local",
    )
    p.add_argument("--name", default=session.DEFAULT_CLUSTER, help="kind cluster name (default %(default)s)")
    # The suite's own --kind-egress (the kind provider's option), so `cniqs demo` passes where ICMP is dropped.
    egress = next(o for o in KIND_OPTIONS if o.flag == KIND_EGRESS)
    p.add_argument(
        KIND_EGRESS,
        choices=egress.choices,
        default=None,
        help="kind only, the suite's connectivity checks: internet (default) pings 1.1.1.1 and kubernetes.io; ci, "
        "for networks that drop ICMP to the internet (GitHub-hosted runners), pings the kind network's gateway, "
        "resolves kubernetes.io and fetches https://kubernetes.io/",
    )
    # The suite's own --k8s-version, for one cluster: so a CI job of one Kubernetes version gets that version.
    p.add_argument(
        K8S_VERSION.flag,
        default=None,
        metavar="X.Y",
        help="kind and kube: the cluster's Kubernetes minor (default the newest); kind: one of the found kind's "
        "node images (1.36, v1.36 or the image's exact v1.36.4), kube: a release pinned in cniqs.toolchain.kubebin",
    )
