"""--kind-dns-zone: one DNS zone answered by the servers the user names (pure parts and the kubectl calls)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from cniqs.common.run import CommandError, Completed
from cniqs.providers.kind import commands, coredns, egress
from tests.kind.fakes import PODMAN_KIND_NETWORK

KUBEADM_COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""

KIND_NETWORK = PODMAN_KIND_NETWORK


def test_zone_block_forwards_only_to_the_given_servers() -> None:
    block = coredns.zone_block("dns.podman", ["10.89.0.1"])
    assert block.startswith("dns.podman:53 {\n")
    assert "    forward . 10.89.0.1\n" in block
    assert "/etc/resolv.conf" not in block
    assert block.endswith("}\n")


@pytest.mark.parametrize(
    ("zone", "servers"),
    [
        ("", ["10.89.0.1"]),
        ("bad zone", ["10.89.0.1"]),
        ("x{", ["10.89.0.1"]),
        ("dns.podman", []),
        ("dns.podman", ["nope"]),
    ],
)
def test_zone_block_refuses_what_is_not_a_zone_or_a_server(zone: str, servers: list[str]) -> None:
    with pytest.raises(ValueError):
        coredns.zone_block(zone, servers)


def test_with_zone_keeps_the_default_block_and_appends_ours() -> None:
    out = coredns.with_zone(KUBEADM_COREFILE, "dns.podman", ["10.89.0.1"])
    assert out.startswith(KUBEADM_COREFILE)
    assert out[len(KUBEADM_COREFILE) :] == coredns.zone_block("dns.podman", ["10.89.0.1"])


def test_with_zone_replaces_an_earlier_block_for_the_same_zone() -> None:
    once = coredns.with_zone(KUBEADM_COREFILE, "dns.podman", ["10.89.0.1"])
    twice = coredns.with_zone(once, "dns.podman", ["10.89.1.1"])
    assert twice.count("dns.podman:53") == 1
    assert "10.89.0.1" not in twice and "forward . 10.89.1.1" in twice
    assert coredns.with_zone(once, "dns.podman", ["10.89.0.1"]) == once


def test_with_zone_leaves_other_zones_alone() -> None:
    other = KUBEADM_COREFILE + "example.test:53 {\n    forward . 10.0.0.53\n}\n"
    out = coredns.with_zone(other, "dns.podman", ["10.89.0.1"])
    assert "example.test:53 {\n    forward . 10.0.0.53\n}\n" in out
    assert "dns.podman:53" in out


def test_with_zone_without_final_newline() -> None:
    out = coredns.with_zone(KUBEADM_COREFILE.rstrip("\n"), "dns.podman", ["10.89.0.1"])
    assert "}\ndns.podman:53 {" in out


@pytest.mark.parametrize("broken", [KUBEADM_COREFILE + "}\n", KUBEADM_COREFILE.rstrip("}\n")])
def test_with_zone_refuses_an_unbalanced_corefile(broken: str) -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        coredns.with_zone(broken, "dns.podman", ["10.89.0.1"])


def test_ipv4_gateways_of_a_dual_stack_network() -> None:
    assert egress.ipv4_gateways(json.dumps(KIND_NETWORK)) == ["10.89.0.1"]
    assert egress.ipv4_gateways(json.dumps([{"name": "x", "subnets": None}])) == []


def test_kubectl_command_lines_use_the_clusters_own_kubeconfig() -> None:
    for argv in (
        coredns.get_configmap("/w/kc"),
        coredns.replace_from_stdin("/w/kc"),
        coredns.restart("/w/kc"),
        coredns.rollout_status("/w/kc"),
    ):
        assert argv[:3] == ["kubectl", "--kubeconfig", "/w/kc"]
    assert coredns.restart("/w/kc")[3:] == ["rollout", "restart", "deployment/coredns", "--namespace", "kube-system"]
    assert commands.network_inspect("podman", "kind") == ["podman", "network", "inspect", "kind"]


class FakeCluster:
    def __init__(self, corefile: str = KUBEADM_COREFILE, fail: str = "") -> None:
        self.corefile = corefile
        self.fail = fail
        self.calls: list[list[str]] = []
        self.replaced: dict[str, object] | None = None

    def __call__(self, argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        argv = list(argv)
        self.calls.append(argv)
        assert argv[0] == "kubectl", argv  # only the cluster is asked, never an engine
        if self.fail and self.fail in argv:
            return Completed(argv, 1, "", f"{self.fail} failed")
        if "get" in argv:
            cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"Corefile": self.corefile}}
            return Completed(argv, 0, json.dumps(cm), "")
        if "replace" in argv:
            assert input is not None
            self.replaced = json.loads(input)
        return Completed(argv, 0, "", "")


def test_forward_zone_updates_the_configmap_then_restarts_coredns_and_waits() -> None:
    run = FakeCluster()
    assert coredns.forward_zone(run, "/w/kc", "corp.example", ["10.0.0.53", "10.0.0.54"]) is None
    assert [argv[3] for argv in run.calls] == ["get", "replace", "rollout", "rollout"]
    assert all(argv[:3] == ["kubectl", "--kubeconfig", "/w/kc"] for argv in run.calls)
    assert run.calls[-1][4] == "status"
    assert run.replaced is not None
    corefile = run.replaced["data"]["Corefile"]  # type: ignore[index]
    assert corefile == coredns.with_zone(KUBEADM_COREFILE, "corp.example", ["10.0.0.53", "10.0.0.54"])
    assert "corp.example:53 {" in corefile and "forward . 10.0.0.53 10.0.0.54\n" in corefile


def test_forward_zone_with_a_server_that_is_not_an_address_changes_nothing() -> None:
    run = FakeCluster()
    with pytest.raises(ValueError):
        coredns.forward_zone(run, "/w/kc", "corp.example", ["dns.corp.example"])
    assert run.replaced is None


def test_forward_zone_fails_when_coredns_does_not_come_back() -> None:
    run = FakeCluster(fail="status")
    with pytest.raises(CommandError, match="CoreDNS back up"):
        coredns.forward_zone(run, "/w/kc", "corp.example", ["10.0.0.53"])


def test_forward_zone_refuses_a_configmap_without_corefile() -> None:
    run = FakeCluster(corefile="")
    with pytest.raises(RuntimeError, match="no Corefile"):
        coredns.forward_zone(run, "/w/kc", "corp.example", ["10.0.0.53"])
    assert run.replaced is None


# --- --kind-dns-zone ZONE=SERVER[,SERVER] -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "servers"),
    [
        ("corp.example=10.0.0.53", "corp.example", ["10.0.0.53"]),
        (" corp.example = 10.0.0.53 , 10.0.0.54 ", "corp.example", ["10.0.0.53", "10.0.0.54"]),
        ("cniqs.test=198.18.77.2,", "cniqs.test", ["198.18.77.2"]),
        ("v6.example=fd00::53", "v6.example", ["fd00::53"]),
    ],
)
def test_parse_zone(text: str, zone: str, servers: list[str]) -> None:
    assert coredns.parse_zone(text) == (zone, servers)


@pytest.mark.parametrize(
    "text", ["", "corp.example", "=10.0.0.53", "corp.example=", "corp.example=,", " =10.0.0.53", "corp.example=ns1"]
)
def test_parse_zone_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        coredns.parse_zone(text)


def test_parse_zone_names_the_option_and_the_form() -> None:
    with pytest.raises(ValueError, match=r"--kind-dns-zone 'corp.example': give ZONE=SERVER\[,SERVER\]"):
        coredns.parse_zone("corp.example")
    with pytest.raises(ValueError, match="not a DNS zone"):
        coredns.parse_zone("bad zone=10.0.0.53")


def test_forward_zone_without_wait_restarts_coredns_and_leaves_the_wait_to_the_caller() -> None:
    run = FakeCluster()
    coredns.forward_zone(run, "/w/kc", "corp.example", ["10.0.0.53"], wait=False)
    assert [argv[3:5] for argv in run.calls][1:] == [["replace", "-f"], ["rollout", "restart"]]
    coredns.wait_restarted(run, "/w/kc")
    assert run.calls[-1][3:5] == ["rollout", "status"]
