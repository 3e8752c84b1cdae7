"""Pure renderers: containerd's config, the external side's DNS server arguments, addresses."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from cniqs.providers.local.layout import Layout

# Only documentation and benchmark ranges stand in for the internet (RFC 5737, RFC 2544).
NODE_UPLINK = ipaddress.ip_interface("198.18.0.1/30")
EXT_DOWNLINK = ipaddress.ip_interface("198.18.0.2/30")
EXT_HOST = ipaddress.ip_address("203.0.113.10")
EXT_DNS = ipaddress.ip_address("203.0.113.53")
EXT_NAME = "kubernetes.io"
POD_CIDR_V4 = ipaddress.ip_network("10.244.0.0/24")
POD_CIDR_V6 = ipaddress.ip_network("fd00:10:244::/64")
CLUSTER_DOMAIN = "cluster.local"
POD_SEARCHES = (f"default.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN)
POD_DNS_OPTIONS = ("ndots:5",)
# Snapshotters and services a CRI node does not need here: skipping them starts containerd faster.
DISABLED_PLUGINS = (
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
)


def q(value: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for these)."""
    return json.dumps(value)


@dataclass(frozen=True)
class ContainerdOptions:
    sandbox_image: str
    cni_max_conf_num: int = 1
    log_level: str = "info"
    # Where the runtime reads CNI plugins and configs, when not the run root's cni/ dirs (the kube provider
    # bind-mounts each node's own dirs on one path all its nodes share, as kind's nodes all use /opt/cni/bin).
    cni_bin: str | None = None
    cni_conf: str | None = None
    # containerd 2.x serves NRI on one socket per host (/var/run/nri/nri.sock) unless told otherwise: a second
    # containerd on the host (another cluster's node, or the machine's own) then fails to start its NRI plugin.
    # containerd 1.6 has no NRI plugin, so the local provider's Debian containerd leaves this unset.
    nri_socket: str | None = None


def containerd_config(layout: Layout, opts: ContainerdOptions) -> str:
    """containerd 1.6 config (version 2): every path inside the run root, CRI set up like a kind node."""
    disabled = ", ".join(q(p) for p in DISABLED_PLUGINS)
    cri = '[plugins."io.containerd.grpc.v1.cri"]'
    runc = '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc'
    return f"""\
version = 2
root = {q(str(layout.containerd_root))}
state = {q(str(layout.containerd_state))}
disabled_plugins = [{disabled}]

[grpc]
  address = {q(str(layout.socket))}

[ttrpc]
  address = {q(str(layout.socket) + ".ttrpc")}

[debug]
  level = {q(opts.log_level)}

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = {q(str(layout.root / "containerd" / "opt"))}

  {cri}
    sandbox_image = {q(opts.sandbox_image)}
    # runc on these machines cannot lower oom_score_adj: without this the sandbox never starts.
    restrict_oom_score_adj = true
    # Pod network namespaces under the run's state dir, not the machine's /run/netns.
    netns_mounts_under_state_dir = true
    enable_selinux = false
    disable_apparmor = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"

      {runc}]
        runtime_type = "io.containerd.runc.v2"

        {runc}.options]
          SystemdCgroup = false
          Root = {q(str(layout.runc_root))}

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = {q(opts.cni_bin or str(layout.cni_bin))}
      conf_dir = {q(opts.cni_conf or str(layout.cni_conf))}
      max_conf_num = {opts.cni_max_conf_num}
{_nri_table(opts.nri_socket)}"""


def _nri_table(socket: str | None) -> str:
    if socket is None:
        return ""
    return f"""
  [plugins."io.containerd.nri.v1.nri"]
    socket_path = {q(socket)}
"""


def dnsmasq_argv(log_file: str, pid_file: str) -> list[str]:
    """A DNS server that answers EXT_NAME with EXT_HOST, NXDOMAIN for everything else, and never forwards."""
    return [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--bind-interfaces",
        f"--listen-address={EXT_DNS}",
        f"--host-record={EXT_NAME},{EXT_HOST}",
        f"--local=/{EXT_NAME}/",  # answered here only: NODATA for AAAA instead of a refused forward
        f"--address=/{CLUSTER_DOMAIN}/",  # NXDOMAIN for search-list tries; other names: REFUSED
        "--user=root",
        "--group=root",
        f"--pid-file={pid_file}",
        "--log-queries",
        f"--log-facility={log_file}",
    ]


def index_page(run_id: str) -> str:
    return f"<html><body><h1>cni-quickstart e2e</h1><p>run {run_id}</p></body></html>\n"
