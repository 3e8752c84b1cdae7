"""The node's network: a node namespace and an external one standing in for the internet.

    pods --ptp veths-- [node netns: containerd, ip_forward, MASQUERADE] --uplink/downlink-- [ext netns]
                                                                                    DNS 203.0.113.53
                                                                                    web 203.0.113.10

Everything lives inside the two namespaces, so deleting them removes every veth, route and
iptables rule the run made (pods' host-side veths and portmap's rules included).
"""

from __future__ import annotations

from pathlib import Path

from cniqs.common.run import CommandError, in_netns, run
from cniqs.providers.local import render

NETNS_DIR = Path("/run/netns")


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def add(name: str) -> None:
    run(["ip", "netns", "add", name])


def delete(name: str) -> None:
    if exists(name):
        run(["ip", "netns", "delete", name])


def ip(netns: str, *args: str) -> str:
    return run(["ip", "-n", netns, *args])


def sysctl(netns: str, key: str, value: str) -> None:
    run(in_netns(netns, ["sysctl", "-q", "-w", f"{key}={value}"]))


def iptables(netns: str, *args: str, v6: bool = False) -> None:
    run(in_netns(netns, ["ip6tables" if v6 else "iptables", "-w", "5", *args]))


def build(node: str, ext: str, pod_cidrs: list[str]) -> None:
    """Create and wire both namespaces. The caller deletes them (also after a partial failure)."""
    add(node)
    add(ext)
    for ns in (node, ext):
        ip(ns, "link", "set", "lo", "up")
    ip(node, "link", "add", "uplink", "type", "veth", "peer", "name", "downlink", "netns", ext)
    ip(node, "addr", "add", str(render.NODE_UPLINK), "dev", "uplink")
    ip(node, "link", "set", "uplink", "up")
    ip(ext, "addr", "add", str(render.EXT_DOWNLINK), "dev", "downlink")
    ip(ext, "link", "set", "downlink", "up")
    for host in (render.EXT_HOST, render.EXT_DNS):
        ip(ext, "addr", "add", f"{host}/32", "dev", "lo")
    # The node's default route leads into ext, whose only links are its loopback and this veth, and
    # which forwards nothing: no packet of a run can leave the two namespaces.
    ip(node, "route", "add", "default", "via", str(render.EXT_DOWNLINK.ip))
    sysctl(node, "net.ipv4.ip_forward", "1")
    sysctl(node, "net.ipv6.conf.all.forwarding", "1")
    sysctl(ext, "net.ipv4.ip_forward", "0")
    masquerade(node, pod_cidrs)


def masquerade(node: str, pod_cidrs: list[str]) -> None:
    """Pod traffic leaving the pod CIDR goes out with the node's address, like a kind node behind NAT."""
    for cidr in pod_cidrs:
        v6 = ":" in cidr
        rule = ["POSTROUTING", "-s", cidr, "!", "-d", cidr, "-j", "MASQUERADE"]
        try:
            iptables(node, "-t", "nat", "-C", *rule, v6=v6)
        except CommandError:
            iptables(node, "-t", "nat", "-A", *rule, v6=v6)


def pids_in(name: str) -> list[int]:
    """Processes whose network namespace is this one (for teardown)."""
    path = NETNS_DIR / name
    try:
        target = path.stat()
    except OSError:
        return []
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            st = (proc / "ns" / "net").stat()
        except OSError:
            continue
        if (st.st_ino, st.st_dev) == (target.st_ino, target.st_dev):
            found.append(int(proc.name))
    return found
