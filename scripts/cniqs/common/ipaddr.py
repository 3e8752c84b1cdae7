"""`ip addr` output (iproute2 or busybox, with or without -o): the global addresses of one interface."""

from __future__ import annotations


def parse_ip_addr(text: str, ifname: str = "eth0") -> list[str]:
    """Global addresses (with prefix length) of ifname, from `ip a s` or `ip -o addr show` output."""
    found: list[str] = []
    current = ""
    for line in text.splitlines():
        fields = line.split()
        if line[:1].isdigit():  # "4: eth0@if151: <BROADCAST,..." or, with -o, "4: eth0    inet 10.244.0.2/24 ..."
            current = fields[1].rstrip(":").split("@")[0] if len(fields) > 1 else ""
            fields = fields[2:]
        if current == ifname and len(fields) > 1 and fields[0] in ("inet", "inet6") and "global" in fields:
            found.append(fields[1])
    return found
