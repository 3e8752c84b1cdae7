from __future__ import annotations

import json

import pytest

from cniqs.common import cniconfig
from cniqs.install import conflist
from cniqs.providers.cluster import parse
from cniqs.providers.kind import cluster
from tests.kind.fakes import FakeNode, kindnet_conflist


@pytest.mark.parametrize(
    ("machine", "platform"),
    [("x86_64", "linux/amd64"), ("aarch64", "linux/arm64"), ("arm64", "linux/arm64"), ("AMD64\n", "linux/amd64")],
)
def test_machine_to_platform(machine: str, platform: str) -> None:
    assert parse.machine_to_platform(machine) == platform
    assert parse.platform_arch(platform) in ("amd64", "arm64")


@pytest.mark.parametrize("machine", ["armv7l", "s390x", "ppc64le", ""])
def test_unsupported_machines_are_named(machine: str) -> None:
    with pytest.raises(parse.ParseError, match="not supported"):
        parse.machine_to_platform(machine)


def test_lines() -> None:
    assert parse.lines("a\n\n b \n") == ["a", "b"]
    assert cluster.names("No kind clusters found.\n") == []


def test_inspectp_ips() -> None:
    text = json.dumps(
        {"status": {"network": {"ip": "192.0.2.0", "additionalIps": [{"ip": "2001:db8::"}]}, "state": "SANDBOX_READY"}}
    )
    assert parse.inspectp_ips(text) == ["192.0.2.0", "2001:db8::"]
    assert parse.inspectp_ips(json.dumps({"status": {"network": {"ip": "", "additionalIps": None}}})) == []
    with pytest.raises(parse.ParseError):
        parse.inspectp_ips("{}")


def node_with(*confs: tuple[str, str]) -> FakeNode:
    node = FakeNode()
    for name, text in confs:
        node.files[f"/etc/cni/net.d/{name}"] = text.encode()
    return node


def test_loaded_networks_from_crictl_info() -> None:
    info = node_with(("10-kindnet.conflist", kindnet_conflist("10.244.1.0/24"))).crictl_info()
    nets = cniconfig.loaded_networks(info)
    assert [(n.name, n.ifname) for n in nets] == [("cni-loopback", "lo"), ("kindnet", "eth0")]
    assert nets[1].types == ["ptp", "portmap"]
    assert nets[1].cni_version == "0.3.1"
    assert cniconfig.describe_chain(info) == "kindnet (0.3.1): ptp, portmap"


def test_cniconfig_as_a_json_string_is_accepted() -> None:
    info = json.loads(node_with(("10-kindnet.conflist", kindnet_conflist("10.244.0.0/24"))).crictl_info())
    info["cniconfig"] = json.dumps(info["cniconfig"])
    assert cniconfig.pod_network(cniconfig.loaded_networks(json.dumps(info))) is not None


def test_crictl_info_errors() -> None:
    with pytest.raises(parse.ParseError, match="JSON"):
        cniconfig.loaded_networks("not json")
    with pytest.raises(parse.ParseError, match="no cniconfig"):
        cniconfig.loaded_networks("{}")
    assert cniconfig.describe_chain("{}").startswith("`crictl info` has no cniconfig")
    assert cniconfig.describe_chain(FakeNode().crictl_info()) == "no pod network loaded"


def test_chain_matches_exact_entry_only() -> None:
    entry = {"type": "cni-quickstart", "fakeIPv4": "192.0.2.0/24"}
    chain = json.loads(kindnet_conflist("10.244.0.0/24"))
    plain = node_with(("10-kindnet.conflist", json.dumps(chain))).crictl_info()
    chain["plugins"].append(entry)
    ours = node_with(("00-cni-quickstart.conflist", json.dumps(chain))).crictl_info()
    assert conflist.chain_matches(ours, entry)
    assert not conflist.chain_matches(ours, {**entry, "fakeIPv4": "198.51.100.0/24"})
    assert not conflist.chain_matches(plain, entry)
    assert conflist.chain_matches(plain, None)
    assert not conflist.chain_matches(ours, None)
    assert not conflist.chain_matches(FakeNode().crictl_info(), None)


def test_base_matches() -> None:
    chain = json.loads(kindnet_conflist("10.244.0.0/24"))
    chain["cniVersion"] = "1.0.0"
    info = node_with(("05-cniqs-base.conflist", json.dumps(chain))).crictl_info()
    assert conflist.base_matches(info, "kindnet", "1.0.0")
    assert not conflist.base_matches(info, "kindnet", "0.3.1")


def test_sha256sum_and_manifest() -> None:
    a, b = "a" * 64, "b" * 64
    out = f"{a}  /opt/cni/bin/cni-quickstart.d/cni-quickstart\n{b} */opt/cni/bin/cni-quickstart.d/_internal/x.so\n"
    got = parse.sha256sum(out)
    assert got == {"/opt/cni/bin/cni-quickstart.d/cni-quickstart": a, "/opt/cni/bin/cni-quickstart.d/_internal/x.so": b}
    root = "/opt/cni/bin/cni-quickstart.d"
    assert parse.manifest_problems({"cni-quickstart": a, "_internal/x.so": b}, got, root) == []
    problems = parse.manifest_problems({"cni-quickstart": b, "_internal/y.so": b}, got, root)
    assert problems == [
        f"{root}/_internal/y.so: missing on the node",
        f"{root}/cni-quickstart: sha256 aaaaaaaaaaaa... on the node, bbbbbbbbbbbb... built",
    ]
    with pytest.raises(parse.ParseError):
        parse.sha256sum("sha256sum: x: No such file or directory\n")


def test_json_lines() -> None:
    text = '{"command": "ADD", "real": ["10.244.0.5"]}\n\nnot json\n[1]\n'
    assert parse.json_lines(text) == [
        {"command": "ADD", "real": ["10.244.0.5"]},
        {"unparsed": "not json"},
        {"unparsed": "[1]"},
    ]


def test_chain_matches_by_type_when_containerd_gives_no_source() -> None:
    entry = {"type": "cni-quickstart", "fakeIPv4": "192.0.2.0/24"}
    chain = json.loads(kindnet_conflist("10.244.0.0/24"))
    chain["plugins"].append(entry)
    info = json.loads(node_with(("00-cni-quickstart.conflist", json.dumps(chain))).crictl_info())
    for plugin in info["cniconfig"]["Networks"][1]["Config"]["Plugins"]:
        del plugin["Source"]
    assert conflist.chain_matches(json.dumps(info), entry)
    assert not conflist.chain_matches(json.dumps(info), None)


def test_the_plugin_must_be_last() -> None:
    entry = {"type": "cni-quickstart"}
    chain = json.loads(kindnet_conflist("10.244.0.0/24"))
    chain["plugins"].insert(1, entry)
    info = node_with(("00-cni-quickstart.conflist", json.dumps(chain))).crictl_info()
    assert not conflist.chain_matches(info, entry)


def test_cniconfig_nested_under_info_is_accepted() -> None:
    info = json.loads(node_with(("10-kindnet.conflist", kindnet_conflist("10.244.0.0/24"))).crictl_info())
    nested = {"status": {}, "info": {"cniconfig": json.dumps(info["cniconfig"])}}
    net = cniconfig.pod_network(cniconfig.loaded_networks(json.dumps(nested)))
    assert net is not None and net.types == ["ptp", "portmap"]
