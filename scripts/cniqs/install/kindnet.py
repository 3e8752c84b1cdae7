"""kindnet's chain: the base conflist kindnetd writes on a kind node, which the plugin is installed on top of.

The local and kube providers write it on their nodes as kindnetd would (ptp with host-local, then portmap),
so the installers in cniqs.install meet the same chain on every provider; a ChainVariant changes its
cniVersion or adds IPv6 for the tests of other chains.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cniqs.provider import ChainVariant

KINDNET = ChainVariant()  # what kindnetd writes


def kindnet_chain(
    variant: ChainVariant, subnets: Sequence[str], data_dir: str, mtu: int | None = 1500
) -> dict[str, Any]:
    """kindnet's chain as kindnetd writes it (ptp + host-local, then portmap) in the given variant.

    subnets are the node's pod CIDRs (an IPv6 one only matters for a dual-stack variant). mtu is the
    node's own; kindnetd leaves the key out when it has none (0), and so does None here.
    """
    routes = [{"dst": "::/0" if ":" in s else "0.0.0.0/0"} for s in subnets]
    chain: dict[str, Any] = {
        "cniVersion": variant.cni_version,
        "name": "kindnet",
        "plugins": [
            {
                "type": "ptp",
                "ipMasq": False,
                "ipam": {
                    "type": "host-local",
                    "dataDir": data_dir,
                    "routes": routes,
                    "ranges": [[{"subnet": s}] for s in subnets],
                },
                "mtu": mtu,
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    if not mtu:
        del chain["plugins"][0]["mtu"]
    return chain
