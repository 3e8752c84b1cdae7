"""Forwarding across kind's bridge where the host's FORWARD policy drops it (cniqs.providers.kind.forwarding),
against an in-memory host: iptables chains as `iptables -S` prints them, `ip -j addr`, and the engine's
network inspect. Nothing here touches the real iptables."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path

import pytest

from cniqs.common.run import Completed
from cniqs.providers.kind import forwarding

_HOST_FAMILIES = forwarding.FAMILIES  # read at import, before tests/conftest.py hides them from every test

PODMAN_INSPECT = json.dumps([{"name": "kind", "network_interface": "podman1", "subnets": [
    {"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}, {"subnet": "fc00:f853:ccd:e793::/64",
                                                          "gateway": "fc00:f853:ccd:e793::1"}]}])  # fmt: skip
DOCKER_INSPECT = json.dumps(
    [{"Name": "kind", "IPAM": {"Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]}}]
)
ADDRESSES = json.dumps([
    {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1"}]},
    {"ifname": "podman1", "addr_info": [{"family": "inet", "local": "10.89.0.1"}]},
    {"ifname": "br-5e1f0a2b3c4d", "addr_info": [{"family": "inet", "local": "172.18.0.1"}]},
])  # fmt: skip


class Host:
    """A Linux host as the module sees it: one FORWARD chain per tool, the host's addresses, one network."""

    def __init__(self, inspect: str = PODMAN_INSPECT, policy: str = "DROP", insert_rc: int = 0) -> None:
        self.inspect, self.insert_rc = inspect, insert_rc
        self.chains: dict[str, list[str]] = {"iptables": [], "ip6tables": []}
        self.policies = {"iptables": policy, "ip6tables": "ACCEPT"}
        self.calls: list[list[str]] = []

    def rules(self, tool: str = "iptables") -> list[str]:
        return list(self.chains[tool])

    def __call__(self, argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        argv = list(argv)
        self.calls.append(argv)
        if argv[1:3] == ["network", "inspect"]:
            return Completed(argv, 0, self.inspect, "")
        if argv[:2] == ["ip", "-j"]:
            return Completed(argv, 0, ADDRESSES, "")
        tool, op, spec = argv[0], argv[1], argv[2:]
        chain = self.chains[tool]
        line = "-A " + shlex.join(spec)
        if op == "-S":
            return Completed(argv, 0, "".join(f"{x}\n" for x in [f"-P FORWARD {self.policies[tool]}", *chain]), "")
        if op == "-C":
            return Completed(argv, 0 if line in chain else 1, "", "" if line in chain else "Bad rule\n")
        if op == "-I":
            if self.insert_rc:
                return Completed(argv, self.insert_rc, "", "iptables: Permission denied (you must be root).\n")
            chain.insert(0, line)
            return Completed(argv, 0, "", "")
        if op == "-D":
            chain.remove(line)
            return Completed(argv, 0, "", "")
        raise AssertionError(f"unexpected command {argv}")


@pytest.fixture
def families(tmp_path: Path) -> list[forwarding.Family]:
    """Both families, with br_netfilter's switches as files: bridged IPv4 and IPv6 go through iptables."""
    made = []
    for tool, name in (("iptables", "bridge-nf-call-iptables"), ("ip6tables", "bridge-nf-call-ip6tables")):
        (tmp_path / name).write_text("1\n")
        made.append(forwarding.Family(tool, tmp_path / name))
    return made


def test_the_host_families_read_br_netfilter_switches() -> None:
    assert [(f.tool, str(f.sysctl)) for f in _HOST_FAMILIES] == [
        ("iptables", "/proc/sys/net/bridge/bridge-nf-call-iptables"),
        ("ip6tables", "/proc/sys/net/bridge/bridge-nf-call-ip6tables"),
    ]


def test_a_dropping_host_gets_a_tagged_rule_for_the_clusters_bridge_and_loses_it_with_the_cluster(families) -> None:
    host = Host()
    done = forwarding.accept_between_nodes(host, "podman", "kind", "cniqs-1-37-abc123", families)
    listing = host(["iptables", "-S", "FORWARD"]).stdout
    rule = forwarding.tagged_rule("podman1", "cniqs-1-37-abc123")
    assert forwarding.tagged_rules(listing, "cniqs-1-37-abc123") == [rule]
    assert done == ["iptables: accepting forwarded traffic across podman1 while cluster cniqs-1-37-abc123 lives"]
    assert host.rules("ip6tables") == []  # its policy is ACCEPT
    assert forwarding.remove_for(host, "cniqs-1-37-abc123", families) == []
    assert host.rules() == []


def test_iptables_listing_with_double_quotes_is_read_back_as_the_rule_to_delete() -> None:
    listing = (
        "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n"
        '-A FORWARD -i podman1 -o podman1 -m comment --comment "cni-quickstart kind cluster c1" -j ACCEPT\n'
        '-A FORWARD -i podman1 -o podman1 -m comment --comment "cni-quickstart kind cluster c10" -j ACCEPT\n'
    )
    assert forwarding.policy(listing) == "DROP"
    assert forwarding.tagged_rules(listing, "c1") == [forwarding.tagged_rule("podman1", "c1")]


def test_two_clusters_on_one_bridge_each_remove_only_their_own(families) -> None:
    host = Host()
    forwarding.accept_between_nodes(host, "podman", "kind", "one", families)
    forwarding.accept_between_nodes(host, "podman", "kind", "two", families)
    forwarding.remove_for(host, "one", families)
    assert [r for r in host.rules() if "two" in r] == host.rules() and len(host.rules()) == 1


def test_a_reused_cluster_that_has_its_rule_gets_no_second_one(families) -> None:
    host = Host()
    forwarding.accept_between_nodes(host, "podman", "kind", "c", families)
    assert forwarding.accept_between_nodes(host, "podman", "kind", "c", families) == []
    assert len(host.rules()) == 1


def test_a_bridge_the_engine_accepts_itself_gets_nothing(families) -> None:
    host = Host(inspect=DOCKER_INSPECT)
    host.chains["iptables"].append("-A " + shlex.join(forwarding.accept_rule("br-5e1f0a2b3c4d")))
    assert forwarding.accept_between_nodes(host, "docker", "kind", "c", families) == []
    assert not any(call[1] == "-I" for call in host.calls if call[0].endswith("tables"))


def test_ipv6_is_handled_alike_when_its_policy_drops(families) -> None:
    host = Host()
    host.policies["ip6tables"] = "DROP"
    done = forwarding.accept_between_nodes(host, "podman", "kind", "c", families)
    assert [line.split(":")[0] for line in done] == ["iptables", "ip6tables"]
    forwarding.remove_for(host, "c", families)
    assert host.rules() == host.rules("ip6tables") == []


def test_nothing_is_done_where_forwarding_is_accepted_or_bridged_frames_skip_iptables(families) -> None:
    assert forwarding.accept_between_nodes(accepting := Host(policy="ACCEPT"), "podman", "kind", "c", families) == []
    assert accepting.rules() == []
    for family in families:
        family.sysctl.write_text("0\n")
    host = Host()
    assert forwarding.accept_between_nodes(host, "podman", "kind", "c", families) == []
    assert host.calls == []  # not even iptables was asked


def test_a_bridge_that_is_not_on_this_host_is_left_alone(families) -> None:
    elsewhere = json.dumps([{"IPAM": {"Config": [{"Subnet": "192.168.65.0/24", "Gateway": "192.168.65.1"}]}}])
    host = Host(inspect=elsewhere)
    assert forwarding.accept_between_nodes(host, "docker", "kind", "c", families) == []
    assert host.rules() == []


def test_a_rule_that_cannot_be_added_fails_naming_the_command(families) -> None:
    with pytest.raises(RuntimeError) as caught:
        forwarding.accept_between_nodes(Host(insert_rc=4), "podman", "kind", "c", families)
    message = str(caught.value)
    assert "FORWARD policy is DROP" in message and "iptables -I FORWARD -i podman1 -o podman1" in message
    assert "Permission denied" in message
