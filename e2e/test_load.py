"""Under load: many pods at once, and many create/delete cycles, with cni-quickstart in the chain.

Translate mode with a documentation-range fake prefix gives every pod its own fake address, derived
from its real one, so each pod's report can be checked and two pods never report the same address.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from cniqs.install.conflist import chain_entry
from cniqs.provider import Backend, Pod
from e2e.support import delete_pods, expect, real_interfaces, run_pods, translated
from e2e.support_local import leftovers, local

pytestmark = [pytest.mark.e2e, pytest.mark.load]

FAKE_V4 = "192.0.2.0/24"  # RFC 5737 TEST-NET-1: leads nowhere, and each pod's fake is its own
AT_ONCE = 50
CYCLES = 200
CYCLE_BATCH = 10  # pods created (and then deleted) at once per cycle
LOOKERS = 8  # concurrent execs/status calls while checking pods

T = TypeVar("T")


def each(pods: Sequence[Pod], fn: Callable[[Pod], T]) -> list[T]:
    with ThreadPoolExecutor(max_workers=LOOKERS) as pool:
        return list(pool.map(fn, pods))


@pytest.fixture
def translating(backend: Backend) -> Iterator[dict[str, Any]]:
    """cni-quickstart installed in translate mode on the cluster's own chain; uninstalled afterwards."""
    backend.use_base_chain(None)
    entry = chain_entry(mode="translate", fakeIPv4=FAKE_V4)
    backend.install(entry)
    try:
        yield entry
    finally:
        backend.uninstall()


def log_records(backend: Backend, node: str) -> list[dict[str, Any]]:
    try:
        return backend.plugin_log(node)
    except ValueError as exc:
        raise AssertionError(f"the plugin log on {node} has a line that is not one intact JSON record: {exc}") from None


def test_fifty_pods_at_once_each_report_their_own_fake(backend: Backend, translating: dict[str, Any]) -> None:
    node = backend.nodes[0]
    logged_before = len(log_records(backend, node))
    names = [f"load-{n:02d}" for n in range(AT_ONCE)]
    started = time.monotonic()
    pods = run_pods(backend, names, parallel=AT_ONCE, node=node)  # one node: one runtime making concurrent CNI calls
    created = time.monotonic() - started
    try:
        real = each(pods, lambda p: [i for i in real_interfaces(backend, p) if i.version == 4])
        reported = each(pods, backend.reported_ips)
        for pod, r, rep in zip(pods, real, reported, strict=True):
            expect(len(r) == 1, f"expected one real IPv4 address, found {r}", backend, pod)
            want = str(translated(r[0].ip, FAKE_V4))
            expect(rep == [want], f"reports {rep}, translating its real {r[0].ip} gives {want}", backend, pod)
        real_ips = [str(r[0].ip) for r in real]
        expect(len(set(real_ips)) == AT_ONCE, f"real IPs collide: {sorted(real_ips)}", backend)
        fakes = [rep[0] for rep in reported]
        expect(len(set(fakes)) == AT_ONCE, f"reported IPs collide: {sorted(fakes)}", backend)

        records = log_records(backend, node)[logged_before:]
        adds = [r for r in records if r.get("command") == "ADD"]
        by_pod: dict[str, list[dict[str, Any]]] = {}
        for record in adds:
            by_pod.setdefault(str(record.get("podName")), []).append(record)
        expect(sorted(by_pod) == sorted(names) and all(len(v) == 1 for v in by_pod.values()),
               f"expected exactly one ADD record per pod, got {[(k, len(v)) for k, v in sorted(by_pod.items())]}",
               backend)  # fmt: skip
        for pod, r, rep in zip(pods, real, reported, strict=True):
            record = by_pod[pod.name][0]
            want_record = {"real": [str(r[0])], "reported": [f"{rep[0]}/24"], "ifname": "eth0", "network": "kindnet"}
            got = {k: record.get(k) for k in want_record}
            expect(got == want_record and "error" not in record, f"log record {record}, want {want_record}",
                   backend, pod)  # fmt: skip
        _raw_log_is_whole_lines(backend, len(log_records(backend, node)))
    finally:
        delete_pods(backend, pods, parallel=AT_ONCE)
    print(f"\n{AT_ONCE} pods created at once in {created:.1f} s")


def _raw_log_is_whole_lines(backend: Backend, records: int) -> None:
    """Local only: the log file's bytes are exactly `records` newline-terminated lines (nothing torn)."""
    layout = getattr(backend, "layout", None)
    if layout is None:
        return
    raw = layout.plugin_log.read_bytes()
    assert raw.endswith(b"\n"), f"the plugin log ends in a partial line: {raw[-200:]!r}"
    lines = raw.count(b"\n")
    assert lines == records, f"{lines} lines in the plugin log, {records} records"


@pytest.mark.local_only
def test_rapid_create_delete_cycles_leak_nothing(backend: Backend, translating: dict[str, Any]) -> None:
    node = local(backend)
    before = leftovers(node)
    started = time.monotonic()
    for batch in range(0, CYCLES, CYCLE_BATCH):
        pods = run_pods(backend, [f"cycle-{n:03d}" for n in range(batch, batch + CYCLE_BATCH)], parallel=CYCLE_BATCH)
        try:
            for pod, ips in zip(pods, each(pods, backend.reported_ips), strict=True):
                expect(len(ips) == 1 and ips[0].startswith("192.0.2."), f"cycle pod reports {ips}", backend, pod)
            if batch == 0:  # the probe sees live pods' state, so an empty difference at the end means something
                live = leftovers(node).minus(before)
                counts = {kind: len(found) for kind, found in live.items()}
                want = {"ipam": CYCLE_BATCH, "results": 2 * CYCLE_BATCH, "netns_files": CYCLE_BATCH,
                        "netns_mounts": CYCLE_BATCH, "veths": CYCLE_BATCH}  # fmt: skip
                assert counts == want, f"with {CYCLE_BATCH} pods up the node holds {counts}, expected {want}"
        finally:
            delete_pods(backend, pods, parallel=CYCLE_BATCH)
    took = time.monotonic() - started
    leaked = leftovers(node).minus(before)
    assert not leaked, f"{CYCLES} create/delete cycles left behind: {leaked}"
    print(f"\n{CYCLES} pods created and deleted in batches of {CYCLE_BATCH} in {took:.1f} s")
