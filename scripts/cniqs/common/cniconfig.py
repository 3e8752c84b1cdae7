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
    source: dict[str, Any] | None = None  # the whole conflist, where containerd reports it


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
    return networks(cni)


def _json_object(text: Any) -> dict[str, Any] | None:
    try:
        parsed = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def networks(cni: dict[str, Any]) -> list[LoadedNetwork]:
    """The networks of a decoded cniconfig object (`Networks[]`: IFName, Config with Name, Plugins, Source)."""
    found = []
    for net in cni.get("Networks") or []:
        config = net.get("Config") or {}
        plugins = []
        for plugin in config.get("Plugins") or []:
            parsed = _json_object(plugin.get("Source"))
            # Without a readable Source only the type is known: mark it so nobody compares it whole.
            plugins.append(parsed if parsed is not None else {"Source": None, **(plugin.get("Network") or {})})
        types = [str((p.get("Network") or {}).get("type", "")) for p in config.get("Plugins") or []]
        found.append(
            LoadedNetwork(
                str(config.get("Name", "")),
                str(net.get("IFName", "")),
                types,
                plugins,
                str(config.get("CNIVersion", "")),
                _json_object(config.get("Source")),
            )
        )
    return found


def pod_network(loaded: list[LoadedNetwork]) -> LoadedNetwork | None:
    """The network pods get eth0 from (containerd also always loads a loopback network for lo)."""
    for net in loaded:
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
    return next((net.source for net in networks(cni_config) if net.ifname == ifname), None)


def chain_summary(chain: dict[str, Any] | None) -> str:
    if chain is None:
        return "no CNI network loaded"
    types = " -> ".join(str(p.get("type")) for p in chain.get("plugins", []))
    return f"{chain.get('name')} (cniVersion {chain.get('cniVersion')}): {types}"
