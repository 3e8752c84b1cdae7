"""Provider-neutral helpers of the e2e tests: what a pod reports, what it really has, readable failures.

Only cniqs.provider.Backend is used here, so every provider runs the same checks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cniqs.common.ipaddr import parse_ip_addr
from cniqs.common.waits import NotYet, wait_until
from cniqs.provider import Backend, Pod, PodView
from e2e.plugins.providers import WATCHER
from e2e.plugins.versions_report import VersionsPlugin

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
PARALLEL_PODS = 4  # a 2-core node starts about this many pods at once without slowing each one down


def observe(request: pytest.FixtureRequest, **facts: Any) -> None:
    """Facts a test saw for the run's per-version summary (e2e.plugins.versions_report: views, real, checks);
    nothing on providers without one (local)."""
    watcher = request.config.pluginmanager.get_plugin(WATCHER)
    if isinstance(watcher, VersionsPlugin):
        watcher.observe(request.node.nodeid, **facts)


def real_interfaces(backend: Backend, pod: Pod, ifname: str = "eth0") -> list[Interface]:
    """The global addresses on the pod's ifname, as `ip` inside the pod shows them."""
    result = backend.exec(pod, ["ip", "-o", "addr", "show", "dev", ifname], timeout=15)
    if result.rc != 0:
        raise AssertionError(f"`ip addr show dev {ifname}` failed in pod {pod.name}: {result.stderr.strip()}")
    return [ipaddress.ip_interface(address) for address in parse_ip_addr(result.stdout, ifname)]


def addresses_settled(backend: Backend, pod: Pod, ifname: str = "eth0", seconds: float = 10) -> None:
    """Wait until no address on the pod's ifname is tentative (a fresh IPv6 address is in duplicate address
    detection for a second or two and cannot send yet); a check that uses the address runs once after."""

    def settled() -> bool:
        result = backend.exec(pod, ["ip", "-o", "addr", "show", "dev", ifname], timeout=15)
        if result.rc != 0:
            raise AssertionError(f"`ip addr show dev {ifname}` failed in pod {pod.name}: {result.stderr.strip()}")
        tentative = [line for line in result.stdout.splitlines() if " tentative" in line]
        if tentative:
            raise NotYet(f"tentative: {tentative}")
        return True

    wait_until(f"the addresses of {pod.name}'s {ifname} to leave DAD", settled, seconds, interval=0.1)


def real_ips(backend: Backend, pod: Pod) -> list[str]:
    return [str(i.ip) for i in real_interfaces(backend, pod)]


def view(backend: Backend, pod: Pod) -> PodView:
    """What a failing test shows about a pod; never raises."""
    notes = []
    try:
        views = backend.reported_views(pod)
        reported = next(iter(views.values()), [])
        if len({tuple(v) for v in views.values()}) > 1:
            notes.append("views differ: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in views.items()))
    except Exception as exc:  # noqa: BLE001 - a report must not fail
        reported, notes = [], [f"reported IPs unavailable: {exc}"]
    try:
        real = [str(i) for i in real_interfaces(backend, pod)]
    except Exception as exc:  # noqa: BLE001
        real = []
        notes.append(f"real IPs unavailable: {exc}")
    return PodView(pod, reported, real, "; ".join(notes))


def describe(backend: Backend, pods: Iterable[Pod]) -> str:
    lines = []
    for pod in pods:
        v = view(backend, pod)
        line = f"pod {pod.namespace}/{pod.name} on {pod.node}: reported {v.reported or '-'}, real {v.real or '-'}"
        lines.append(line + (f" ({v.notes})" if v.notes else ""))
    return "\n".join(lines)


def expect(condition: object, message: str, backend: Backend, *pods: Pod) -> None:
    """assert, with the pods' reported and real IPs in the message (the log tails come from conftest)."""
    if not condition:
        raise AssertionError(f"{message}\n{describe(backend, pods)}")


def run_pods(
    backend: Backend, names: Sequence[str], parallel: int = PARALLEL_PODS, node: str | None = None
) -> list[Pod]:
    """Start pods concurrently (on node, if given); if one fails, delete the others and raise its error."""
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(names)))) as pool:
        futures = [pool.submit(backend.run_pod, name, node=node) for name in names]
        errors = [f.exception() for f in futures]
        started = [f.result() for f, err in zip(futures, errors, strict=True) if err is None]
    failed = next((e for e in errors if e is not None), None)
    if failed is not None:
        delete_pods(backend, started)
        raise failed
    return started


def delete_pods(backend: Backend, pods: Sequence[Pod], parallel: int | None = None) -> None:
    """Delete pods, all at once unless parallel says how many; return when every one is gone."""
    if not pods:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(parallel or len(pods), len(pods)))) as pool:
        for future in [pool.submit(backend.delete_pod, p) for p in pods]:
            future.result()


def families(backend: Backend, pod: Pod) -> tuple[int, ...]:
    """The IP families of the pod's node, IPv4 first: a dual-stack pod has one address of each."""
    return tuple(sorted({net.version for net in backend.pod_cidrs(pod.node)}))


def fixed_fakes(entry: dict[str, Any], families: Sequence[int] = (4,)) -> list[str]:
    """What fixed mode reports for a pod with one address per family: each fake prefix's own address."""
    return [str(fake_prefix(entry, f).network_address) for f in families]


def fake_prefix(entry: dict[str, Any], family: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(entry["fakeIPv4" if family == 4 else "fakeIPv6"])


def translated(real: Address, fake_prefix: str) -> Address:
    """Translate mode: the real address's host bits inside the fake prefix."""
    net = ipaddress.ip_network(fake_prefix)
    return net.network_address + (int(real) & int(net.hostmask))


def in_any(address: str, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in net for net in networks)
