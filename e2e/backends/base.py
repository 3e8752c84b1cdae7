"""The backend-neutral interface the e2e tests are written against.

A backend is one cluster (a kind cluster, or one local containerd node) that can install and
uninstall the plugin, run pods and look at them from the runtime's side and from inside.
Tests only use what is declared here; each backend maps it onto its own tools.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class WaitTimeout(TimeoutError):
    """A setup wait gave up; the message says what it waited for, how long, and what it saw last.

    One class for every backend, so callers (the cniqs tool) recognise a wait that gave up by type.
    """


@dataclass(frozen=True)
class Pod:
    """A running pod. `node` names where it runs; `handle` is backend-private (sandbox id, ...)."""

    namespace: str
    name: str
    node: str
    handle: Any = None


@dataclass(frozen=True)
class ExecResult:
    rc: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Targets:
    """What connectivity tests reach from a pod: an external IP, an external name, an HTTP URL."""

    ip: str
    name: str
    url: str | None = None
    name_ip: str | None = None  # what `name` must resolve to, where the backend knows (its own DNS)


@dataclass(frozen=True)
class ChainVariant:
    """A variant of kindnet's chain for the base conflist (the one the plugin is installed on top of).

    The default is what kindnetd writes: cniVersion 0.3.1, IPv4 only.
    """

    cni_version: str = "0.3.1"
    dual_stack: bool = False


KINDNET = ChainVariant()


def kindnet_chain(variant: ChainVariant, subnets: Sequence[str], data_dir: str, mtu: int = 1500) -> dict[str, Any]:
    """kindnet's chain as kindnetd writes it (ptp + host-local, then portmap) in the given variant.

    subnets are the node's pod CIDRs (an IPv6 one only matters for a dual-stack variant).
    """
    routes = [{"dst": "::/0" if ":" in s else "0.0.0.0/0"} for s in subnets]
    return {
        "cniVersion": variant.cni_version,
        "name": "kindnet",
        "plugins": [
            {
                "type": "ptp",
                "ipMasq": False,
                "ipam": {
                    "type": "host-local",
                    "dataDir": data_dir,
                    "routes": routes,
                    "ranges": [[{"subnet": s}] for s in subnets],
                },
                "mtu": mtu,
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


@dataclass(frozen=True)
class PodView:
    """Everything a failing test should show about a pod."""

    pod: Pod
    reported: list[str] = field(default_factory=list)
    real: list[str] = field(default_factory=list)
    notes: str = ""


class Backend(Protocol):
    name: str
    targets: Targets
    nodes: Sequence[str]

    def install(self, entry: dict[str, Any]) -> None:
        """Install the plugin with this chain entry on every node; return once every runtime loaded it."""

    def uninstall(self) -> None:
        """Remove only what install added, on every node; return once every runtime loaded the old chain."""

    def run_pod(self, name: str, *, node: str | None = None, command: Sequence[str] = ("sleep", "infinity")) -> Pod:
        """Start a pod running command in the test image and wait until it runs."""

    def delete_pod(self, pod: Pod) -> None: ...

    def reported_views(self, pod: Pod) -> dict[str, list[str]]:
        """Every place the backend can read the pod's reported IPs from, each primary first.

        Local: {"PodSandboxStatus": [...]}. Kind: {"status.podIPs": [...], "kubectl describe": [...],
        "crictl inspectp": [...]}. Tests assert that every view shows the same addresses.
        """

    def exec(self, pod: Pod, argv: Sequence[str], timeout: float = 30) -> ExecResult: ...

    def pod_cidrs(self, node: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The node's pod CIDRs: real pod addresses come from these."""

    def plugin_log(self, node: str) -> list[dict[str, Any]]:
        """The plugin's JSON-lines log records on a node (empty if none)."""

    def diagnostics(self) -> str:
        """Runtime and plugin log tails, for a failing test's report."""

    def use_base_chain(self, variant: ChainVariant | None) -> None:
        """Make kindnet's chain in this variant the active base chain on every node (None: the cluster's own).

        Called while the plugin is not installed; returns once every runtime loaded the chain, and
        pod_cidrs() reflects it. A backend that cannot run a variant raises NotImplementedError with
        the reason (the tests skip with it).
        """


def primary(views: dict[str, list[str]]) -> list[str]:
    """The first view's addresses: the one a backend lists first is what kubelet would copy."""
    return next(iter(views.values()), [])
