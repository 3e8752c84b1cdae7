"""Kind-only checks: every node carries the install, the demo's `kubectl describe` line, pods on
different nodes, and the Service reality check. Skipped on other backends.

The fake prefix here is 192.0.2.0/24 (TEST-NET-1, documentation only): a test that sends traffic
to a fake address must never reach a routable one such as the demo's 1.2.3.0.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import cast

import pytest

from cniqs.common.waits import NotYet, wait_until
from cniqs.conflist import chain_entry
from cniqs.provider import Backend, Pod
from cniqs.providers.kind.backend import KindBackend
from e2e.support import delete_pods, expect, families, fixed_fakes, in_any, real_ips

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.kind_only,
]

ENTRY = chain_entry(fakeIPv4="192.0.2.0/24", fakeIPv6="2001:db8:1::/64")
FAKE = fixed_fakes(ENTRY)[0]


@pytest.fixture(scope="module")
def kind(backend: Backend) -> Iterator[KindBackend]:
    if not isinstance(backend, KindBackend):
        pytest.skip("kind-only checks")
    backend.use_base_chain(None)
    try:
        backend.install(ENTRY)
        yield backend
    finally:
        backend.uninstall()


@pytest.fixture(scope="module")
def spread(kind: KindBackend) -> Iterator[list[Pod]]:
    """One pod pinned to each node."""
    pods: list[Pod] = []
    try:
        for n, node in enumerate(kind.nodes):
            pods.append(kind.run_pod(f"spread-{n}", node=node))
        yield pods
    finally:
        delete_pods(kind, pods)


def test_every_node_holds_the_built_plugin_and_loaded_the_chain(kind: KindBackend) -> None:
    assert len(kind.nodes) >= 2, f"expected a control plane and a worker, got {kind.nodes}"
    for node in kind.nodes:
        kind.verify_node(node)
        loaded, chain = kind.loaded_chain(node)
        assert loaded, f"{node}: containerd loaded {chain}, not the chain with cni-quickstart"


def test_a_pod_on_every_node_reports_the_fake_ip_in_every_view(kind: KindBackend, spread: list[Pod]) -> None:
    assert {p.node for p in spread} == set(kind.nodes)
    for pod in spread:
        want = fixed_fakes(ENTRY, families(kind, pod))
        for where, ips in kind.reported_views(pod).items():
            expect(ips == want, f"{where} on {pod.node} shows {ips}, want {want}", kind, pod)


def test_kubectl_describe_prints_the_fake_ip_like_the_demo(kind: KindBackend, spread: list[Pod]) -> None:
    text = kind.describe_pod(spread[0])
    line = next((ln for ln in text.splitlines() if ln.startswith("IP:")), "")
    assert re.fullmatch(rf"IP:\s+{re.escape(FAKE)}", line), f"describe's IP line is {line!r}:\n{text}"


def test_pods_on_different_nodes_reach_each_other_by_real_ip(kind: KindBackend, spread: list[Pod]) -> None:
    a, b = spread[0], spread[1]
    assert a.node != b.node
    cidr_a, cidr_b = kind.pod_cidrs(a.node), kind.pod_cidrs(b.node)
    real_a, real_b = real_ips(kind, a)[0], real_ips(kind, b)[0]
    expect(in_any(real_a, cidr_a) and in_any(real_b, cidr_b), f"real IPs {real_a}, {real_b} outside {cidr_a}, {cidr_b}",
           kind, a, b)  # fmt: skip
    expect(not set(cidr_a) & set(cidr_b), f"nodes share a pod CIDR: {cidr_a} {cidr_b}", kind, a, b)
    for src, dst in ((a, real_b), (b, real_a)):
        result = kind.exec(src, ["ping", "-c", "1", "-W", "3", dst], timeout=20)
        expect(result.rc == 0, f"{src.name} on {src.node} cannot ping {dst}: {result.stdout}{result.stderr}",
               kind, a, b)  # fmt: skip


def test_the_fake_address_leads_nowhere(kind: KindBackend, spread: list[Pod]) -> None:
    assert ipaddress.ip_address(FAKE) in ipaddress.ip_network("192.0.2.0/24")  # documentation range only
    result = kind.exec(spread[1], ["ping", "-c", "1", "-W", "2", "-t", "2", FAKE], timeout=20)
    expect(result.rc != 0, f"the fake {FAKE} answered: {result.stdout}", kind, spread[1])


def test_a_service_lists_the_fake_ip_in_its_endpoint_slice(kind: KindBackend, spread: list[Pod]) -> None:
    pod = spread[0]
    kind.create_service("reality", pod)

    def addresses() -> list[str]:
        found = kind.endpoint_addresses("reality")
        if not found:
            raise NotYet("the EndpointSlice has no endpoints yet")
        return found

    # Waiting for the EndpointSlice controller is setup; the address it lists is the assertion.
    found = cast(list[str], wait_until("an EndpointSlice for service reality", addresses, 60))
    expect(found == [FAKE], f"the Service's EndpointSlice lists {found}; the pod reports {FAKE}", kind, pod)
