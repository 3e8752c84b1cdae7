"""What a kube provider cluster is: the state it saves for teardown, the Cluster and Node objects built from it,
and the paths every node of it shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cniqs.common import statefile
from cniqs.providers.cluster.nodes import CniDirs
from cniqs.providers.kube import render as kube_render
from cniqs.providers.local.cri import CRI
from cniqs.providers.local.layout import Layout, RunState

CLUSTER_STATE = "cluster.json"
NODE_ROLES = ("control-plane", "worker", "worker2", "worker3")


@dataclass
class ClusterState:
    """What teardown needs, saved in the cluster root as soon as each piece exists."""

    run_id: str
    root: str
    minor: str
    nodes: list[str] = field(default_factory=list)  # node roots, each with its own run.json
    pids: list[int] = field(default_factory=list)  # control plane, kubelets, forwarder
    api_port: int | None = None
    bin_dir: str = ""
    tools_dir: str = ""
    image: str = ""
    owner_pid: int | None = None
    kept: bool = False

    def save(self) -> None:
        statefile.save(self, Path(self.root) / CLUSTER_STATE)

    @classmethod
    def load(cls, root: Path) -> ClusterState:
        return statefile.load(cls, root / CLUSTER_STATE)


@dataclass
class Node:
    """One node: its name in Kubernetes, its local provider layout, its address and its runtime."""

    name: str
    index: int
    layout: Layout
    state: RunState
    cri: CRI
    kubelet_root: Path

    @property
    def address(self) -> str:
        return str(kube_render.node_address(self.index).ip)

    @property
    def netns(self) -> str:
        return self.layout.node_netns

    @property
    def mount_ns_path(self) -> str:
        return f"/proc/{self.state.containerd_pid}/ns/mnt"

    def enter(self, argv: Sequence[str]) -> list[str]:
        """argv in this node's network and (containerd's) mount namespace: how kubelet and node tools run."""
        return ["nsenter", f"--mount={self.mount_ns_path}", f"--net=/run/netns/{self.netns}", *argv]


@dataclass
class Cluster:
    """A running cluster; built and torn down by cluster.up()."""

    name: str
    state: ClusterState
    bin_dir: Path
    tools_dir: Path
    nodes: list[Node]
    kubeconfig: Path
    ext: Layout
    image: str
    log_dir: Path

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r} in {self.name}")

    @property
    def kubectl(self) -> str:
        return str(self.bin_dir / "kubectl")

    def kubectl_argv(self, *args: str) -> list[str]:
        return [self.kubectl, "--kubeconfig", str(self.kubeconfig), *args]


def cluster_of(state: ClusterState, nodes: list[Node]) -> Cluster:
    root = Path(state.root)
    return Cluster(
        name=f"cniqs-{state.run_id}",
        state=state,
        bin_dir=Path(state.bin_dir),
        tools_dir=Path(state.tools_dir),
        nodes=nodes,
        kubeconfig=root / "kubeconfig" / "admin.conf",
        ext=Layout(state.run_id, root / "ext"),
        image=state.image,
        log_dir=root / "logs",
    )


def cni_dirs(state: ClusterState) -> CniDirs:
    """The path every node of the cluster reads its CNI plugins and configs from (its own, bind-mounted)."""
    return CniDirs(bin_dir=str(Path(state.root) / "cni" / "bin"), conf_dir=str(Path(state.root) / "cni" / "net.d"))


def runtime_socket(state: ClusterState) -> str:
    """The one path every node's containerd socket is at, in the node's own mount namespace (as kind's
    /run/containerd/containerd.sock): a DaemonSet's hostPath is the same on every node."""
    return str(Path(state.root) / "run" / "containerd" / "containerd.sock")
