"""The cluster's network: the external namespace with the bridge every node hangs off (and the DNS and web
servers), each node's veth to it, and kindnetd's job (each node's chain for its podCIDR, routes between nodes)."""

from __future__ import annotations

import json

from cniqs.common.run import run
from cniqs.common.waits import NotYet, until
from cniqs.install import conflist
from cniqs.install.kindnet import KINDNET, kindnet_chain
from cniqs.install.nodefs import LocalFiles
from cniqs.providers.kube import render as kube_render
from cniqs.providers.kube.state import Cluster, ClusterState, Node
from cniqs.providers.local import netns, services
from cniqs.providers.local import render as local_render
from cniqs.providers.local.layout import Layout

BASE_CONFLIST = "10-kindnet.conflist"
BRIDGE = "nodes"


def external_namespace(state: ClusterState, ext: Layout) -> None:
    """The external namespace: the bridge the nodes hang off, and the DNS and web servers."""
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


def wire_node(layout: Layout, index: int, ext: Layout) -> None:
    """The node's own namespace, its eth0 on the bridge, its default route, and masquerade out of the cluster."""
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


def unroute(cluster: Cluster, node: Node) -> None:
    """The other nodes' routes to a node's pods, once it has left."""
    for other in cluster.nodes:
        for line in netns.ip(other.netns, "route", "show", "via", node.address).splitlines():
            netns.ip(other.netns, "route", "del", line.split()[0], "via", node.address)


def kindnet(cluster: Cluster) -> None:
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
        chain = kindnet_chain(KINDNET, [cidrs[node.name]], str(node.layout.ipam_data))
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
