"""ADD, DEL, CHECK, VERSION, STATUS and GC against the results real reference plugins produce."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from cni_quickstart import SUPPORTED_VERSIONS
from tests.plugin.conftest import Runner, assert_cni_error, chained, fixture_results

RESULTS = fixture_results()


def fam(address: str) -> int:
    return ipaddress.ip_interface(address).version


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_add_fixed_rewrites_only_the_addresses(plugin: Runner, name: str) -> None:
    prev = RESULTS[name]
    answer = plugin("ADD", chained(prev))
    assert answer.rc == 0, answer
    out = answer.json
    assert out["cniVersion"] == prev["cniVersion"]
    for key in ("interfaces", "routes", "dns"):
        assert out.get(key) == prev.get(key), key
    assert len(out["ips"]) == len(prev["ips"])
    for new, old in zip(out["ips"], prev["ips"], strict=True):
        assert new["interface"] == old["interface"]
        assert "sandbox" in prev["interfaces"][new["interface"]], "still points at the pod's eth0"
        if fam(old["address"]) == 4:
            assert (new["address"], new["gateway"]) == ("1.2.3.0/24", "1.2.3.1")
        else:
            assert (new["address"], new["gateway"]) == ("2001:db8::/64", "2001:db8::1")
        if prev["cniVersion"].startswith("1."):
            assert "version" not in new
        else:
            assert new["version"] == str(fam(old["address"]))


@pytest.mark.parametrize("name", [n for n in sorted(RESULTS) if n.startswith("ptp-dual")])
def test_add_translate_keeps_host_bits(plugin: Runner, name: str) -> None:
    prev = RESULTS[name]
    answer = plugin("ADD", chained(prev, mode="translate", fakeIPv4="192.0.2.0/24", fakeIPv6="2001:db8:1::/64"))
    assert answer.rc == 0, answer
    for new, old in zip(answer.json["ips"], prev["ips"], strict=True):
        real, fake = ipaddress.ip_interface(old["address"]), ipaddress.ip_interface(new["address"])
        net = ipaddress.ip_network("192.0.2.0/24" if real.version == 4 else "2001:db8:1::/64")
        assert fake.ip in net
        assert int(fake.ip) & int(net.hostmask) == int(real.ip) & int(net.hostmask)
        assert ipaddress.ip_address(new["gateway"]) in net


def test_translate_example_from_the_issue(plugin: Runner) -> None:
    prev = {
        "cniVersion": "0.3.1",
        "interfaces": [{"name": "eth0", "sandbox": "/run/netns/x"}],
        "ips": [{"version": "4", "address": "10.244.0.148/24", "gateway": "10.244.0.1", "interface": 0}],
    }
    out = plugin("ADD", chained(prev, mode="translate")).json
    assert out["ips"][0]["address"] == "1.2.3.148/24"
    assert out["ips"][0]["gateway"] == "1.2.3.1"


def test_fixed_mode_gives_second_address_of_a_family_its_own_fake(plugin: Runner) -> None:
    prev = {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "sandbox": "/run/netns/x"}],
        "ips": [{"address": "10.244.0.5/24", "interface": 0}, {"address": "10.245.0.5/24", "interface": 0}],
    }
    ips = plugin("ADD", chained(prev)).json["ips"]
    assert [i["address"] for i in ips] == ["1.2.3.0/24", "1.2.3.2/24"]


def test_version_field_is_added_for_0_3_when_prev_result_lacks_it(plugin: Runner) -> None:
    prev = {"cniVersion": "0.3.1", "ips": [{"address": "fd00::5/64"}]}
    out = plugin("ADD", chained(prev)).json
    assert out["ips"] == [{"address": "2001:db8::/64", "gateway": "2001:db8::1", "version": "6"}]


def test_add_without_prev_result_says_it_must_be_chained(plugin: Runner) -> None:
    assert_cni_error(plugin("ADD", chained(None)), 100, "chained")


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_del_without_prev_result_succeeds_twice(plugin: Runner, version: str) -> None:
    conf = {"cniVersion": version, "name": "kindnet", "type": "cni-quickstart"}
    for _ in range(2):
        answer = plugin("DEL", conf, CNI_NETNS=None)
        assert (answer.rc, answer.stdout) == (0, "")


@pytest.mark.parametrize("name", [n for n in sorted(RESULTS) if not n.endswith(("0.3.0", "0.3.1"))])
def test_check_accepts_the_rewrite_and_rejects_the_original(plugin: Runner, name: str) -> None:
    prev = RESULTS[name]
    rewritten = plugin("ADD", chained(prev)).json
    assert plugin("CHECK", chained(rewritten)).rc == 0
    assert_cni_error(plugin("CHECK", chained(prev)), 101, "rewrite")


def test_check_on_0_3_1_is_an_incompatible_version(plugin: Runner) -> None:
    assert_cni_error(plugin("CHECK", chained(RESULTS["ptp-v4-0.3.1"])), 1, "0.4.0")


def test_check_translate_mode(plugin: Runner) -> None:
    prev = RESULTS["ptp-dual-1.0.0"]
    conf = {"mode": "translate"}
    rewritten = plugin("ADD", chained(prev, **conf)).json
    assert plugin("CHECK", chained(rewritten, **conf)).rc == 0
    assert_cni_error(plugin("CHECK", chained(prev, **conf)), 101)


@pytest.mark.parametrize("asked", [*SUPPORTED_VERSIONS, "0.2.0"])
def test_version(plugin: Runner, asked: str) -> None:
    answer = plugin("VERSION", {"cniVersion": asked}, CNI_CONTAINERID=None, CNI_NETNS=None, CNI_IFNAME=None)
    assert answer.rc == 0
    out: dict[str, Any] = answer.json
    assert out["supportedVersions"] == list(SUPPORTED_VERSIONS)
    assert out["cniVersion"] == (asked if asked in SUPPORTED_VERSIONS else "1.1.0")


@pytest.mark.parametrize("command", ["STATUS", "GC"])
def test_status_and_gc_succeed_statelessly(plugin: Runner, command: str) -> None:
    answer = plugin(command, {"cniVersion": "1.1.0", "name": "kindnet", "type": "cni-quickstart"})
    assert (answer.rc, answer.stdout) == (0, "")


@pytest.mark.parametrize("command", ["STATUS", "GC"])
@pytest.mark.parametrize("version", [v for v in SUPPORTED_VERSIONS if v != "1.1.0"])
def test_status_and_gc_need_1_1_0(plugin: Runner, command: str, version: str) -> None:
    answer = plugin(command, {"cniVersion": version, "name": "kindnet", "type": "cni-quickstart"})
    assert_cni_error(answer, 1, "1.1.0")


def test_version_needs_only_cni_command(plugin: Runner) -> None:
    answer = plugin("VERSION", {"cniVersion": "1.0.0"}, CNI_CONTAINERID="/bad", CNI_IFNAME="much-too-long-ifname")
    assert answer.rc == 0 and answer.json["cniVersion"] == "1.0.0"


def test_fixed_mode_refuses_more_addresses_than_a_tiny_prefix_holds(plugin: Runner) -> None:
    prev = {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "sandbox": "/run/netns/x"}],
        "ips": [{"address": f"10.244.{n}.5/24", "interface": 0} for n in range(4)],
    }
    assert_cni_error(plugin("ADD", chained(prev, fakeIPv4="192.0.2.252/30")), 7, "too small")
