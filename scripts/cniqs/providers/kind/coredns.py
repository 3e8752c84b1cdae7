"""CoreDNS in a kind cluster: one DNS zone answered by the servers the user names (--kind-dns-zone ZONE=SERVER).

On a site whose own names live in a DNS server of their own (split DNS, an air-gapped site's internal
zone), CoreDNS's default `forward . /etc/resolv.conf` may never reach it: the node's resolv.conf comes from
the container engine. After the cluster is up, the coredns ConfigMap gets one more server block,
`ZONE:53 { forward . SERVER }`, and CoreDNS is restarted to load it (its `reload` plugin would take up to a
minute, unobserved). Names of that zone then go to those servers only.

Pure text helpers here (parse_zone, zone_block, with_zone), the kubectl command lines, and forward_zone,
which runs them.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from pathlib import Path

from cniqs.common.run import Runner, check
from cniqs.providers.cluster import commands as k8s

NAMESPACE = "kube-system"
CONFIGMAP = "coredns"
DEPLOYMENT = "coredns"
MARK = "# cniqs: names of the kind network's containers, from its own DNS server"


def zone_block(zone: str, upstreams: Sequence[str]) -> str:
    """A Corefile server block that answers `zone` from the given DNS servers only."""
    if not zone or any(c.isspace() or c in "{}" for c in zone):
        raise ValueError(f"not a DNS zone: {zone!r}")
    if not upstreams:
        raise ValueError(f"no DNS server to forward {zone} to")
    servers = " ".join(str(ipaddress.ip_address(server)) for server in upstreams)
    return f"{zone}:53 {{\n    {MARK}\n    errors\n    cache 30\n    forward . {servers}\n}}\n"


def _blocks(corefile: str) -> list[tuple[str, str]]:
    """The Corefile's top-level server blocks as (keys, text); text outside blocks is kept with the next."""
    blocks: list[tuple[str, str]] = []
    depth = 0
    start = 0
    keys = ""
    for index, char in enumerate(corefile):
        if char == "{":
            if depth == 0:
                line_start = corefile.rfind("\n", 0, index) + 1
                keys = corefile[line_start:index].strip()
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced '}' in the Corefile")
            if depth == 0:
                end = corefile.find("\n", index)
                end = len(corefile) if end < 0 else end + 1
                blocks.append((keys, corefile[start:end]))
                start = end
    if depth != 0:
        raise ValueError("unbalanced '{' in the Corefile")
    tail = corefile[start:]
    if tail.strip():
        blocks.append(("", tail))
    return blocks


def with_zone(corefile: str, zone: str, upstreams: Sequence[str]) -> str:
    """The Corefile with exactly one block for `zone:53` (ours): an earlier one for the same zone is replaced."""
    wanted = {f"{zone}:53", f"{zone}.:53"}
    kept = [text for keys, text in _blocks(corefile) if not wanted & set(keys.split())]
    text = "".join(kept)
    if text and not text.endswith("\n"):
        text += "\n"
    return text + zone_block(zone, upstreams)


def get_configmap(kubeconfig: str) -> list[str]:
    return k8s.kubectl(kubeconfig, "get", "configmap", CONFIGMAP, "--namespace", NAMESPACE, "-o", "json")


def replace_from_stdin(kubeconfig: str) -> list[str]:
    return k8s.kubectl(kubeconfig, "replace", "-f", "-")


def restart(kubeconfig: str) -> list[str]:
    return k8s.kubectl(kubeconfig, "rollout", "restart", f"deployment/{DEPLOYMENT}", "--namespace", NAMESPACE)


def rollout_status(kubeconfig: str, timeout: str = "180s") -> list[str]:
    return k8s.kubectl(
        kubeconfig, "rollout", "status", f"deployment/{DEPLOYMENT}", "--namespace", NAMESPACE, "--timeout", timeout
    )


def parse_zone(text: str) -> tuple[str, list[str]]:
    """--kind-dns-zone ZONE=SERVER[,SERVER]: the zone and its DNS servers (IP addresses)."""
    zone, eq, servers = text.partition("=")
    upstreams = [s.strip() for s in servers.split(",") if s.strip()]
    if not eq or not zone.strip() or not upstreams:
        raise ValueError(f"--kind-dns-zone {text!r}: give ZONE=SERVER[,SERVER], e.g. corp.example=10.0.0.53")
    try:
        zone_block(zone.strip(), upstreams)  # checks the zone and that each server is an IP address
    except ValueError as exc:
        raise ValueError(f"--kind-dns-zone {text!r}: {exc}") from None
    return zone.strip(), upstreams


def forward_zone(run: Runner, kubeconfig: str, zone: str, servers: Sequence[str], *, wait: bool = True) -> None:
    """Make the cluster's CoreDNS answer `zone` from `servers` only: its Corefile updated and its pods restarted;
    then (wait) until it runs with that, else the caller waits with wait_restarted before the zone is asked."""
    configmap = json.loads(check(run, get_configmap(kubeconfig), "the coredns ConfigMap"))
    corefile = configmap.get("data", {}).get("Corefile", "")
    if not corefile:
        raise RuntimeError("the coredns ConfigMap has no Corefile")
    configmap["data"]["Corefile"] = with_zone(corefile, zone, servers)
    check(run, replace_from_stdin(kubeconfig), "update the coredns ConfigMap", input=json.dumps(configmap))
    check(run, restart(kubeconfig), "restart CoreDNS")
    if wait:
        wait_restarted(run, kubeconfig)


def wait_restarted(run: Runner, kubeconfig: str) -> None:
    """Until CoreDNS's restarted pods run (they answer with the new Corefile)."""
    check(run, rollout_status(kubeconfig), "CoreDNS back up", timeout=240)


def configure_zone(run: Runner, kubeconfig: Path, dns_zone: str, *, wait: bool = True) -> str | None:
    """--kind-dns-zone's zone forwarded (none when empty); the line that says so. Without wait, CoreDNS may
    still be restarting: wait_restarted before the zone is asked."""
    if not dns_zone:
        return None
    zone, servers = parse_zone(dns_zone)
    forward_zone(run, str(kubeconfig), zone, servers, wait=wait)
    return f"CoreDNS answers {zone} from {' '.join(servers)}"
