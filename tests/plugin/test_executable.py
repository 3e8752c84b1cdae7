"""The built node executable itself: same answers as the module, and a real chain in namespaces."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from pathlib import Path

import pytest

from cniqs.install.conflist import chain_entry
from cniqs.install.executable import NAME, install_into
from cniqs.install.kindnet import KINDNET, kindnet_chain
from cniqs.ship import embed
from cniqs.ship.build import build_local
from tests import chain
from tests.plugin.conftest import MODULE, assert_cni_error, chained, fixture_results, invoke
from tests.plugin.netns import REFERENCE_BIN, can_make_netns, netns_pair
from tests.prereq import require

RESULTS = fixture_results()


@pytest.fixture(scope="session")
def frozen() -> Path:
    """This host's build, or the executable $CNIQS_PLUGIN_EXECUTABLE names: a build made elsewhere, such as
    the arm64 one that tests/arm64 runs these tests on under emulation (with QEMU_LD_PREFIX set)."""
    given = os.environ.get("CNIQS_PLUGIN_EXECUTABLE")
    if given:
        assert Path(given).is_file(), f"CNIQS_PLUGIN_EXECUTABLE={given} is not a file"
        return Path(given)
    require(embed.missing())
    return build_local() / NAME


@pytest.mark.parametrize("name", ["ptp-v4-0.3.1", "bridge-dual-0.4.0", "ptp-dual-1.1.0"])
def test_frozen_answers_like_the_module(frozen: Path, name: str) -> None:
    conf = chained(RESULTS[name], mode="translate")
    assert invoke([str(frozen)], "ADD", conf).json == invoke(MODULE, "ADD", conf).json


def test_frozen_errors_are_cni_errors(frozen: Path) -> None:
    assert_cni_error(invoke([str(frozen)], "ADD", "{"), 6)
    assert_cni_error(invoke([str(frozen)], "ADD", chained(None)), 100, "chained")


def test_real_chain_reports_fake_ip_while_pod_keeps_real_one(frozen: Path, tmp_path: Path) -> None:
    require(can_make_netns())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for plugin in ("ptp", "host-local", "portmap", "loopback"):
        (bin_dir / plugin).symlink_to(f"{REFERENCE_BIN}/{plugin}")
    install_into(frozen.parent, bin_dir)  # the node layout: cni-quickstart.d/ and a cni-quickstart symlink
    log = tmp_path / "cni-quickstart.log"
    conflist = kindnet_chain(KINDNET, ["10.244.0.0/24"], str(tmp_path / "ipam"))
    conflist["plugins"] = [*conflist["plugins"], chain_entry(logFile=str(log))]  # type: ignore[list-item]

    with netns_pair("chain") as (node, pod):
        inv = chain.Invocation(
            "chaintest", f"/run/netns/{pod}", args="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=test"
        )
        prefix = ["ip", "netns", "exec", node]
        result = chain.add(conflist, [str(bin_dir)], inv, prefix)
        try:
            assert result["ips"][0]["address"] == "1.2.3.0/24"
            addrs = json.loads(subprocess.run(["ip", "-n", pod, "-j", "addr", "show", "eth0"], capture_output=True,
                                              check=True, text=True).stdout)  # fmt: skip
            real = [f"{a['local']}/{a['prefixlen']}" for a in addrs[0]["addr_info"] if a["family"] == "inet"]
            assert len(real) == 1 and ipaddress.ip_interface(real[0]) in ipaddress.ip_network("10.244.0.0/24")
            record = json.loads(log.read_text().splitlines()[-1])
            assert record["real"] == real and record["reported"] == ["1.2.3.0/24"]
            # The pod's real interface works: it reaches its gateway on the node side.
            ping = subprocess.run(
                ["ip", "netns", "exec", pod, "busybox", "ping", "-c1", "-W2", "10.244.0.1"], capture_output=True
            )
            assert ping.returncode == 0, ping.stdout
        finally:
            chain.delete(conflist, [str(bin_dir)], inv, prefix)
        assert subprocess.run(["ip", "-n", pod, "link", "show", "eth0"], capture_output=True).returncode != 0
    ipam_left = [p.name for p in (tmp_path / "ipam" / "kindnet").iterdir() if p.name[0].isdigit()]
    assert ipam_left == [], "DEL released the real IP"
