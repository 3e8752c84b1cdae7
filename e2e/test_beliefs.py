"""Who believes the lie: every place the reported address spreads to holds the fake, read back from where
it is kept, while the pod's own interface and a peer's packets tell the truth. One test per place, on every
backend that has it (the local node has the runtime's lines; the Kubernetes ones need kube or kind).

The fake prefix is 192.0.2.0/24 (TEST-NET-1): the peer's ping of the fake must never reach a real host.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cniqs.cli.reveal import peer_reach
from cniqs.common.beliefs import NEEDS_KUBERNETES, Belief
from cniqs.install.conflist import chain_entry
from cniqs.provider import Backend, Pod
from e2e.support import delete_pods, expect, families, fixed_fakes, real_ips

pytestmark = pytest.mark.e2e

ENTRY = chain_entry(fakeIPv4="192.0.2.0/24", fakeIPv6="2001:db8:1::/64")
KUBERNETES_ONLY = (
    "the API: status.podIP / podIPs",
    "kubectl describe pod (IP:)",
    "a Service's EndpointSlice",
    "the pod's /etc/hosts (its hostname)",
    "the Downward API (env from status.podIP)",
)
EVERYWHERE = ("the runtime's cached CNI result (libcni)",)


@dataclass(frozen=True)
class Seen:
    pod: Pod
    fakes: list[str]
    real: list[str]
    beliefs: dict[str, Belief]


@pytest.fixture(scope="module")
def seen(backend: Backend) -> Iterator[Seen]:
    backend.use_base_chain(None)
    backend.install(ENTRY)
    pods: list[Pod] = []
    try:
        pod = backend.run_pod("believer")
        pods.append(pod)
        found = {b.who: b for b in backend.beliefs(pod)}
        yield Seen(pod, fixed_fakes(ENTRY, families(backend, pod)), real_ips(backend, pod), found)
    finally:
        delete_pods(backend, pods)
        backend.uninstall()


def kubernetes(backend: Backend) -> bool:
    return backend.name in ("kube", "kind")


@pytest.mark.parametrize("who", KUBERNETES_ONLY + EVERYWHERE)
def test_each_place_holds_the_fake(backend: Backend, seen: Seen, who: str) -> None:
    belief = seen.beliefs.get(who)
    assert belief is not None, f"{backend.name} lists no line {who!r}: {sorted(seen.beliefs)}"
    if who in KUBERNETES_ONLY and not kubernetes(backend):
        assert not belief.available and belief.how == NEEDS_KUBERNETES, belief
        return
    assert belief.available, belief
    # The primary fake is what every one-address place keeps; the API and the cache keep every family.
    want = seen.fakes if who in ("the API: status.podIP / podIPs", *EVERYWHERE) else seen.fakes[:1]
    expect(belief.shows == want, f"{who} holds {belief.shows} ({belief.how}), want {want}", backend, seen.pod)
    expect(not set(belief.shows) & set(seen.real), f"{who} holds a real address", backend, seen.pod)


def test_the_runtimes_own_report_is_the_fake_too(backend: Backend, seen: Seen) -> None:
    views = backend.reported_views(seen.pod)
    runtime = views.get("crictl inspectp") or views.get("PodSandboxStatus")
    expect(runtime == seen.fakes, f"the runtime reports {runtime}, want {seen.fakes}", backend, seen.pod)


def test_a_peer_reaches_the_real_address_and_nobody_answers_at_the_fake(backend: Backend, seen: Seen) -> None:
    checks = peer_reach(backend, seen.pod, seen.real, seen.fakes)
    real = [c for c in checks if c.name.endswith("(real)")]
    fake = [c for c in checks if c.name.endswith("(reported)")]
    assert real and fake and all(c.argv for c in fake), checks  # documentation fakes are really pinged
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    expect(not failed, f"peer checks failed: {failed}", backend, seen.pod)
