"""Local-provider-only helpers of the load, fault and security tests: what a node has left behind.

Tests that need these call local(backend) first: on any other backend it skips with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cniqs.common import mountinfo
from cniqs.provider import Backend

if TYPE_CHECKING:
    from cniqs.providers.local.node import LocalBackend

# host-local's bookkeeping files in its per-network dir; every other file there is one allocated IP.
IPAM_BOOKKEEPING = ("lock", "last_reserved_ip.")
CRI_NETNS_DIR = Path("io.containerd.grpc.v1.cri") / "netns"  # under containerd's state dir


def local(backend: Backend) -> LocalBackend:
    """The backend as the local provider, or skip: the test needs its own API (paths, containerd)."""
    try:
        from cniqs.providers.local.node import LocalBackend
    except ImportError as exc:
        pytest.skip(f"needs the local provider, which cannot be imported here: {exc}")
    if not isinstance(backend, LocalBackend):
        pytest.skip(f"needs the local provider's own API (files on the node, its containerd); this is {backend.name}")
    return backend


@pytest.fixture
def node(backend: Backend) -> Iterator[LocalBackend]:
    """The local node on the cluster's own chain, plugin not installed; uninstalled again afterwards."""
    n = local(backend)
    n.uninstall()
    n.use_base_chain(None)
    try:
        yield n
    finally:
        n.uninstall()


@dataclass(frozen=True)
class Leftovers:
    """Per-pod network state on a local node; all of it must go when the pods go."""

    ipam: frozenset[str]  # host-local allocation files (one per allocated IP), per network
    results: frozenset[str]  # libcni's cached ADD results (/var/lib/cni/results inside the node)
    netns_files: frozenset[str]  # pod netns files under containerd's state dir
    netns_mounts: frozenset[str]  # pod netns bind mounts in containerd's mount namespace
    veths: frozenset[str]  # host-side veths in the node's network namespace

    def minus(self, before: Leftovers) -> dict[str, list[str]]:
        """What is here and was not in before, by kind (only the kinds with something new)."""
        new = {}
        for f in fields(self):
            extra = sorted(getattr(self, f.name) - getattr(before, f.name))
            if extra:
                new[f.name] = extra
        return new


def _names(paths: Iterable[Path]) -> frozenset[str]:
    return frozenset(str(p) for p in paths)


def leftovers(node: LocalBackend) -> Leftovers:
    layout = node.layout
    ipam = _names(
        p.relative_to(layout.ipam_data)
        for p in layout.ipam_data.glob("*/*")
        if p.is_file() and not p.name.startswith(IPAM_BOOKKEEPING)
    )
    results_dir = layout.cni_cache / "results"
    results = _names(p.relative_to(results_dir) for p in results_dir.glob("*")) if results_dir.is_dir() else frozenset()
    netns_dir = layout.containerd_state / CRI_NETNS_DIR
    netns_files = _names(netns_dir.glob("*")) if netns_dir.is_dir() else frozenset()
    return Leftovers(ipam, results, netns_files, netns_mounts(node), veths(node))


def netns_mounts(node: LocalBackend) -> frozenset[str]:
    """nsfs mount points under containerd's state dir, as containerd's own mount namespace sees them."""
    pid = node.run_state.containerd_pid if node.run_state is not None else None
    if not pid:
        return frozenset()
    state = str(node.layout.containerd_state) + "/"
    return frozenset(m.point for m in mountinfo.read(pid) if m.fstype == "nsfs" and m.point.startswith(state))


def veths(node: LocalBackend) -> frozenset[str]:
    """veths in the node's network namespace, except the node's own uplink."""
    from cniqs.providers.local import netns

    out = netns.ip(node.layout.node_netns, "-j", "link", "show", "type", "veth")
    links: list[dict[str, Any]] = json.loads(out or "[]")
    return frozenset(str(link.get("ifname")) for link in links if link.get("ifname") != "uplink")
