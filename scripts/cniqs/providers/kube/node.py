"""A node of the cluster: a local provider node on the bridge with its own containerd (in a private mount
namespace, the cluster's images imported), and its kubelet."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from cniqs.common import procs
from cniqs.common.run import run
from cniqs.common.waits import until
from cniqs.providers.kube import network, pki
from cniqs.providers.kube import render as kube_render
from cniqs.providers.kube.daemons import alive_or_fatal, spawn
from cniqs.providers.kube.state import NODE_ROLES, ClusterState, Node, cni_dirs, runtime_socket
from cniqs.providers.local import containerd
from cniqs.providers.local import render as local_render
from cniqs.providers.local.cri import CRI
from cniqs.providers.local.layout import Layout, RunState

REFERENCE_PLUGINS = Path("/usr/lib/cni")
KIND_PLUGINS = ("host-local", "loopback", "ptp", "portmap")  # what /opt/cni/bin holds on a kind node

# In the node's new private mount namespace: bind each (source, mount point) pair, then become containerd.
# The node's own /var/log keeps kubelet's /var/log/containers links and the plugin's default log per node;
# libcni's cache is per node; and every node sees its own CNI dirs on the one path all nodes share.
_LAUNCH = 'while [ "$1" != -- ]; do mkdir -p "$2" && mount --bind "$1" "$2" && shift 2; done; shift; exec "$@"'


def node_launch_argv(layout: Layout, binds: Sequence[tuple[Path | str, str]], containerd_binary: Path) -> list[str]:
    pairs = [str(part) for pair in binds for part in pair]
    return [
        "unshare", "--mount", "--propagation", "private",
        "nsenter", f"--net=/run/netns/{layout.node_netns}",
        "sh", "-c", _LAUNCH, "kube-node-launch", *pairs, "--",
        str(containerd_binary), "--config", str(layout.containerd_config),
    ]  # fmt: skip


def start_node(
    state: ClusterState,
    index: int,
    name: str,
    ext: Layout,
    tools_dir: Path,
    pause: str,
    archives: Sequence[Path],
) -> Node:
    """A local provider node wired to the bridge, with containerd (2.x) running and the images imported."""
    root = Path(state.root) / "nodes" / NODE_ROLES[index]
    layout = Layout(f"{state.run_id}{index}", root)
    for d in layout.dirs():
        d.mkdir(parents=True, exist_ok=True)
    node_state = RunState(layout.run_id, str(root), owner_pid=os.getpid())
    node_state.save(layout.state_file)
    state.nodes.append(str(root))
    state.save()
    network.wire_node(layout, index, ext)
    proc = _start_containerd(state, layout, node_state, tools_dir, pause)
    cri = _await_containerd(proc, layout, node_state)
    for archive in archives:
        run([str(tools_dir / "ctr"), "-a", str(layout.socket), "-n", "k8s.io", "images", "import", str(archive)],
            timeout=120)  # fmt: skip
    kubelet_root = root / "kubelet"
    kubelet_root.mkdir()
    return Node(name, index, layout, node_state, cri, kubelet_root)


def _start_containerd(
    state: ClusterState, layout: Layout, node_state: RunState, tools_dir: Path, pause: str
) -> subprocess.Popen[bytes]:
    """containerd in the node's own mount namespace, with the node's dirs bound where the cluster's config says."""
    for plugin in KIND_PLUGINS:
        (layout.cni_bin / plugin).symlink_to(REFERENCE_PLUGINS / plugin)
    dirs = cni_dirs(state)
    opts = local_render.ContainerdOptions(
        sandbox_image=pause, cni_bin=dirs.bin_dir, cni_conf=dirs.conf_dir, nri_socket=str(layout.nri_socket)
    )
    layout.containerd_config.write_text(local_render.containerd_config(layout, opts))
    env = {**os.environ, "PATH": f"{tools_dir}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"}
    var_log = layout.root / "var-log"
    var_log.mkdir()
    shared_run = str(Path(runtime_socket(state)).parent)
    binds = [(var_log, "/var/log"), (layout.cni_cache, containerd.CNI_CACHE), (layout.cni_bin, dirs.bin_dir),
             (layout.cni_conf, dirs.conf_dir), (layout.socket.parent, shared_run)]  # fmt: skip
    proc = spawn(node_launch_argv(layout, binds, tools_dir / "containerd"), layout.containerd_log, env)
    node_state.containerd_pid = proc.pid
    node_state.save(layout.state_file)
    return proc


def _await_containerd(proc: subprocess.Popen[bytes], layout: Layout, node_state: RunState) -> CRI:
    """Once containerd has its own mount namespace (recorded for teardown) and its CRI answers."""

    def own_mntns() -> str | None:
        mine = procs.mount_ns(proc.pid)
        return mine if mine is not None and mine != procs.mount_ns("self") else None

    node_state.containerd_mntns = until("containerd's own mount namespace", own_mntns, timeout=10)
    node_state.save(layout.state_file)
    cri = CRI(layout.socket)
    until("containerd's CRI to answer",
          lambda: alive_or_fatal(proc, "containerd", layout.containerd_log) and cri.version(), timeout=30)  # fmt: skip
    return cri


def _make_cgroup_root(name: str) -> None:
    """The kubelet's cgroupRoot in every v1 hierarchy (cpuset needs its cpus and mems filled in first)."""
    for hierarchy in sorted(procs.CGROUP_ROOT.iterdir()):
        if hierarchy.name == "unified" or not hierarchy.is_dir():
            continue
        path = hierarchy / name.strip("/")
        path.mkdir(exist_ok=True)
        if hierarchy.name == "cpuset" or hierarchy.name.startswith("cpuset,"):
            for knob in ("cpuset.cpus", "cpuset.mems"):
                (path / knob).write_text((hierarchy / knob).read_text())


def start_kubelet(
    node: Node,
    ca: pki.Authority,
    server: str,
    bin_dir: Path,
    log_dir: Path,
    state: ClusterState,
    minor: int,
    cluster_name: str,
) -> None:
    client = ca.issue(f"kubelet-{node.index}", f"system:node:{node.name}", ["system:nodes"], client=True)
    serving = ca.issue(
        f"kubelet-{node.index}-serving",
        node.name,
        server=True,
        dns=[node.name],
        ips=[kube_render.node_address(node.index).ip],
    )
    paths = kube_render.KubeletPaths(
        root_dir=node.kubelet_root,
        config=node.kubelet_root / "config.json",
        kubeconfig=node.kubelet_root / "kubeconfig.json",
        ca=ca.pair.cert,
        serving_cert=serving.cert,
        serving_key=serving.key,
        resolv_conf=node.kubelet_root / "resolv.conf",
        pod_logs=node.layout.pod_logs,
    )
    paths.resolv_conf.write_text(f"nameserver {local_render.EXT_DNS}\n")
    paths.kubeconfig.write_text(pki.kubeconfig(server, ca.pair.cert, client, node.name, cluster_name))
    address = kube_render.node_address(node.index).ip
    config = kube_render.kubelet_config(paths, address, [str(local_render.EXT_DNS)], node.layout.cgroup_parent, minor)
    config["containerRuntimeEndpoint"] = f"unix://{node.layout.socket}"
    paths.config.write_text(json.dumps(config, indent=2) + "\n")
    _make_cgroup_root(node.layout.cgroup_parent)
    argv = node.enter(kube_render.kubelet_argv(bin_dir, paths, node.name, kube_render.node_address(node.index).ip))
    proc = spawn(argv, log_dir / f"kubelet-{node.name}.log")
    state.pids.append(proc.pid)
    state.save()
