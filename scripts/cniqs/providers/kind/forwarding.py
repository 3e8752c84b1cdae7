"""Pod traffic between kind's nodes across the host's bridge, where the host's FORWARD policy would drop it.

kindnet routes each node's PodCIDR through that node and masquerades only what leaves the cluster, so a
packet from a pod on one node to a pod on another crosses the engine's bridge on the host with pod
addresses. On a Linux host that passes bridged frames to iptables (`net.bridge.bridge-nf-call-iptables`
is 1 once br_netfilter is loaded, as dockerd loads it) and whose FORWARD policy is DROP (dockerd sets it
when it turns forwarding on), such a packet is dropped unless a rule accepts traffic between the bridge's
own ports. Docker adds that rule for each of its networks; netavark accepts only its network's own
subnet. So with both engines on one host, kind on a netavark network loses every pod-to-pod packet
between nodes.

While a cluster lives, this adds the same accept rule for its network's bridge when the host needs one
and has none, tagged with the cluster's name, and removes the rules so tagged with the cluster. Nothing
is done where the bridge is not a host interface (Docker Desktop's VM, a rootless engine's namespace) or the host has
no iptables.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cniqs.common.run import Runner
from cniqs.providers.kind import commands, egress


@dataclass(frozen=True)
class Family:
    tool: str  # iptables or ip6tables
    sysctl: Path  # br_netfilter's switch for this family


FAMILIES = (
    Family("iptables", Path("/proc/sys/net/bridge/bridge-nf-call-iptables")),
    Family("ip6tables", Path("/proc/sys/net/bridge/bridge-nf-call-ip6tables")),
)


def tag(cluster: str) -> str:
    return f"cni-quickstart kind cluster {cluster}"


def accept_rule(bridge: str) -> list[str]:
    """The rule Docker adds for its own bridges: frames between two ports of one bridge are accepted."""
    return ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]


def tagged_rule(bridge: str, cluster: str) -> list[str]:
    return ["FORWARD", "-i", bridge, "-o", bridge, "-m", "comment", "--comment", tag(cluster), "-j", "ACCEPT"]


def policy(listing: str) -> str | None:
    """The chain policy in `iptables -S FORWARD` output ("-P FORWARD DROP"), or None."""
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[:2] == ["-P", "FORWARD"]:
            return fields[2]
    return None


def tagged_rules(listing: str, cluster: str) -> list[list[str]]:
    """The rules of `iptables -S FORWARD` output that carry this cluster's tag, as arguments for -D."""
    found = []
    for line in listing.splitlines():
        fields = shlex.split(line)
        if fields[:2] == ["-A", "FORWARD"] and tag(cluster) in fields:
            found.append(fields[1:])
    return found


def interface_with(address: str, addresses_json: str) -> str | None:
    """The host interface holding `address`, from `ip -j addr show` output."""
    try:
        links = json.loads(addresses_json or "[]")
    except json.JSONDecodeError:
        return None
    for link in links if isinstance(links, list) else []:
        for info in link.get("addr_info") or []:
            if info.get("local") == address and link.get("ifname"):
                return str(link["ifname"])
    return None


def _bridge(run: Runner, engine: str, network: str) -> str | None:
    inspect = run(commands.network_inspect(engine, network), timeout=60)
    if inspect.rc != 0:
        return None
    try:
        gateways = egress.gateways(inspect.stdout)
    except (json.JSONDecodeError, AttributeError):
        return None
    listing = run(["ip", "-j", "addr", "show"], timeout=30)
    if listing.rc != 0:
        return None
    for gateway in gateways:
        if bridge := interface_with(gateway, listing.stdout):
            return bridge
    return None


def _bridged_to_iptables(family: Family) -> bool:
    try:
        return family.sysctl.read_text().strip() == "1"
    except OSError:
        return False


def accept_between_nodes(
    run: Runner, engine: str, network: str, cluster: str, families: Sequence[Family] | None = None
) -> list[str]:
    """After the cluster is created: accept forwarding across its network's bridge where the host would drop
    it. Returns what was done, a line each (empty when the host needs nothing); RuntimeError when a rule the
    host needs cannot be added, naming the command that would add it."""
    needy = []
    for family in FAMILIES if families is None else families:
        if not _bridged_to_iptables(family):
            continue
        listing = run([family.tool, "-S", "FORWARD"], timeout=30)
        if listing.rc == 0 and policy(listing.stdout) == "DROP":
            needy.append(family)
    if not needy:
        return []
    bridge = _bridge(run, engine, network)
    if bridge is None:
        return []  # the network's bridge is not on this host (a VM's, or a rootless network namespace's)
    done = []
    for family in needy:
        if run([family.tool, "-C", *accept_rule(bridge)], timeout=30).rc == 0:
            continue  # the engine accepts its own bridge's traffic (Docker does)
        if run([family.tool, "-C", *tagged_rule(bridge, cluster)], timeout=30).rc == 0:
            continue  # a reused cluster: added by the run that made it
        argv = [family.tool, "-I", *tagged_rule(bridge, cluster)]
        added = run(argv, timeout=30)
        if added.rc != 0:
            raise RuntimeError(
                f"the host's {family.tool} FORWARD policy is DROP and bridged traffic goes through it, so pods on "
                f"different nodes of cluster {cluster} cannot reach each other across {bridge}; adding "
                f"`{shlex.join(argv)}` failed: {added.stderr.strip() or added.stdout.strip()}"
            )
        done.append(f"{family.tool}: accepting forwarded traffic across {bridge} while cluster {cluster} lives")
    return done


def remove_for(run: Runner, cluster: str, families: Sequence[Family] | None = None) -> list[str]:
    """When the cluster is gone: delete every rule tagged with its name. Returns notes on what stays."""
    notes = []
    for family in FAMILIES if families is None else families:
        listing = run([family.tool, "-S", "FORWARD"], timeout=30)
        if listing.rc != 0:
            continue  # no such tool, or not allowed to read: nothing of ours can be there
        for rule in tagged_rules(listing.stdout, cluster):
            result = run([family.tool, "-D", *rule], timeout=30)
            if result.rc != 0:
                notes.append(f"{family.tool} rule {shlex.join(rule)} stays: {result.stderr.strip()}")
    return notes
