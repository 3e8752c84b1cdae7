"""Pure renderers for the kube provider: addresses, component command lines and the kubelet configuration.

    [ext netns: bridge "nodes" 198.19.0.1/24, DNS 203.0.113.53, web 203.0.113.10]
        |-- veth -- [control-plane netns 198.19.0.2: containerd, kubelet, etcd, kube-apiserver,
        |                                             kube-controller-manager, kube-scheduler]
        |-- veth -- [worker netns 198.19.0.3: containerd, kubelet]

The host reaches the API server through a forwarder on 127.0.0.1 (see cluster.py); pods get their
podCIDR from the controller-manager (10.244.0.0/16, /24 per node), as on kind.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# RFC 2544 benchmark range for the node network: only ever inside the run's own namespaces.
NODE_NET = ipaddress.ip_network("198.19.0.0/24")
NODE_GATEWAY = ipaddress.ip_interface("198.19.0.1/24")
CLUSTER_CIDR = ipaddress.ip_network("10.244.0.0/16")
NODE_CIDR_MASK = 24
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
API_SERVICE_IP = ipaddress.ip_address("10.96.0.1")
API_PORT = 6443
ETCD_CLIENT = "http://127.0.0.1:2379"
CLUSTER_DOMAIN = "cluster.local"


def api_server_names() -> list[str]:
    """The DNS names the API server's certificate carries (the in-cluster Service's, and localhost)."""
    service = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", f"kubernetes.default.svc.{CLUSTER_DOMAIN}"]
    return [*service, "localhost"]


def node_address(index: int) -> ipaddress.IPv4Interface:
    """Node 0 (the control plane) is .2, node 1 is .3, ..."""
    return ipaddress.IPv4Interface(f"{NODE_NET.network_address + 2 + index}/{NODE_NET.prefixlen}")


@dataclass(frozen=True)
class ControlPlanePaths:
    """Files the control-plane components read; all inside the run root."""

    pki: Path
    etcd_data: Path
    admin_kubeconfig: Path
    controller_manager_kubeconfig: Path
    scheduler_kubeconfig: Path


def etcd_argv(data_dir: Path, name: str) -> list[str]:
    return [
        "etcd",
        f"--name={name}",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={ETCD_CLIENT}",
        f"--advertise-client-urls={ETCD_CLIENT}",
        "--listen-peer-urls=http://127.0.0.1:2380",
        "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        f"--initial-cluster={name}=http://127.0.0.1:2380",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        "--log-level=warn",
        "--logger=zap",
    ]


def apiserver_argv(bin_dir: Path, paths: ControlPlanePaths, advertise: ipaddress.IPv4Address) -> list[str]:
    pki = paths.pki
    return [
        str(bin_dir / "kube-apiserver"),
        f"--advertise-address={advertise}",
        "--bind-address=0.0.0.0",
        f"--secure-port={API_PORT}",
        f"--etcd-servers={ETCD_CLIENT}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={pki / 'ca.crt'}",
        "--kubelet-preferred-address-types=InternalIP",
        f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        "--profiling=false",
        "--v=1",
    ]


def _component(binary: Path, kubeconfig: Path) -> list[str]:
    """What controller-manager and scheduler share: one kubeconfig for everything, loopback, no election."""
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def controller_manager_argv(bin_dir: Path, paths: ControlPlanePaths) -> list[str]:
    pki = paths.pki
    return [
        *_component(bin_dir / "kube-controller-manager", paths.controller_manager_kubeconfig),
        "--allocate-node-cidrs=true",
        f"--cluster-cidr={CLUSTER_CIDR}",
        f"--node-cidr-mask-size={NODE_CIDR_MASK}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        "--use-service-account-credentials=true",
        "--controllers=*,bootstrapsigner,tokencleaner",
    ]


def scheduler_argv(bin_dir: Path, paths: ControlPlanePaths) -> list[str]:
    return _component(bin_dir / "kube-scheduler", paths.scheduler_kubeconfig)


@dataclass(frozen=True)
class KubeletPaths:
    root_dir: Path
    config: Path
    kubeconfig: Path
    ca: Path
    serving_cert: Path
    serving_key: Path
    resolv_conf: Path
    pod_logs: Path


def kubelet_config(
    paths: KubeletPaths,
    address: ipaddress.IPv4Address,
    cluster_dns: Sequence[str],
    cgroup_root: str,
    minor: int,
) -> dict[str, Any]:
    """The KubeletConfiguration for one node (JSON is a valid kubelet config file).

    As on kind's nodes: cgroupfs-free disk thresholds off (the machine's disk is shared with everything
    else), image GC off, swap tolerated. Each node's pods live under its own cgroup root, so two nodes
    (or two runs) on one machine never share a kubepods hierarchy.
    """
    config: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": str(address),
        "port": 10250,
        "healthzBindAddress": "127.0.0.1",
        "readOnlyPort": 0,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(paths.ca)},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(paths.serving_cert),
        "tlsPrivateKeyFile": str(paths.serving_key),
        "clusterDomain": CLUSTER_DOMAIN,
        "clusterDNS": list(cluster_dns),
        "resolvConf": str(paths.resolv_conf),
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup_root,
        "cgroupsPerQOS": True,
        "failSwapOn": False,
        "imageGCHighThresholdPercent": 100,
        "evictionHard": {"nodefs.available": "0%", "nodefs.inodesFree": "0%", "imagefs.available": "0%"},
        "podLogsDir": str(paths.pod_logs),
        "serializeImagePulls": False,
        "containerRuntimeEndpoint": "",  # set by the caller: the node's own containerd socket
        "staticPodPath": "",
        "syncFrequency": "10s",
        "nodeStatusUpdateFrequency": "4s",
        "protectKernelDefaults": False,
        "makeIPTablesUtilChains": False,
        "localStorageCapacityIsolation": False,
    }
    if minor >= 35:
        # Our machines run cgroup v1; from 1.35 the kubelet refuses it unless told otherwise (KEP-5573).
        config["failCgroupV1"] = False
    return config


def kubelet_argv(bin_dir: Path, paths: KubeletPaths, node_name: str, address: ipaddress.IPv4Address) -> list[str]:
    return [
        str(bin_dir / "kubelet"),
        f"--config={paths.config}",
        f"--kubeconfig={paths.kubeconfig}",
        f"--root-dir={paths.root_dir}",
        f"--cert-dir={paths.root_dir / 'pki'}",
        f"--hostname-override={node_name}",
        f"--node-ip={address}",
        "--v=1",
    ]


def kindnet_routes(own: str, pod_cidrs: dict[str, str], addresses: dict[str, str]) -> list[tuple[str, str]]:
    """(podCIDR, via) routes node `own` needs to reach every other node's pods (kindnetd's job on kind)."""
    return [(pod_cidrs[n], addresses[n]) for n in sorted(pod_cidrs) if n != own and n in addresses]
