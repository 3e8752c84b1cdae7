"""A real Kubernetes cluster on this machine: local containerd nodes plus kubelet and the control plane.

Each node is a local provider node (its own network namespace, containerd in a private mount namespace,
CNI dirs and cgroup parent named with the run id); the nodes share one external namespace that holds
the bridge between them, the DNS server and the web server. etcd, kube-apiserver,
kube-controller-manager and kube-scheduler run in the control-plane node's namespace; each kubelet runs
in its node's network namespace and inside its containerd's mount namespace (so the volumes it mounts
are the ones containerd hands to the pods). The host reaches the API server through a socat forwarder
on 127.0.0.1. Teardown ends every process, mount, cgroup and namespace the run made.

This module brings a cluster up, grows and shrinks it, and tears it down (`python -m
cniqs.providers.kube.cluster down`); its parts are state (what is saved, Cluster, Node), network,
controlplane, node (containerd and kubelet) and teardown.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cniqs.common import procs, teardowns
from cniqs.common.run import run
from cniqs.providers.kube import controlplane, network, pki
from cniqs.providers.kube import render as kube_render
from cniqs.providers.kube.node import start_kubelet, start_node
from cniqs.providers.kube.state import NODE_ROLES, Cluster, ClusterState, Node, cluster_of
from cniqs.providers.kube.teardown import stale_roots, teardown
from cniqs.providers.local import cleanup, images
from cniqs.providers.local.cri import CRI
from cniqs.providers.local.layout import Layout, RunState, new_run_id
from cniqs.ship import build
from cniqs.toolchain import kubebin


def say_nothing(_: str) -> None:
    return None


@contextmanager
def up(
    minor: str,
    *,
    workers: int = 1,
    keep: bool = False,
    say: Callable[[str], None] = say_nothing,
    root_parent: str | None = None,
) -> Iterator[Cluster]:
    """Build (cached) and start a cluster; tear it all down on the way out unless keep."""
    bin_dir = kubebin.build_kube(minor)
    tools_dir = kubebin.build_tools()
    run_id = new_run_id()
    root = Path(tempfile.mkdtemp(prefix=f"cniqs-kube-{run_id}-", dir=root_parent))
    state = ClusterState(run_id, str(root), minor, bin_dir=str(bin_dir), tools_dir=str(tools_dir),
                         owner_pid=os.getpid())  # fmt: skip
    state.save()
    cluster: Cluster | None = None
    try:
        cluster = _start(state, bin_dir, tools_dir, workers, say)
        yield cluster
    finally:
        if keep:
            state.kept = True
            state.save()
            say(f"kube cluster kept; teardown: python -m cniqs.providers.kube.cluster down {root}")
        else:
            problems = teardown(root)
            if problems:
                say("kube cluster teardown left problems:\n  " + "\n  ".join(problems))


def _start(state: ClusterState, bin_dir: Path, tools_dir: Path, workers: int, say: Callable[[str], None]) -> Cluster:
    """The steps, in order: the network, the images, the nodes, the control plane, the kubelets, kindnet."""
    root = Path(state.root)
    name = f"cniqs-{state.run_id}"
    ext = Layout(state.run_id, root / "ext")
    for d in (ext.logs, ext.www):
        d.mkdir(parents=True, exist_ok=True)
    log_dir = root / "logs"
    log_dir.mkdir()
    t0 = time.monotonic()
    network.external_namespace(state, ext)
    pause, test, archives = _images(root / "images")
    nodes = [
        start_node(state, index, f"{name}-{NODE_ROLES[index]}", ext, tools_dir, pause, archives)
        for index in range(1 + workers)
    ]
    say(f"{len(nodes)} containerd node(s) up in {time.monotonic() - t0:.1f} s")
    plane = controlplane.start(state, nodes[0], bin_dir, log_dir, say, t0)
    minor_number = int(state.minor.split(".")[1])
    for node in nodes:
        start_kubelet(node, plane.ca, plane.server, bin_dir, log_dir, state, minor_number, name)
    state.image = test
    state.save()
    cluster = cluster_of(state, nodes)
    network.kindnet(cluster)
    say(f"{len(nodes)} node(s) Ready after {time.monotonic() - t0:.1f} s")
    return cluster


def _images(image_dir: Path) -> tuple[str, str, list[Path]]:
    """The pause and test images, built from this machine's busybox, as archives every node imports."""
    busybox = Path(shutil.which("busybox") or "/bin/busybox").read_bytes()
    arch = build.host_arch()
    pause = images.pause_image(busybox, arch)
    test = images.test_image(busybox, arch)
    image_dir.mkdir()
    return pause.name, test.name, [images.write(pause, image_dir), images.write(test, image_dir)]


