"""A real Kubernetes cluster on this machine: local containerd nodes plus kubelet and the control plane.

Each node is a local-tier node (its own network namespace, containerd in a private mount namespace,
CNI dirs and cgroup parent named with the run id); the nodes share one external namespace that holds
the bridge between them, the DNS server and the web server. etcd, kube-apiserver,
kube-controller-manager and kube-scheduler run in the control-plane node's namespace; each kubelet runs
in its node's network namespace and inside its containerd's mount namespace (so the volumes it mounts
are the ones containerd hands to the pods). The host reaches the API server through a socat forwarder
on 127.0.0.1. Teardown ends every process, mount, cgroup and namespace the run made.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cniqs import build, conflist, kubebin, provider
from cniqs.common import procs, teardowns
from cniqs.common.mountinfo import mounts_under
from cniqs.common.run import in_netns, run
from cniqs.common.waits import Fatal, NotYet, until
from cniqs.nodefiles import LocalFiles
from cniqs.providers.k8s.nodes import CniDirs
from cniqs.providers.kube import pki
from cniqs.providers.kube import render as kube_render
from cniqs.providers.local import cleanup, containerd, images, netns, services
from cniqs.providers.local import render as local_render
from cniqs.providers.local.cri import CRI
from cniqs.providers.local.layout import Layout, RunState, new_run_id

REFERENCE_PLUGINS = Path("/usr/lib/cni")
KIND_PLUGINS = ("host-local", "loopback", "ptp", "portmap")  # what /opt/cni/bin holds on a kind node
BASE_CONFLIST = "10-kindnet.conflist"
BRIDGE = "nodes"
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
        path = Path(self.root) / CLUSTER_STATE
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, root: Path) -> ClusterState:
        return cls(**json.loads((root / CLUSTER_STATE).read_text()))


@dataclass
class Node:
    """One node: its name in Kubernetes, its local-tier layout, its address and its runtime."""

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
    """A running cluster; built and torn down by up()."""

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


def say_nothing(_: str) -> None:
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )


def _alive_or_fatal(proc: subprocess.Popen[bytes], what: str, log: Path) -> bool:
    if proc.poll() is not None:
        raise Fatal(f"{what} exited with {proc.returncode}:\n{containerd.log_tail(log, 25)}")
    return True


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
    root = Path(state.root)
    name = f"cniqs-{state.run_id}"
    ext = Layout(state.run_id, root / "ext")
    for d in (ext.logs, ext.www):
        d.mkdir(parents=True, exist_ok=True)
    log_dir = root / "logs"
    log_dir.mkdir()
    t0 = time.monotonic()

    # The external namespace: the bridge the nodes hang off, and the DNS and web servers.
    netns.add(ext.ext_netns)
    netns.ip(ext.ext_netns, "link", "set", "lo", "up")
    netns.ip(ext.ext_netns, "link", "add", BRIDGE, "type", "bridge")
    netns.ip(ext.ext_netns, "addr", "add", str(kube_render.NODE_GATEWAY), "dev", BRIDGE)
    netns.ip(ext.ext_netns, "link", "set", BRIDGE, "up")
    for host in (local_render.EXT_HOST, local_render.EXT_DNS):
        netns.ip(ext.ext_netns, "addr", "add", f"{host}/32", "dev", "lo")
    netns.sysctl(ext.ext_netns, "net.ipv4.ip_forward", "0")
    state.pids += [p.pid for p in services.start(ext)]
    state.save()

    busybox = Path(shutil.which("busybox") or "/bin/busybox").read_bytes()
    arch = build.host_arch()
    pause = images.pause_image(busybox, arch)
    test = images.test_image(busybox, arch)
    image_dir = root / "images"
    image_dir.mkdir()
    archives = [images.write(pause, image_dir), images.write(test, image_dir)]

    nodes = []
    for index in range(1 + workers):
        nodes.append(_node(state, index, f"{name}-{NODE_ROLES[index]}", ext, tools_dir, pause.name, archives))
    say(f"{len(nodes)} containerd node(s) up in {time.monotonic() - t0:.1f} s")

    # Certificates and kubeconfigs, then the control plane on the first node.
    cp = nodes[0]
    pki_dir = root / "pki"
    ca = pki.Authority(pki_dir)
    pki.service_account_keys(pki_dir)
    ca.issue(
        "apiserver",
        "kube-apiserver",
        server=True,
        dns=kube_render.api_server_names(),
        ips=[kube_render.node_address(0).ip, kube_render.API_SERVICE_IP, ipaddress.ip_address("127.0.0.1")],
    )
    ca.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"], client=True)
    in_cluster = f"https://{cp.address}:{kube_render.API_PORT}"
    kubeconfigs = root / "kubeconfig"
    kubeconfigs.mkdir()
    for user, cn, orgs in (
        ("controller-manager", "system:kube-controller-manager", ()),
        ("scheduler", "system:kube-scheduler", ()),
    ):
        pair = ca.issue(user, cn, orgs, client=True)
        (kubeconfigs / f"{user}.conf").write_text(pki.kubeconfig(in_cluster, ca.pair.cert, pair, cn, name))
    paths = kube_render.ControlPlanePaths(
        pki=pki_dir,
        etcd_data=root / "etcd",
        admin_kubeconfig=root / "kubeconfig" / "admin.conf",
        controller_manager_kubeconfig=kubeconfigs / "controller-manager.conf",
        scheduler_kubeconfig=kubeconfigs / "scheduler.conf",
    )

    etcd_log = log_dir / "etcd.log"
    etcd = _spawn(in_netns(cp.netns, kube_render.etcd_argv(paths.etcd_data, cp.name)), etcd_log)
    state.pids.append(etcd.pid)
    state.save()
    health = in_netns(cp.netns, ["busybox", "wget", "-q", "-O", "-", f"{kube_render.ETCD_CLIENT}/health"])
    until("etcd to answer /health", lambda: _alive_or_fatal(etcd, "etcd", etcd_log) and run(health, timeout=5),
          timeout=30, interval=0.2)  # fmt: skip

    api_log = log_dir / "kube-apiserver.log"
    api = _spawn(
        in_netns(cp.netns, kube_render.apiserver_argv(bin_dir, paths, kube_render.node_address(0).ip)), api_log
    )
    state.pids.append(api.pid)
    state.save()

    # The host's way in: 127.0.0.1:<port> -> the API server in the control-plane namespace.
    port = _free_port()
    forward = [
        "socat",
        f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
        f"EXEC:nsenter --net=/run/netns/{cp.netns} socat STDIO TCP\\:{cp.address}\\:{kube_render.API_PORT},nofork",
    ]
    forwarder_log = log_dir / "forwarder.log"
    forwarder = _spawn(forward, forwarder_log)
    state.pids.append(forwarder.pid)
    state.api_port = port
    state.save()
    admin = ca.issue("admin", "kubernetes-admin", ["system:masters"], client=True)
    paths.admin_kubeconfig.write_text(pki.kubeconfig(f"https://127.0.0.1:{port}", ca.pair.cert, admin, "admin", name))
    kubectl = [str(bin_dir / "kubectl"), "--kubeconfig", str(paths.admin_kubeconfig)]

    def api_ready() -> bool:
        _alive_or_fatal(api, "kube-apiserver", api_log)
        _alive_or_fatal(forwarder, "the API forwarder (socat)", forwarder_log)
        return run([*kubectl, "get", "--raw", "/readyz"], timeout=10).strip() == "ok"

    until("kube-apiserver /readyz", api_ready, timeout=90, interval=0.5)
    say(f"API server ready at https://127.0.0.1:{port} after {time.monotonic() - t0:.1f} s")

    for argv, what in (
        (kube_render.controller_manager_argv(bin_dir, paths), "kube-controller-manager"),
        (kube_render.scheduler_argv(bin_dir, paths), "kube-scheduler"),
    ):
        proc = _spawn(in_netns(cp.netns, argv), log_dir / f"{what}.log")
        state.pids.append(proc.pid)
        state.save()

    minor_number = int(state.minor.split(".")[1])
    for node in nodes:
        _start_kubelet(node, ca, in_cluster, bin_dir, log_dir, state, minor_number, name)

    state.image = test.name
    state.save()
    cluster = _cluster(state, nodes)
    _kindnet(cluster)
    say(f"{len(nodes)} node(s) Ready after {time.monotonic() - t0:.1f} s")
    return cluster


# In the node's new private mount namespace: bind each (source, mount point) pair, then become containerd.
# The node's own /var/log keeps kubelet's /var/log/containers links and the plugin's default log per node;
# libcni's cache is per node; and every node sees its own CNI dirs on the one path all nodes share.
_LAUNCH = 'while [ "$1" != -- ]; do mkdir -p "$2" && mount --bind "$1" "$2" && shift 2; done; shift; exec "$@"'


def cni_dirs(state: ClusterState) -> CniDirs:
    """The path every node of the cluster reads its CNI plugins and configs from (its own, bind-mounted)."""
    return CniDirs(bin_dir=str(Path(state.root) / "cni" / "bin"), conf_dir=str(Path(state.root) / "cni" / "net.d"))


def runtime_socket(state: ClusterState) -> str:
    """The one path every node's containerd socket is at, in the node's own mount namespace (as kind's
    /run/containerd/containerd.sock): a DaemonSet's hostPath is the same on every node."""
    return str(Path(state.root) / "run" / "containerd" / "containerd.sock")


