"""Capture the results the Debian reference plugins really produce, as test fixtures.

    python -m tests.plugin.capture      (root; writes tests/plugin/data/*.json)

Runs ptp and bridge, each with host-local IPAM, at every cniVersion they support, single and dual
stack, in namespaces it makes and removes. The plugin's unit tests feed these results as prevResult.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from tests import chain
from tests.plugin.netns import REFERENCE_BIN, netns_pair

DATA = Path(__file__).parent / "data"
VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")
RANGES = {
    "v4": [[{"subnet": "10.244.0.0/24"}]],
    "dual": [[{"subnet": "10.244.0.0/24"}], [{"subnet": "fd00:10:244::/64"}]],
}


def conflist(main: str, version: str, stack: str, data_dir: str) -> dict[str, Any]:
    ipam = {"type": "host-local", "dataDir": data_dir, "ranges": RANGES[stack], "routes": [{"dst": "0.0.0.0/0"}]}
    plugin: dict[str, Any] = {"type": main, "ipam": ipam}
    if main == "bridge":
        plugin.update(bridge="cniqs0", isGateway=True, ipMasq=False)
    return {"cniVersion": version, "name": "kindnet", "plugins": [plugin]}


def capture() -> list[Path]:
    written = []
    for main in ("ptp", "bridge"):
        for stack in RANGES:
            for version in VERSIONS:
                with netns_pair("cap") as (node, pod), tempfile.TemporaryDirectory() as data_dir:
                    conf = conflist(main, version, stack, data_dir)
                    inv = chain.Invocation(container_id=f"capture-{main}", netns=f"/run/netns/{pod}")
                    prefix = ["ip", "netns", "exec", node]
                    result = chain.add(conf, [REFERENCE_BIN], inv, prefix)
                    chain.delete(conf, [REFERENCE_BIN], inv, prefix, cached=result)
                path = DATA / f"{main}-{stack}-{version}.json"
                path.write_text(json.dumps(result, indent=2) + "\n")
                written.append(path)
    return written


if __name__ == "__main__":
    for p in capture():
        print(p)
