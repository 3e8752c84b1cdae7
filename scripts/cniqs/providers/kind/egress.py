"""What the kind suite's connectivity checks reach from a pod, per egress mode (--kind-egress).

internet (the default, for a laptop): the original demo's checks. Pods ping --kind-target-ip (1.1.1.1)
and --kind-target-name (kubernetes.io) and resolve the name; --kind-target-url is fetched when given.

ci: for machines whose NAT drops ICMP to the internet, such as GitHub-hosted runners (Azure VMs without
public IPs: actions/runner-images#1519). ICMP goes only to a host that answers, the gateway of the
container network kind puts its nodes on (the runner's own bridge, read from `docker network inspect`);
egress is proven with what crosses that NAT: resolving --kind-target-name and fetching
--kind-target-url (default https://NAME/) over TCP. Nothing is skipped: a gateway that cannot be found
is an error with the reason.

At a site without internet, --kind-target-ip/-name/-url (or $CNIQS_KIND_TARGET_*) name one of the site's
own hosts; in ci mode the ICMP target is still the kind network's gateway.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from cniqs.common.run import Runner
from cniqs.provider import Targets
from cniqs.providers.kind import commands

INTERNET = "internet"
CI = "ci"
MODES = (INTERNET, CI)

# kind's own overrides of the network it puts nodes on (kind pkg/cluster/internal/providers/*/provider.go)
NETWORK_ENV = {"docker": "KIND_EXPERIMENTAL_DOCKER_NETWORK", "podman": "KIND_EXPERIMENTAL_PODMAN_NETWORK"}
DEFAULT_NETWORK = "kind"


def network_name(engine: str, environ: Mapping[str, str]) -> str:
    """The container network kind uses with this engine."""
    return environ.get(NETWORK_ENV.get(engine, ""), "") or DEFAULT_NETWORK


def gateways(inspect_json: str) -> list[str]:
    """Every gateway address `docker network inspect` (IPAM.Config[].Gateway) or `podman network inspect`
    (subnets[].gateway) prints, in its order."""
    data: Any = json.loads(inspect_json)
    found: list[str] = []
    for network in data if isinstance(data, list) else [data]:
        if not isinstance(network, dict):
            continue
        ipam = network.get("IPAM") or {}
        entries = list(ipam.get("Config") or []) + list(network.get("subnets") or [])
        for entry in entries:
            gateway = (entry or {}).get("Gateway") or (entry or {}).get("gateway")
            if gateway:
                found.append(str(gateway))
    return found


def ipv4_gateways(inspect_json: str) -> list[str]:
    """The IPv4 ones of gateways(), in order."""
    found = []
    for address in gateways(inspect_json):
        try:
            if ipaddress.ip_address(address).version == 4:
                found.append(address)
        except ValueError:
            continue
    return found


def ipv4_gateway(inspect_json: str, network: str) -> str:
    """The network's IPv4 gateway (the suite pings IPv4 targets); ValueError naming what was found."""
    try:
        found = ipv4_gateways(inspect_json)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the inspect output of network {network} is not JSON: {exc}") from None
    if not found:
        listed = ", ".join(gateways(inspect_json)) or "none"
        raise ValueError(f"network {network} has no IPv4 gateway (gateways: {listed})")
    return found[0]


def network_gateway(run: Runner, engine: str, environ: Mapping[str, str]) -> str:
    """The IPv4 gateway of the container network kind's nodes are on; RuntimeError with the reason if none."""
    network = network_name(engine, environ)
    argv = commands.network_inspect(engine, network)
    result = run(argv, timeout=60)
    if result.rc != 0:
        raise RuntimeError(
            f"--kind-egress ci pings the gateway of kind's network, but `{' '.join(argv)}` failed: "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    try:
        return ipv4_gateway(result.stdout, network)
    except ValueError as exc:
        raise RuntimeError(f"--kind-egress ci pings the gateway of kind's network, but {exc}") from None


def default_url(name: str) -> str:
    return f"https://{name}/"


def ci_targets(name_and_url: Targets, gateway: str) -> Targets:
    """ci mode: ICMP to the gateway only; the name is resolved and its URL fetched, never pinged."""
    return Targets(
        ip=gateway,
        name=name_and_url.name,
        url=name_and_url.url or default_url(name_and_url.name),
        name_ip=name_and_url.name_ip,
        ping_name=False,
    )


def select(mode: str, targets: Targets, gateway: Callable[[], str]) -> Targets:
    """The targets of a run in this egress mode; gateway() is asked only in ci mode."""
    if mode == INTERNET:
        return targets
    if mode == CI:
        return ci_targets(targets, gateway())
    raise ValueError(f"--kind-egress {mode!r}: use one of {', '.join(MODES)}")


def run_targets(run: Runner, mode: str, targets: Targets, engine: str) -> Targets:
    """select() with the gateway of this engine's kind network (read only in ci mode)."""
    return select(mode, targets, lambda: network_gateway(run, engine, os.environ))


def describe(targets: Targets) -> str:
    """One line for the run's summary: what is pinged, resolved and fetched."""
    pinged = [targets.ip, *([targets.name] if targets.ping_name else [])]
    line = f"ping {' '.join(pinged)}; resolve {targets.name}"
    return line + (f"; fetch {targets.url}" if targets.url else "")