def node_launch_argv(layout: Layout, binds: Sequence[tuple[Path | str, str]], containerd_binary: Path) -> list[str]:
    pairs = [str(part) for pair in binds for part in pair]
    return [
        "unshare", "--mount", "--propagation", "private",
        "nsenter", f"--net=/run/netns/{layout.node_netns}",
        "sh", "-c", _LAUNCH, "kube-node-launch", *pairs, "--",
        str(containerd_binary), "--config", str(layout.containerd_config),
    ]  # fmt: skip


def _cluster(state: ClusterState, nodes: list[Node]) -> Cluster:
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
    return _cluster(state, nodes)


def _node(
    state: ClusterState,
    index: int,
    name: str,
    ext: Layout,
    tools_dir: Path,
    pause: str,
    archives: Sequence[Path],
) -> Node:
    """A local-tier node wired to the bridge, with containerd (2.x) running and the images imported."""
    root = Path(state.root) / "nodes" / NODE_ROLES[index]
    layout = Layout(f"{state.run_id}{index}", root)
    for d in layout.dirs():
        d.mkdir(parents=True, exist_ok=True)
    node_state = RunState(layout.run_id, str(root), owner_pid=os.getpid())
    node_state.save(layout.state_file)
    state.nodes.append(str(root))
    state.save()

    ns = layout.node_netns
    netns.add(ns)
    netns.ip(ns, "link", "set", "lo", "up")
    peer = f"veth{index}"
    netns.ip(ns, "link", "add", "eth0", "type", "veth", "peer", "name", peer, "netns", ext.ext_netns)
    netns.ip(ns, "addr", "add", str(kube_render.node_address(index)), "dev", "eth0")
    netns.ip(ns, "link", "set", "eth0", "up")
    netns.ip(ext.ext_netns, "link", "set", peer, "master", BRIDGE, "up")
    netns.ip(ns, "route", "add", "default", "via", str(kube_render.NODE_GATEWAY.ip))
    netns.sysctl(ns, "net.ipv4.ip_forward", "1")
    netns.masquerade(ns, [str(kube_render.CLUSTER_CIDR)])

    for plugin in KIND_PLUGINS:
        (layout.cni_bin / plugin).symlink_to(REFERENCE_PLUGINS / plugin)
    dirs = cni_dirs(state)
    opts = local_render.ContainerdOptions(sandbox_image=pause, cni_bin=dirs.bin_dir, cni_conf=dirs.conf_dir)
    layout.containerd_config.write_text(local_render.containerd_config(layout, opts))
    env = {**os.environ, "PATH": f"{tools_dir}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"}
    var_log = root / "var-log"
    var_log.mkdir()
    shared_run = str(Path(runtime_socket(state)).parent)
    binds = [(var_log, "/var/log"), (layout.cni_cache, containerd.CNI_CACHE), (layout.cni_bin, dirs.bin_dir),
             (layout.cni_conf, dirs.conf_dir), (layout.socket.parent, shared_run)]  # fmt: skip
    proc = _spawn(node_launch_argv(layout, binds, tools_dir / "containerd"), layout.containerd_log, env)
    node_state.containerd_pid = proc.pid
    node_state.save(layout.state_file)

    def own_mntns() -> str | None:
        mine = procs.mount_ns(proc.pid)
        return mine if mine is not None and mine != procs.mount_ns("self") else None

    node_state.containerd_mntns = until("containerd's own mount namespace", own_mntns, timeout=10)
    node_state.save(layout.state_file)
    cri = CRI(layout.socket)
    until("containerd's CRI to answer",
          lambda: _alive_or_fatal(proc, "containerd", layout.containerd_log) and cri.version(), timeout=30)  # fmt: skip
    for archive in archives:
        run([str(tools_dir / "ctr"), "-a", str(layout.socket), "-n", "k8s.io", "images", "import", str(archive)],
            timeout=120)  # fmt: skip
    kubelet_root = root / "kubelet"
    kubelet_root.mkdir()
    return Node(name, index, layout, node_state, cri, kubelet_root)


