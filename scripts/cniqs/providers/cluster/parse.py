"""Pure parsers for what kubectl, crictl and the tools on a node print."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from cniqs.common.errors import ParseError
from cniqs.ship.build import MACHINE_TO_ARCH

# architecture


def machine_to_platform(machine: str) -> str:
    """`uname -m` of a node -> the docker build platform of the plugin for it."""
    arch = MACHINE_TO_ARCH.get(machine.strip().lower())
    if arch is None:
        supported = ", ".join(sorted(MACHINE_TO_ARCH))
        raise ParseError(f"node machine {machine.strip()!r} is not supported (cni-quickstart builds for {supported})")
    return f"linux/{arch}"


def platform_arch(platform: str) -> str:
    return platform.split("/", 1)[1]


def link_state(out: str) -> tuple[bool, str | None]:
    """commands.node_link_state's answer: (path exists, its symlink target or None when it is no symlink)."""
    line = out.strip()
    if line.startswith("link "):
        return True, line.removeprefix("link ")
    if line in ("other", "none"):
        return line == "other", None
    raise ParseError(f"unexpected answer about a path: {out[:200]!r}")


def dir_texts(out: str, boundary: str) -> dict[str, str | None]:
    """commands.node_read_dir's answer: name -> the file's text, or None for a name whose text was not asked."""
    if not out:
        return {}
    if not out.startswith(boundary + " ") or not out.endswith("\n"):
        raise ParseError(f"unexpected listing of a directory: {out[:200]!r}")
    found: dict[str, str | None] = {}
    for part in ("\n" + out[:-1]).split(f"\n{boundary} ")[1:]:
        kind, _, rest = part.partition(" ")
        if kind == "f":
            name, _, text = rest.partition("\n")
            found[name] = text
        elif kind == "-" and "\n" not in rest:
            found[rest] = None
        else:
            raise ParseError(f"unexpected entry in a directory listing: {part[:200]!r}")
    return found


# lists, one item a line (crictl --quiet, ls -1)


def lines(text: str) -> list[str]:
    """Non-empty lines, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


# kubectl describe pod


_TOP_KEY = re.compile(r"^[A-Za-z][A-Za-z ]*:")


def describe_ips(text: str) -> list[str]:
    """The pod's IPs as `kubectl describe pod` prints them, primary first.

    Every version since 1.16 prints a top-level `IP:` line and an `IPs:` block of indented
    `IP:` lines (dual-stack: one per family); older ones only the `IP:` line. A pod without an
    address shows an empty `IP:` and `IPs: <none>`.
    """
    primary: str | None = None
    block: list[str] = []
    in_ips = False
    for raw in text.splitlines():
        if _TOP_KEY.match(raw):
            key, _, value = raw.partition(":")
            in_ips = key == "IPs"
            if key == "IP":
                primary = value.strip()
            continue
        if in_ips:
            inner = raw.strip()
            if inner.startswith("IP:"):
                block.append(inner[3:].strip())
    if primary is None:
        raise ParseError("`kubectl describe pod` output has no top-level IP: line")
    found = [ip for ip in block if ip]
    if primary and primary not in found:
        found.insert(0, primary)
    for ip in found:
        ipaddress.ip_address(ip)
    return found


# crictl


def inspectp_ips(text: str) -> list[str]:
    """`crictl inspectp -o json`: status.network.ip then additionalIps[].ip."""
    try:
        data = json.loads(text)
        network = data["status"]["network"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ParseError(f"`crictl inspectp` output has no status.network: {exc}") from None
    ips = [network.get("ip") or ""]
    ips += [extra.get("ip", "") for extra in network.get("additionalIps") or [] if isinstance(extra, dict)]
    return [ip for ip in ips if ip]


# sha256sum


def sha256sum(text: str) -> dict[str, str]:
    """`sha256sum -- a b` -> {path: digest}. Binary-mode lines (`digest *path`) too."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line)
        if match is None:
            raise ParseError(f"not a sha256sum line: {line!r}")
        found[match[2]] = match[1]
    return found


def plugin_check(out: str, boundary: str) -> tuple[dict[str, str], str, int]:
    """commands.node_check_plugin's answer: (path -> sha256, what the VERSION run printed, its exit code)."""
    sums, sep, rest = out.partition(f"{boundary}\n")
    printed, sep2, code = rest.rpartition(f"{boundary} ")
    if not sep or not sep2 or not code.strip().isdigit():
        raise ParseError(f"unexpected answer from the plugin check: {out[-300:]!r}")
    return sha256sum(sums), printed, int(code)


def manifest_problems(expected: dict[str, str], actual: dict[str, str], root: str) -> list[str]:
    """Compare a local manifest {relative path: digest} with node sha256sum output under root."""
    problems = []
    for rel, digest in sorted(expected.items()):
        got = actual.get(f"{root}/{rel}")
        if got is None:
            problems.append(f"{root}/{rel}: missing on the node")
        elif got != digest:
            problems.append(f"{root}/{rel}: sha256 {got[:12]}... on the node, {digest[:12]}... built")
    return problems


# plugin log


def json_lines(text: str) -> list[dict[str, Any]]:
    """The plugin's JSON-lines log; a line that is not a JSON object is kept as {"unparsed": line}."""
    records: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        records.append(record if isinstance(record, dict) else {"unparsed": line})
    return records
