"""Checks on a real Kubernetes (kind and kube): every node carries the install, the demo's `kubectl describe`
line, pods on different nodes, and the Service reality check. Deselected on the local provider.

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
from cniqs.install.conflist import chain_entry
from cniqs.provider import Backend, Pod
from cniqs.providers.cluster.backend import ClusterBackend
from e2e.support import delete_pods, expect, families, fixed_fakes, in_any, real_ips

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cluster_only,
]

ENTRY = chain_entry(fakeIPv4="192.0.2.0/24", fakeIPv6="2001:db8:1::/64")
FAKE = fixed_fakes(ENTRY)[0]


@pytest.fixture(scope="module")
def cluster(backend: Backend) -> Iterator[ClusterBackend]:
    if not isinstance(backend, ClusterBackend):
        pytest.fail(f"the {backend.name} provider gives no Kubernetes cluster; these tests are deselected there")
    backend.use_base_chain(None)
    try:
        backend.install(ENTRY)
        yield backend
    finally:
        backend.uninstall()


@pytest.fixture(scope="module")
def spread(cluster: ClusterBackend) -> Iterator[list[Pod]]:
    """One pod pinned to each node."""
    pods: list[Pod] = []
    try:
        for n, node in enumerate(cluster.nodes):
            pods.append(cluster.run_pod(f"spread-{n}", node=node))
        yield pods
    finally:
        delete_pods(cluster, pods)


def test_every_node_holds_the_built_plugin_and_loaded_the_chain(cluster: ClusterBackend) -> None:
    assert len(cluster.nodes) >= 2, f"expected a control plane and a worker, got {cluster.nodes}"
    for node in cluster.nodes:
        cluster.verify_node(node)
        loaded, chain = cluster.loaded_chain(node)
        assert loaded, f"{node}: containerd loaded {chain}, not the chain with cni-quickstart"


def test_a_pod_on_every_node_reports_the_fake_ip_in_every_view(cluster: ClusterBackend, spread: list[Pod]) -> None:
    assert {p.node for p in spread} == set(cluster.nodes)
    for pod in spread:
        want = fixed_fakes(ENTRY, families(cluster, pod))
        for where, ips in cluster.reported_views(pod).items():
            expect(ips == want, f"{where} on {pod.node} shows {ips}, want {want}", cluster, pod)


def test_kubectl_describe_prints_the_fake_ip_like_the_demo(cluster: ClusterBackend, spread: list[Pod]) -> None:
    text = cluster.describe_pod(spread[0])
    line = next((ln for ln in text.splitlines() if ln.startswith("IP:")), "")
    assert re.fullmatch(rf"IP:\s+{re.escape(FAKE)}", line), f"describe's IP line is {line!r}:\n{text}"


def test_pods_on_different_nodes_reach_each_other_by_real_ip(cluster: ClusterBackend, spread: list[Pod]) -> None:
    a, b = spread[0], spread[1]
    assert a.node != b.node
    cidr_a, cidr_b = cluster.pod_cidrs(a.node), cluster.pod_cidrs(b.node)
    real_a, real_b = real_ips(cluster, a)[0], real_ips(cluster, b)[0]
    expect(in_any(real_a, cidr_a) and in_any(real_b, cidr_b), f"real IPs {real_a}, {real_b} outside {cidr_a}, {cidr_b}",
           cluster, a, b)  # fmt: skip
    expect(not set(cidr_a) & set(cidr_b), f"nodes share a pod CIDR: {cidr_a} {cidr_b}", cluster, a, b)
    for src, dst in ((a, real_b), (b, real_a)):
        result = cluster.exec(src, ["ping", "-c", "1", "-W", "3", dst], timeout=20)
        expect(result.rc == 0, f"{src.name} on {src.node} cannot ping {dst}: {result.stdout}{result.stderr}",
               cluster, a, b)  # fmt: skip


def test_the_fake_address_leads_nowhere(cluster: ClusterBackend, spread: list[Pod]) -> None:
    assert ipaddress.ip_address(FAKE) in ipaddress.ip_network("192.0.2.0/24")  # documentation range only
    result = cluster.exec(spread[1], ["ping", "-c", "1", "-W", "2", "-t", "2", FAKE], timeout=20)
    expect(result.rc != 0, f"the fake {FAKE} answered: {result.stdout}", cluster, spread[1])


def test_a_service_lists_the_fake_ip_in_its_endpoint_slice(cluster: ClusterBackend, spread: list[Pod]) -> None:
    pod = spread[0]
    cluster.create_service("reality", pod)

    def addresses() -> list[str]:
        found = cluster.endpoint_addresses("reality")
        if not found:
            raise NotYet("the EndpointSlice has no endpoints yet")
        return found

    # Waiting for the EndpointSlice controller is setup; the address it lists is the assertion.
    found = cast(list[str], wait_until("an EndpointSlice for service reality", addresses, 60))
    expect(found == [FAKE], f"the Service's EndpointSlice lists {found}; the pod reports {FAKE}", cluster, pod)