def _start_kubelet(
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
    proc = _spawn(argv, log_dir / f"kubelet-{node.name}.log")
    state.pids.append(proc.pid)
    state.save()


def _kindnet(cluster: Cluster) -> None:
    """kindnetd's job, done once: each node's kindnet chain for its podCIDR, and routes to the others' pods."""
    cidrs: dict[str, str] = {}

    def all_cidrs() -> bool:
        out = run(cluster.kubectl_argv("get", "nodes", "-o", "json"), timeout=15)
        items = json.loads(out)["items"]
        for item in items:
            cidr = item.get("spec", {}).get("podCIDR")
            if cidr:
                cidrs[item["metadata"]["name"]] = cidr
        missing = [n.name for n in cluster.nodes if n.name not in cidrs]
        if missing:
            raise NotYet(f"no podCIDR yet for {', '.join(missing)} (registered: {len(items)})")
        return True

    until("every node registered with a podCIDR", all_cidrs, timeout=90, interval=0.5)
    files = LocalFiles()
    addresses = {n.name: n.address for n in cluster.nodes}
    for node in cluster.nodes:
        chain = provider.kindnet_chain(provider.KINDNET, [cidrs[node.name]], str(node.layout.ipam_data))
        path, text = node.layout.cni_conf / BASE_CONFLIST, conflist.render(chain)
        if not path.is_file() or path.read_text() != text:  # as kindnetd: a node's file only when it changes
            files.write_atomic(str(path), text)
        for cidr, via in kube_render.kindnet_routes(node.name, cidrs, addresses):
            netns.ip(node.netns, "route", "replace", cidr, "via", via)

    def ready() -> bool:
        out = json.loads(run(cluster.kubectl_argv("get", "nodes", "-o", "json"), timeout=15))
        waiting = [
            i["metadata"]["name"]
            for i in out["items"]
            if not any(c["type"] == "Ready" and c["status"] == "True" for c in i["status"].get("conditions", []))
        ]
        if waiting:
            raise NotYet(f"not Ready: {', '.join(waiting)}")
        return True

    until("every node Ready", ready, timeout=120, interval=0.5)


def add_node(cluster: Cluster, extra_images: Sequence[Path] = (), say: Callable[[str], None] = say_nothing) -> Node:
    """A worker that joins the running cluster: its own containerd (with the cluster's images and extra_images
    imported before its kubelet starts, as a registry would serve them) and kubelet, kindnet's chain for
    the podCIDR it is given, routes between it and every other node. Returns once every node is Ready."""
    state, root = cluster.state, Path(cluster.state.root)
    index = len(cluster.nodes)
    if index >= len(NODE_ROLES):
        raise ValueError(f"a kube cluster here has at most {len(NODE_ROLES)} nodes")
    archives = [*sorted((root / "images").glob("*.tar")), *extra_images]
    node = _node(state, index, f"{cluster.name}-{NODE_ROLES[index]}", cluster.ext, cluster.tools_dir,
                 images.PAUSE_IMAGE, archives)  # fmt: skip
    ca = pki.Authority(root / "pki", load=True)
    server = f"https://{cluster.nodes[0].address}:{kube_render.API_PORT}"
    minor = int(state.minor.split(".")[1])
    _start_kubelet(node, ca, server, cluster.bin_dir, cluster.log_dir, state, minor, cluster.name)
    cluster.nodes.append(node)
    _kindnet(cluster)
    say(f"node {node.name} joined")
    return node


def remove_node(cluster: Cluster, node: Node) -> list[str]:
    """Take a joined worker out again: the Node object, its kubelet and runtime, its namespace and files."""
    run(cluster.kubectl_argv("delete", "node", node.name, "--wait=true"), timeout=60)
    problems = cleanup.teardown(node.layout, node.state, remove_root=False)  # its kubelet runs in its netns
    cluster.nodes.remove(node)
    cluster.state.nodes.remove(str(node.layout.root))
    cluster.state.save()
    for other in cluster.nodes:
        for line in netns.ip(other.netns, "route", "show", "via", node.address).splitlines():
            netns.ip(other.netns, "route", "del", line.split()[0], "via", node.address)
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


def teardown(root: Path) -> list[str]:
    """Everything the cluster in root made: pods (CNI DEL), kubelets and the control plane, every node
    (local-tier teardown: containerd, mounts, namespace, cgroups), the external namespace, the files."""
    problems: list[str] = []
    try:
        state = ClusterState.load(root)
    except (OSError, ValueError, TypeError) as exc:
        return [f"{root}: no readable {CLUSTER_STATE} ({exc})"]
    # kubelets and the control plane first, so nothing recreates the pods the runtime removes next. Most
    # exit on SIGTERM at once; kube-apiserver drains its watches for a minute, so it gets SIGKILL soon.
    live = [p for p in state.pids if procs.alive(p)]
    procs.kill(live, signal.SIGTERM)
    left = procs.wait_gone(live, 2)
    procs.kill(left, signal.SIGKILL)
    left = procs.wait_gone(left, 5)
    problems += [f"process {pid} did not exit" for pid in left]
    for node_root in state.nodes:
        layout_state = RunState.load(Path(node_root) / "run.json")
        layout = Layout(layout_state.run_id, Path(node_root))
        if layout_state.containerd_pid and procs.alive(layout_state.containerd_pid):
            cri = CRI(layout.socket)
            try:
                for sandbox_id, _, _ in cri.sandboxes():
                    cri.remove_pod_sandbox(sandbox_id, timeout=20)
            except Exception as exc:  # noqa: BLE001 - teardown goes on without the runtime
                problems.append(f"{layout.node_netns}: removing pods: {exc}")
            finally:
                cri.close()
        problems += cleanup.teardown(layout, layout_state, remove_root=False)
    ext = Layout(state.run_id, root / "ext")
    pids = netns.pids_in(ext.ext_netns)
    procs.kill(pids)
    procs.wait_gone(pids, 5)
    try:
        netns.delete(ext.ext_netns)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"netns {ext.ext_netns}: {exc}")
    if mounts_under(root):
        problems.append(f"{root} still has mounts; not removing it")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return problems


