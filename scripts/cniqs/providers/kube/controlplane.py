"""The control plane on the first node: its certificates and kubeconfigs, etcd, kube-apiserver (and the
host's way in to it, a socat forwarder on 127.0.0.1), kube-controller-manager and kube-scheduler."""

from __future__ import annotations

import ipaddress
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cniqs.common.run import in_netns, run
from cniqs.common.waits import until
from cniqs.providers.kube import pki
from cniqs.providers.kube import render as kube_render
from cniqs.providers.kube.daemons import alive_or_fatal, free_port, spawn
from cniqs.providers.kube.state import ClusterState, Node


@dataclass
class ControlPlane:
    """What the kubelets need of it: the cluster's CA and the API server's address inside the cluster."""

    ca: pki.Authority
    server: str
    paths: kube_render.ControlPlanePaths


def start(
    state: ClusterState, cp: Node, bin_dir: Path, log_dir: Path, say: Callable[[str], None], t0: float
) -> ControlPlane:
    """Certificates, then etcd, the API server with the forwarder (waiting until it is ready), and the two
    controllers, each recorded in state as it starts."""
    name = f"cniqs-{state.run_id}"
    plane = certificates(Path(state.root), cp, name)
    start_etcd(state, cp, plane.paths, log_dir)
    api_log = log_dir / "kube-apiserver.log"
    argv = kube_render.apiserver_argv(bin_dir, plane.paths, kube_render.node_address(0).ip)
    api = _record(state, spawn(in_netns(cp.netns, argv), api_log))
    port, forwarder, forwarder_log = _forward(state, cp, log_dir)
    admin = plane.ca.issue("admin", "kubernetes-admin", ["system:masters"], client=True)
    plane.paths.admin_kubeconfig.write_text(
        pki.kubeconfig(f"https://127.0.0.1:{port}", plane.ca.pair.cert, admin, "admin", name)
    )
    kubectl = [str(bin_dir / "kubectl"), "--kubeconfig", str(plane.paths.admin_kubeconfig)]

    def api_ready() -> bool:
        alive_or_fatal(api, "kube-apiserver", api_log)
        alive_or_fatal(forwarder, "the API forwarder (socat)", forwarder_log)
        return run([*kubectl, "get", "--raw", "/readyz"], timeout=10).strip() == "ok"

    until("kube-apiserver /readyz", api_ready, timeout=90, interval=0.5)
    say(f"API server ready at https://127.0.0.1:{port} after {time.monotonic() - t0:.1f} s")
    for argv, what in (
        (kube_render.controller_manager_argv(bin_dir, plane.paths), "kube-controller-manager"),
        (kube_render.scheduler_argv(bin_dir, plane.paths), "kube-scheduler"),
    ):
        _record(state, spawn(in_netns(cp.netns, argv), log_dir / f"{what}.log"))
    return plane


def certificates(root: Path, cp: Node, name: str) -> ControlPlane:
    """The CA, the service-account keys, the API server's certificates, the controllers' kubeconfigs."""
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
    return ControlPlane(ca, in_cluster, paths)


def start_etcd(state: ClusterState, cp: Node, paths: kube_render.ControlPlanePaths, log_dir: Path) -> None:
    """etcd in the control-plane node's namespace; returns once it answers /health."""
    etcd_log = log_dir / "etcd.log"
    etcd = _record(state, spawn(in_netns(cp.netns, kube_render.etcd_argv(paths.etcd_data, cp.name)), etcd_log))
    health = in_netns(cp.netns, ["busybox", "wget", "-q", "-O", "-", f"{kube_render.ETCD_CLIENT}/health"])
    until("etcd to answer /health", lambda: alive_or_fatal(etcd, "etcd", etcd_log) and run(health, timeout=5),
          timeout=30, interval=0.2)  # fmt: skip


def _forward(state: ClusterState, cp: Node, log_dir: Path) -> tuple[int, subprocess.Popen[bytes], Path]:
    """The host's way in: 127.0.0.1:<port> -> the API server in the control-plane namespace."""
    port = free_port()
    forward = [
        "socat",
        f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
        f"EXEC:nsenter --net=/run/netns/{cp.netns} socat STDIO TCP\\:{cp.address}\\:{kube_render.API_PORT},nofork",
    ]
    forwarder_log = log_dir / "forwarder.log"
    forwarder = spawn(forward, forwarder_log)
    state.pids.append(forwarder.pid)
    state.api_port = port
    state.save()
    return port, forwarder, forwarder_log


def _record(state: ClusterState, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """proc's pid in the saved state, for teardown, as soon as it runs."""
    state.pids.append(proc.pid)
    state.save()
    return proc
