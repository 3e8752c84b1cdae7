"""--kind-egress: option parsing, the kind network's gateway from docker's and podman's inspect output,
and which connectivity checks each mode runs. Nothing here runs docker, podman or a pod."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from cniqs.common.run import Completed
from cniqs.provider import Targets, probes
from cniqs.providers.kind import commands, egress, options
from e2e.plugins.providers import add_options
from tests.kind.fakes import PODMAN_KIND_NETWORK
from tests.kind.test_prerequisites import get_from

# `docker network inspect kind` as Docker prints it for kind's network: kind asks for IPv6, so the
# IPv6 subnet may come first.
DOCKER_INSPECT = json.dumps(
    [
        {
            "Name": "kind",
            "Driver": "bridge",
            "EnableIPv6": True,
            "IPAM": {
                "Driver": "default",
                "Config": [
                    {"Subnet": "fc00:f853:ccd:e793::/64", "Gateway": "fc00:f853:ccd:e793::1"},
                    {"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"},
                ],
            },
        }
    ]
)
PODMAN_INSPECT = json.dumps(PODMAN_KIND_NETWORK)


# --- options ---------------------------------------------------------------------------------------------


def test_the_default_mode_is_the_original_demo() -> None:
    opts = options.read_options(get_from({}))
    assert opts.egress_mode == egress.INTERNET
    assert (opts.targets.ip, opts.targets.name, opts.targets.url) == ("1.1.1.1", "kubernetes.io", None)
    assert options.option_problems(opts, versions=1) == []


def test_ci_mode_is_read() -> None:
    opts = options.read_options(get_from({"--kind-egress": "ci", "--kind-target-url": "https://example.test/x"}))
    assert opts.egress_mode == egress.CI
    assert opts.targets.url == "https://example.test/x"
    assert options.option_problems(opts, versions=1) == []


def test_ci_mode_refuses_a_target_ip_it_would_not_ping() -> None:
    opts = options.read_options(get_from({"--kind-egress": "ci", "--kind-target-ip": "9.9.9.9"}))
    (problem,) = options.option_problems(opts, versions=1)
    assert "--kind-target-ip 9.9.9.9" in problem and "gateway" in problem


def test_an_unknown_mode_is_a_problem() -> None:
    opts = options.read_options(get_from({"--kind-egress": "offline"}))
    assert any("--kind-egress 'offline'" in p for p in options.option_problems(opts, versions=1))


def test_the_pytest_option_offers_both_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CNIQS_KIND_EGRESS", raising=False)
    seen: dict[str, dict[str, object]] = {}

    class Group:
        def addoption(self, name: str, **kwargs: object) -> None:
            seen[name] = kwargs

    from cniqs.providers.kind.provider import KindProvider

    add_options(Group(), KindProvider())
    assert seen["--kind-egress"]["choices"] == ["internet", "ci"]
    assert seen["--kind-egress"]["default"] == "internet"


# --- the gateway ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "gateway"), [(DOCKER_INSPECT, "172.18.0.1"), (PODMAN_INSPECT, "10.89.0.1")])
def test_the_ipv4_gateway_is_read_from_either_engine(text: str, gateway: str) -> None:
    assert egress.ipv4_gateway(text, "kind") == gateway


def test_all_gateways_in_order() -> None:
    assert egress.gateways(DOCKER_INSPECT) == ["fc00:f853:ccd:e793::1", "172.18.0.1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps([{"Name": "kind", "IPAM": {"Config": [{"Subnet": "172.18.0.0/16"}]}}]), "gateways: none"),
        (json.dumps([{"name": "kind", "subnets": [{"subnet": "fd00::/64", "gateway": "fd00::1"}]}]), "fd00::1"),
        ("[]", "no IPv4 gateway"),
        ("Error: no such network", "not JSON"),
    ],
)
def test_no_ipv4_gateway_is_an_error_with_what_was_found(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        egress.ipv4_gateway(text, "kind")


@pytest.mark.parametrize(
    ("engine", "env", "network"),
    [
        ("docker", {}, "kind"),
        ("docker", {"KIND_EXPERIMENTAL_DOCKER_NETWORK": "ci-net"}, "ci-net"),
        ("podman", {"KIND_EXPERIMENTAL_DOCKER_NETWORK": "ci-net"}, "kind"),
        ("podman", {"KIND_EXPERIMENTAL_PODMAN_NETWORK": "pnet"}, "pnet"),
    ],
)
def test_the_network_is_kinds_own(engine: str, env: dict[str, str], network: str) -> None:
    assert egress.network_name(engine, env) == network
    assert commands.network_inspect(engine, network) == [engine, "network", "inspect", network]


class Inspect:
    def __init__(self, rc: int, stdout: str = "", stderr: str = "") -> None:
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        self.calls.append(list(argv))
        return Completed(list(argv), self.rc, self.stdout, self.stderr)


def test_network_gateway_runs_the_engine() -> None:
    run = Inspect(0, PODMAN_INSPECT)
    assert egress.network_gateway(run, "podman", {}) == "10.89.0.1"
    assert run.calls == [["podman", "network", "inspect", "kind"]]


def test_a_missing_network_fails_with_the_engines_words() -> None:
    run = Inspect(125, stderr="Error: network kind: unable to find network with name or ID kind\n")
    with pytest.raises(RuntimeError, match="--kind-egress ci .* unable to find network"):
        egress.network_gateway(run, "docker", {})


def test_a_network_without_gateway_fails_with_the_reason() -> None:
    run = Inspect(0, json.dumps([{"Name": "kind", "IPAM": {"Config": []}}]))
    with pytest.raises(RuntimeError, match="no IPv4 gateway"):
        egress.network_gateway(run, "docker", {})


# --- which checks run --------------------------------------------------------------------------------------

LAPTOP = Targets(ip="1.1.1.1", name="kubernetes.io")


def never() -> str:
    raise AssertionError("internet mode must not look for a gateway")


def test_internet_mode_keeps_the_original_checks() -> None:
    targets = egress.select(egress.INTERNET, LAPTOP, never)
    assert targets == LAPTOP
    assert [p.argv for p in probes(targets)] == [
        ["ping", "-c", "1", "-W", "3", "1.1.1.1"],
        ["nslookup", "kubernetes.io"],
        ["ping", "-c", "1", "-W", "3", "kubernetes.io"],
    ]


def test_ci_mode_pings_only_the_gateway_and_fetches_the_name() -> None:
    targets = egress.select(egress.CI, LAPTOP, lambda: "172.18.0.1")
    assert (targets.ip, targets.name, targets.url, targets.ping_name) == (
        "172.18.0.1", "kubernetes.io", "https://kubernetes.io/", False,
    )  # fmt: skip
    plan = probes(targets)
    assert [(p.tool, p.argv[-1]) for p in plan] == [
        ("ping", "172.18.0.1"),
        ("nslookup", "kubernetes.io"),
        ("wget", "https://kubernetes.io/"),
    ]
    assert not any(p.tool == "ping" and "kubernetes.io" in p.argv for p in plan)


def test_ci_mode_keeps_a_given_url() -> None:
    given = Targets(ip="1.1.1.1", name="example.test", url="http://example.test:8080/")
    assert egress.select(egress.CI, given, lambda: "10.0.0.1").url == "http://example.test:8080/"


def test_ci_mode_keeps_a_site_target_for_dns_and_http() -> None:
    """A site's own web server (cniqs.site.services: its name in the site's DNS zone) as the targets."""
    site = Targets(ip="198.18.77.2", name="target.cniqs.test", url="http://target.cniqs.test/", name_ip="198.18.77.2")
    targets = egress.select(egress.CI, site, lambda: "10.89.0.1")
    assert targets.ip == "10.89.0.1"
    assert targets.name == "target.cniqs.test" and targets.name_ip == "198.18.77.2"
    assert targets.url == "http://target.cniqs.test/"
    assert [p.what for p in probes(targets)] == [
        "ping 10.89.0.1",
        "resolve target.cniqs.test",
        "fetch http://target.cniqs.test/",
    ]


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="use one of internet, ci"):
        egress.select("offline", LAPTOP, never)


def test_a_name_nobody_pings_needs_a_url() -> None:
    with pytest.raises(ValueError, match="a URL must prove"):
        Targets(ip="10.0.0.1", name="kubernetes.io", ping_name=False)


def test_describe_says_what_is_pinged_resolved_and_fetched() -> None:
    assert egress.describe(LAPTOP) == "ping 1.1.1.1 kubernetes.io; resolve kubernetes.io"
    ci = egress.ci_targets(LAPTOP, "172.18.0.1")
    assert egress.describe(ci) == "ping 172.18.0.1; resolve kubernetes.io; fetch https://kubernetes.io/"
