"""containerd's loaded CNI config, as its CRI reports it: Status(verbose)'s info["cniconfig"] (JSON),
which `crictl info` prints too. One parser for every provider."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cniqs.common.errors import ParseError


@dataclass(frozen=True)
class LoadedNetwork:
    """One network of containerd's loaded CNI config."""

    name: str
    ifname: str
    types: list[str]
    plugins: list[dict[str, Any]]
    cni_version: str = ""


def loaded_networks(text: str) -> list[LoadedNetwork]:
    """`crictl info` -> the CNI networks containerd has loaded (`cniconfig.Networks`).

    crictl decodes the CRI verbose info values, so `cniconfig` is an object; a JSON string (as
    the raw CRI Status returns it) is accepted too.
    """
    try:
        info = json.loads(text)
    except ValueError as exc:
        raise ParseError(f"`crictl info` did not print JSON: {exc}") from None
    cni = info.get("cniconfig") if isinstance(info, dict) else None
    if cni is None and isinstance(info, dict) and isinstance(info.get("info"), dict):
        cni = info["info"].get("cniconfig")  # a crictl that nests the verbose info under "info"
    if isinstance(cni, str):
        try:
            cni = json.loads(cni)
        except ValueError as exc:
            raise ParseError(f"`crictl info` cniconfig is not JSON: {exc}") from None
    if not isinstance(cni, dict):
        raise ParseError("`crictl info` has no cniconfig: is this containerd's CRI?")
    networks = []
    for net in cni.get("Networks") or []:
        config = net.get("Config") or {}
        plugins = []
        for plugin in config.get("Plugins") or []:
            source = plugin.get("Source")
            try:
                parsed = json.loads(source) if isinstance(source, str) else None
            except ValueError:
                parsed = None
            # Without a readable Source only the type is known: mark it so nobody compares it whole.
            plugins.append(parsed if isinstance(parsed, dict) else {"Source": None, **(plugin.get("Network") or {})})
        types = [str((p.get("Network") or {}).get("type", "")) for p in config.get("Plugins") or []]
        networks.append(
            LoadedNetwork(
                str(config.get("Name", "")),
                str(net.get("IFName", "")),
                types,
                plugins,
                str(config.get("CNIVersion", "")),
            )
        )
    return networks


def pod_network(networks: list[LoadedNetwork]) -> LoadedNetwork | None:
    """The network pods get eth0 from (containerd also always loads a loopback network for lo)."""
    for net in networks:
        if net.ifname != "lo":
            return net
    return None


def describe_chain(text: str) -> str:
    """One line for messages: `kindnet: ptp, portmap, cni-quickstart`."""
    try:
        net = pod_network(loaded_networks(text))
    except ParseError as exc:
        return str(exc)
    if net is None:
        return "no pod network loaded"
    return f"{net.name} ({net.cni_version or '?'}): {', '.join(net.types)}"


def loaded_chain(cni_config: dict[str, Any], ifname: str = "eth0") -> dict[str, Any] | None:
    """The conflist containerd loaded for ifname, as JSON (from Status(verbose)'s cniconfig)."""
    for network in cni_config.get("Networks") or []:
        if network.get("IFName") == ifname:
            source = (network.get("Config") or {}).get("Source")
            return json.loads(source) if isinstance(source, str) else None
    return None


def chain_summary(chain: dict[str, Any] | None) -> str:
    if chain is None:
        return "no CNI network loaded"
    types = " -> ".join(str(p.get("type")) for p in chain.get("plugins", []))
    return f"{chain.get('name')} (cniVersion {chain.get('cniVersion')}): {types}"
