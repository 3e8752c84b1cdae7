"""The demo, checked: with cni-quickstart installed a pod reports a fake IP, yet really works.

One install (fixed mode, the plugin's default entry) serves every test here: a pod `before` made
before install, then pods `test` and `peer` made after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cniqs.install.conflist import chain_entry
from cniqs.provider import Backend, Pod, adds_for, probes
from e2e.plugins.versions_report import Check
from e2e.support import (
    delete_pods,
    expect,
    fake_prefix,
    families,
    fixed_fakes,
    in_any,
    observe,
    real_interfaces,
    real_ips,
    run_pods,
)

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Scene:
    entry: dict[str, Any]
    before: Pod
    test: Pod
    peer: Pod


@pytest.fixture(scope="module")
def scene(backend: Backend) -> Iterator[Scene]:
    backend.use_base_chain(None)
    before = backend.run_pod("before")
    pods = [before]
    # A documentation-range fake (TEST-NET-1): one test sends traffic to the fake address, and that
    # must never be a routable one such as the demo's 1.2.3.0 (the CLI's demo test covers the default).
    entry = chain_entry(fakeIPv4="192.0.2.0/24")
    try:
        backend.install(entry)
        test, peer = run_pods(backend, ["test", "peer"])
        pods += [test, peer]
        yield Scene(entry, before, test, peer)
    finally:
        delete_pods(backend, pods)
        backend.uninstall()


def test_every_reported_view_shows_the_fake_ip(backend: Backend, scene: Scene, request: pytest.FixtureRequest) -> None:
    views = backend.reported_views(scene.test)
    observe(request, views=views)
    want = fixed_fakes(scene.entry, families(backend, scene.test))
    expect(views, "the backend reported no view of the pod's IPs", backend, scene.test)
    for where, ips in views.items():
        expect(ips == want, f"{where} shows {ips}, the plugin's config says {want}", backend, scene.test)


def test_the_pod_really_has_an_address_from_the_node_pod_cidr(
    backend: Backend, scene: Scene, request: pytest.FixtureRequest
) -> None:
    real = real_interfaces(backend, scene.test)
    observe(request, real=[str(i) for i in real])
    reported = backend.reported_views(scene.test)
    cidrs = backend.pod_cidrs(scene.test.node)
    v4 = [i for i in real if i.version == 4]
    expect(len(v4) == 1, f"expected one IPv4 address on eth0, found {real}", backend, scene.test)
    expect(in_any(str(v4[0].ip), cidrs), f"{v4[0]} is outside the node's pod CIDRs {cidrs}", backend, scene.test)
    for where, ips in reported.items():
        expect(str(v4[0].ip) not in ips, f"{where} shows the real address {v4[0].ip}", backend, scene.test)


def test_the_pod_reaches_the_outside(backend: Backend, scene: Scene, request: pytest.FixtureRequest) -> None:
    """Every check of the backend's targets (cniqs.provider.probes) runs; the test fails naming each one
    that did not pass. A laptop pings an external IP and name; --kind-egress ci pings the kind network's
    gateway and proves egress to the name by DNS and an HTTP(S) fetch (runners drop ICMP at their NAT)."""
    t = backend.targets
    failed = []
    checks = []
    for probe in probes(t):
        result = backend.exec(scene.test, probe.argv, timeout=20)
        problem = "" if result.rc == 0 else f"exit {result.rc}: {(result.stderr or result.stdout).strip()[-300:]}"
        if not problem and probe.tool == "nslookup":
            answer_part = result.stdout.partition("Name:")[2]  # nslookup prints the server first, then answers
            if not [line for line in answer_part.splitlines() if line.strip().startswith("Address")]:
                problem = f"resolved to no address:\n{result.stdout}"
            elif t.name_ip and t.name_ip not in result.stdout:
                problem = f"did not resolve to {t.name_ip}:\n{result.stdout}"
        if not problem and probe.tool == "wget" and "<html" not in result.stdout.lower():
            problem = f"no page:\n{result.stdout[:300]}"
        checks.append(Check(probe.what, not problem, problem[:200]))
        if problem:
            failed.append(f"{probe.what} ({' '.join(probe.argv)}): {problem}")
    observe(request, checks=checks)
    expect(not failed, "the pod could not:\n" + "\n".join(failed), backend, scene.test)


# Two hops reach any pod on the cluster (pod -> node -> pod); with the same TTL a packet to an
# address no pod has dies on the machine that runs the node instead of leaving it.
HOPS = "2"


def test_another_pod_reaches_it_by_its_real_ip_and_the_fake_one_leads_nowhere(backend: Backend, scene: Scene) -> None:
    real = real_ips(backend, scene.test)[0]
    fake = fixed_fakes(scene.entry)[0]
    ok = backend.exec(scene.peer, ["ping", "-c", "1", "-W", "3", "-t", HOPS, real], timeout=20)
    expect(ok.rc == 0, f"peer could not ping test at its real IP {real}: {ok.stdout}{ok.stderr}",
           backend, scene.test, scene.peer)  # fmt: skip
    bad = backend.exec(scene.peer, ["ping", "-c", "1", "-W", "1", "-t", HOPS, fake], timeout=20)
    expect(bad.rc != 0, f"the fake IP {fake} answered a ping: {bad.stdout}", backend, scene.test, scene.peer)


def test_pods_made_before_install_keep_working(backend: Backend, scene: Scene) -> None:
    before = scene.before
    reported = backend.reported_views(before)
    real = real_ips(backend, before)
    for where, ips in reported.items():
        expect(ips == real, f"{where} of a pod made before install changed to {ips}", backend, before)
    target = real_ips(backend, scene.test)[0]
    for argv in (
        ["ping", "-c", "1", "-W", "3", backend.targets.ip],
        ["ping", "-c", "1", "-W", "3", "-t", HOPS, target],
    ):
        result = backend.exec(before, argv, timeout=20)
        expect(result.rc == 0, f"pod made before install failed {' '.join(argv)}", backend, before, scene.test)


def test_pods_made_after_install_never_collide_with_earlier_ones(backend: Backend, scene: Scene) -> None:
    pods = [scene.before, scene.test, scene.peer]
    real = [ip for p in pods for ip in real_ips(backend, p)]
    expect(len(real) == len(set(real)) == 3, f"real IPs collide: {real}", backend, *pods)


def test_the_plugin_log_maps_each_pod_real_to_fake(backend: Backend, scene: Scene) -> None:
    for pod in (scene.test, scene.peer):
        records = adds_for(backend.plugin_log(pod.node), pod)
        real = [str(i) for i in real_interfaces(backend, pod)]
        expect(records, f"no ADD record for pod {pod.name} in the plugin log", backend, pod)
        last = records[-1]
        expect(last.get("real") == real, f"log says real {last.get('real')}, pod has {real}", backend, pod)
        fams = families(backend, pod)
        want = [f"{fixed_fakes(scene.entry, [f])[0]}/{fake_prefix(scene.entry, f).prefixlen}" for f in fams]
        expect(last.get("reported") == want, f"log says reported {last.get('reported')}, want {want}", backend, pod)
    before = adds_for(backend.plugin_log(scene.before.node), scene.before)
    expect(not before, f"the plugin logged an ADD for a pod made before install: {before}", backend, scene.before)
