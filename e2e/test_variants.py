"""The plugin on other shapes of the base chain: CNI versions, translate mode, dual stack."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from cniqs.install.conflist import chain_entry
from cniqs.provider import Backend, ChainVariant, Pod
from e2e.support import (
    PARALLEL_PODS,
    addresses_settled,
    delete_pods,
    expect,
    fixed_fakes,
    in_any,
    real_interfaces,
    run_pods,
    translated,
)

pytestmark = pytest.mark.e2e

TRANSLATE_PODS = 20


def use(backend: Backend, variant: ChainVariant | None) -> None:
    try:
        backend.use_base_chain(variant)
    except NotImplementedError as exc:
        pytest.skip(f"the {backend.name} provider cannot run this variant: {exc}")


@pytest.fixture
def variant_chain(backend: Backend, request: pytest.FixtureRequest) -> Iterator[ChainVariant]:
    """The base chain in the variant the test is parametrized with; the cluster's own chain afterwards."""
    variant: ChainVariant = request.param
    use(backend, variant)
    try:
        yield variant
    finally:
        backend.uninstall()
        backend.use_base_chain(None)


@pytest.mark.parametrize(
    "variant_chain",
    [ChainVariant("0.3.1"), ChainVariant("0.4.0"), ChainVariant("1.0.0")],
    ids=lambda v: f"cniVersion-{v.cni_version}",
    indirect=True,
)
def test_each_cni_version_reports_the_fake_ip(backend: Backend, variant_chain: ChainVariant) -> None:
    entry = chain_entry()
    backend.install(entry)
    name = "v" + variant_chain.cni_version.replace(".", "")
    pod = backend.run_pod(name)
    try:
        for where, ips in backend.reported_views(pod).items():
            expect(ips == fixed_fakes(entry), f"{where} shows {ips} at cniVersion {variant_chain.cni_version}",
                   backend, pod)  # fmt: skip
        real = real_interfaces(backend, pod)
        cidrs = backend.pod_cidrs(pod.node)
        expect(real and all(in_any(str(i.ip), cidrs) for i in real), f"real {real} not in {cidrs}", backend, pod)
    finally:
        delete_pods(backend, [pod])


@pytest.mark.parametrize("variant_chain", [ChainVariant()], ids=["kindnet"], indirect=True)
def test_translate_mode_keeps_host_bits_and_never_collides(backend: Backend, variant_chain: ChainVariant) -> None:
    entry = chain_entry(mode="translate")
    backend.install(entry)
    # all at once: the runtime's concurrent ADDs are where two pods could be handed one fake
    pods = run_pods(backend, [f"tr-{n:02d}" for n in range(TRANSLATE_PODS)], parallel=TRANSLATE_PODS)
    try:

        def look(pod: Pod) -> tuple[list[str], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
            reported = backend.reported_ips(pod)
            return reported, [i.ip for i in real_interfaces(backend, pod) if i.version == 4]

        with ThreadPoolExecutor(max_workers=PARALLEL_PODS) as pool:
            looks = list(pool.map(look, pods))  # read every pod at once; assert one by one below
        seen: dict[str, str] = {}
        for pod, (reported, real) in zip(pods, looks, strict=True):
            expect(len(reported) == 1 and len(real) == 1, "expected one IPv4 address each", backend, pod)
            want = translated(real[0], entry["fakeIPv4"])
            expect(reported[0] == str(want), f"reported {reported[0]}, translating {real[0]} gives {want}",
                   backend, pod)  # fmt: skip
            expect(reported[0] not in seen, f"{reported[0]} is also reported by {seen.get(reported[0])}",
                   backend, pod)  # fmt: skip
            seen[reported[0]] = pod.name
    finally:
        delete_pods(backend, pods)


@pytest.mark.parametrize("variant_chain", [ChainVariant(dual_stack=True)], ids=["dual-stack"], indirect=True)
def test_dual_stack_reports_a_fake_ip_per_family(backend: Backend, variant_chain: ChainVariant) -> None:
    entry = chain_entry()
    backend.install(entry)
    pods = run_pods(backend, ["dual", "dual-peer"])
    try:
        pod, peer = pods
        want = fixed_fakes(entry, families=(4, 6))
        for where, ips in backend.reported_views(pod).items():
            expect(ips == want, f"{where} shows {ips}, want {want}", backend, pod)
        real = real_interfaces(backend, pod)
        cidrs = backend.pod_cidrs(pod.node)
        expect(sorted(i.version for i in real) == [4, 6], f"expected an IPv4 and an IPv6 address: {real}", backend, pod)
        expect(all(in_any(str(i.ip), cidrs) for i in real), f"real {real} not in {cidrs}", backend, pod)
        v6 = next(i.ip for i in real if i.version == 6)
        for each in pods:
            addresses_settled(backend, each)
        # One echo, answered or not. ptp puts the gateway address on the node's side of each new veth, where
        # it is in DAD for about 2 s: the echo waits in the neighbour queue until then, so its RTT is about
        # 2 s on a local node. -W 2 is too short for that; -W 5 waits it out.
        ping = backend.exec(peer, ["ping", "-6", "-c", "1", "-W", "5", "-t", "2", str(v6)], timeout=15)
        expect(ping.rc == 0, f"peer cannot reach {v6}: {ping.stdout}{ping.stderr}", backend, pod, peer)
        expect(ipaddress.ip_address(want[1]) not in {i.ip for i in real}, "the fake IPv6 is real", backend, pod)
    finally:
        delete_pods(backend, pods)
