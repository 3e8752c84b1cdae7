"""Who believes the fake IP: the places a pod's reported address spreads to, read back, as pure parsers.

Each place is a Belief: who holds an address for the pod, what it holds, and how that was read. The
backends gather them (a Kubernetes cluster has them all; a local node the runtime's own), the reveal
shows them beside what the pod really has, and the tests check each one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

NEEDS_KUBERNETES = "needs a Kubernetes provider: --provider kube or kind"


@dataclass(frozen=True)
class Belief:
    who: str
    shows: list[str] = field(default_factory=list)
    how: str = ""  # the command or API call it was read with, or why it could not be read
    available: bool = True


def hosts_entry(hosts: str, hostname: str) -> list[str]:
    """The addresses /etc/hosts maps hostname to (kubelet writes the pod's own line), in file order."""
    found = []
    for line in hosts.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and hostname in fields[1:]:
            found.append(fields[0])
    return found


def cached_result_ips(text: str) -> list[str]:
    """The addresses (without prefix) in a libcni cached result file (`/var/lib/cni/results/...`)."""
    data: Any = json.loads(text)
    result = data.get("result") if isinstance(data, dict) else None
    ips = result.get("ips") if isinstance(result, dict) else None
    return [
        str(entry["address"]).split("/")[0] for entry in ips or [] if isinstance(entry, dict) and "address" in entry
    ]


def cache_file_for(names: list[str], container_id: str, ifname: str = "eth0") -> str | None:
    """The libcni result cache file of one container: `<network name>-<container id>-<ifname>`."""
    suffix = f"-{container_id}-{ifname}"
    return next((n for n in sorted(names) if n.endswith(suffix)), None)
