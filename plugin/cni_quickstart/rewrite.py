"""Pure functions: turn a prevResult into the result the runtime will report, and check one."""

from __future__ import annotations

from cni_quickstart import addr
from cni_quickstart import errors as e
from cni_quickstart.addr import IP, Interface, Net

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~5 ms per CNI call
if TYPE_CHECKING:
    from typing import Any

    from cni_quickstart.config import Config


def has_ip_version_field(cni_version: str) -> bool:
    """0.3.x and 0.4.0 results carry "version": "4"|"6" on each ips entry; 1.x results do not."""
    return not cni_version.startswith("1.")


def fake_address(real: IP, net: Net, mode: str, index: int) -> IP:
    """The address reported for the index-th real address of its family."""
    if mode == "translate":
        # Keep the real address's host bits inside the fake prefix.
        return net.network_address + (int(real) & int(net.hostmask))
    # fixed: the first address is the prefix's own address (1.2.3.0, as in the original
    # demo); later ones skip the gateway so no two entries report the same address.
    offset = 0 if index == 0 else index + 1
    if offset >= net.num_addresses:
        raise e.CNIError(
            e.INVALID_CONFIG,
            f"fake prefix {net} is too small for {index + 1} addresses of one family",
            "use a larger fakeIPv4/fakeIPv6 prefix",
        )
    return net.network_address + offset


def fake_gateway(real_gateway: IP | None, net: Net, mode: str) -> IP | None:
    if mode == "translate":
        if real_gateway is None:
            return None
        return fake_address(real_gateway, net, mode, 0)
    return net.network_address + 1


def _entries(prev: dict[str, Any]) -> list[tuple[dict[str, Any], Interface, IP | None]]:
    ips = prev.get("ips", [])
    if not isinstance(ips, list):
        raise e.CNIError(e.INVALID_CONFIG, "prevResult.ips must be a list")
    interfaces = prev.get("interfaces", [])
    if not isinstance(interfaces, list):
        raise e.CNIError(e.INVALID_CONFIG, "prevResult.interfaces must be a list")
    parsed = []
    for n, entry in enumerate(ips):
        if not isinstance(entry, dict):
            raise e.CNIError(e.INVALID_CONFIG, f"prevResult.ips[{n}] must be an object")
        try:
            address = entry["address"]
            if not isinstance(address, str) or "/" not in address:
                raise ValueError("address must be a string in CIDR notation")
            iface = addr.ip_interface(address)
            gateway = entry.get("gateway")
            if gateway is not None:
                if not isinstance(gateway, str):
                    raise ValueError("gateway must be a string")
                gw: IP | None = addr.ip_address(gateway)
                if gw is not None and gw.version != iface.version:
                    raise ValueError("gateway family differs from address family")
            else:
                gw = None
        except (KeyError, ValueError) as exc:
            raise e.CNIError(e.INVALID_CONFIG, f"prevResult.ips[{n}] is malformed", str(exc)[:200]) from None
        index = entry.get("interface")
        if index is not None and (
            not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(interfaces)
        ):
            raise e.CNIError(e.INVALID_CONFIG, f"prevResult.ips[{n}].interface does not index prevResult.interfaces")
        parsed.append((entry, iface, gw))
    return parsed


def _fake_net(cfg: Config, version: int) -> Net:
    return cfg.fake_v4 if version == 4 else cfg.fake_v6


def rewrite(prev: dict[str, Any], cfg: Config) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Return (result, [(real, reported), ...]). Only ips addresses and gateways change."""
    result = dict(prev)
    result["cniVersion"] = cfg.cni_version
    seen = {4: 0, 6: 0}
    new_ips = []
    mapping = []
    for entry, iface, gw in _entries(prev):
        net = _fake_net(cfg, iface.version)
        fake = fake_address(iface.ip, net, cfg.mode, seen[iface.version])
        seen[iface.version] += 1
        new = dict(entry)
        new["address"] = f"{fake}/{net.prefixlen}"
        fake_gw = fake_gateway(gw, net, cfg.mode)
        if fake_gw is None:
            new.pop("gateway", None)
        else:
            new["gateway"] = str(fake_gw)
        new_ips.append(new)
        mapping.append((str(iface), new["address"]))
    if "ips" in prev:
        result["ips"] = new_ips
    return in_version(result, cfg.cni_version), mapping


def in_version(result: dict[str, Any], cni_version: str) -> dict[str, Any]:
    """Shape a result for cni_version: per-entry "version" fields present exactly where required."""
    out = dict(result)
    out["cniVersion"] = cni_version
    if isinstance(out.get("ips"), list):
        shaped = []
        for entry in out["ips"]:
            entry = dict(entry)
            if has_ip_version_field(cni_version):
                entry["version"] = "6" if ":" in entry["address"] else "4"
            else:
                entry.pop("version", None)
            shaped.append(entry)
        out["ips"] = shaped
    return out


def verify(prev: dict[str, Any], cfg: Config) -> None:
    """CHECK: prevResult must carry the rewrite this config produces."""
    seen = {4: 0, 6: 0}
    for n, (_entry, iface, _gw) in enumerate(_entries(prev)):
        net = _fake_net(cfg, iface.version)
        if cfg.mode == "fixed":
            want = fake_address(iface.ip, net, cfg.mode, seen[iface.version])
            ok = iface.ip == want and iface.prefixlen == net.prefixlen
            expected = f"{want}/{net.prefixlen}"
        else:
            ok = iface.ip in net and iface.prefixlen == net.prefixlen
            expected = f"an address in {net}"
        seen[iface.version] += 1
        if not ok:
            raise e.CNIError(
                e.CHECK_MISMATCH,
                "prevResult does not carry the cni-quickstart rewrite",
                f"ips[{n}] is {iface}, expected {expected} (mode {cfg.mode})",
            )