def attach(root: Path) -> Cluster:
    """The cluster a kept run left in root (cniqs up, then later commands); raises if it is not running."""
    state = ClusterState.load(root)
    dead = [pid for pid in state.pids if not procs.alive(pid)]
    if dead:
        raise RuntimeError(f"the kube cluster in {root} is not whole any more ({len(dead)} of its processes are gone)")
    nodes = []
    for index, node_root in enumerate(state.nodes):
        node_state = RunState.load(Path(node_root) / "run.json")
        layout = Layout(node_state.run_id, Path(node_root))
        name = f"cniqs-{state.run_id}-{NODE_ROLES[index]}"
        nodes.append(Node(name, index, layout, node_state, CRI(layout.socket), Path(node_root) / "kubelet"))
    return cluster_of(state, nodes)


def add_node(cluster: Cluster, extra_images: Sequence[Path] = (), say: Callable[[str], None] = say_nothing) -> Node:
    """A worker that joins the running cluster: its own containerd (with the cluster's images and extra_images
    imported before its kubelet starts, as a registry would serve them) and kubelet, kindnet's chain for
    the podCIDR it is given, routes between it and every other node. Returns once every node is Ready."""
    state, root = cluster.state, Path(cluster.state.root)
    index = len(cluster.nodes)
    if index >= len(NODE_ROLES):
        raise ValueError(f"a kube cluster here has at most {len(NODE_ROLES)} nodes")
    archives = [*sorted((root / "images").glob("*.tar")), *extra_images]
    node = start_node(state, index, f"{cluster.name}-{NODE_ROLES[index]}", cluster.ext, cluster.tools_dir,
                      images.PAUSE_IMAGE, archives)  # fmt: skip
    ca = pki.Authority(root / "pki", load=True)
    server = f"https://{cluster.nodes[0].address}:{kube_render.API_PORT}"
    minor = int(state.minor.split(".")[1])
    start_kubelet(node, ca, server, cluster.bin_dir, cluster.log_dir, state, minor, cluster.name)
    cluster.nodes.append(node)
    network.kindnet(cluster)
    say(f"node {node.name} joined")
    return node


def remove_node(cluster: Cluster, node: Node) -> list[str]:
    """Take a joined worker out again: the Node object, its kubelet and runtime, its namespace and files."""
    run(cluster.kubectl_argv("delete", "node", node.name, "--wait=true"), timeout=60)
    problems = cleanup.teardown(node.layout, node.state, remove_root=False)  # its kubelet runs in its netns
    cluster.nodes.remove(node)
    cluster.state.nodes.remove(str(node.layout.root))
    cluster.state.save()
    network.unroute(cluster, node)
    shutil.rmtree(node.layout.root, ignore_errors=True)
    return problems


def collect_logs(cluster: Cluster, dest: Path) -> Path:
    """The control plane's and kubelets' logs, each node's containerd log and CNI dirs, into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(cluster.log_dir, dest / "components", dirs_exist_ok=True)
    for node in cluster.nodes:
        node_dest = dest / node.name
        node_dest.mkdir(exist_ok=True)
        for source in (node.layout.containerd_log, node.layout.root / "var-log" / "cni-quickstart.log"):
            if source.is_file():
                shutil.copy2(source, node_dest / source.name)
        listing = [f"{p.relative_to(node.layout.root)}" for d in (node.layout.cni_bin, node.layout.cni_conf)
                   for p in sorted(d.iterdir())]  # fmt: skip
        (node_dest / "cni-dirs.txt").write_text("\n".join(listing) + "\n")
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m cniqs.providers.kube.cluster", description="Tear down kube provider clusters"
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    down = sub.add_parser("down", help="tear down kept clusters, or those a killed run left (--stale)")
    teardowns.add_arguments(
        down,
        roots="cluster roots (printed by a kept run)",
        stale="also every cluster whose owning process is gone",
        kept="with --stale: kept clusters too",
    )
    return teardowns.report(teardowns.chosen_roots(parser.parse_args(argv), stale_roots), teardown, "teardown")


if __name__ == "__main__":
    raise SystemExit(main())