def stale_roots(parent: Path, include_kept: bool = False) -> list[Path]:
    """Cluster roots under parent whose owning process is gone (killed before it could tear down)."""
    found = []
    for state_file in sorted(parent.glob(f"cniqs-kube-*/{CLUSTER_STATE}")):
        try:
            state = ClusterState.load(state_file.parent)
        except (OSError, ValueError, TypeError):
            continue
        if (state.owner_pid and procs.alive(state.owner_pid)) or (state.kept and not include_kept):
            continue
        found.append(state_file.parent)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m cniqs.providers.kube.cluster", description="Tear down kube-tier clusters"
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    down = sub.add_parser("down", help="tear down kept clusters, or those a killed run left (--stale)")
    down.add_argument("roots", nargs="*", type=Path, help="cluster roots (printed by a kept run)")
    down.add_argument("--stale", action="store_true", help="also every cluster whose owning process is gone")
    down.add_argument("--include-kept", action="store_true", help="with --stale: kept clusters too")
    down.add_argument("--parent", type=Path, default=Path(tempfile.gettempdir()), help="where --stale looks")
    args = parser.parse_args(argv)
    roots = list(args.roots) + (stale_roots(args.parent, args.include_kept) if args.stale else [])
    return teardowns.report(roots, teardown, "teardown")


if __name__ == "__main__":
    raise SystemExit(main())
