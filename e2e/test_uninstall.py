"""Uninstall removes only what install added: new pods report their real IP again."""

from __future__ import annotations

import pytest

from cniqs.install.conflist import chain_entry
from cniqs.provider import Backend
from e2e.support import delete_pods, expect, families, fixed_fakes, real_ips

pytestmark = pytest.mark.e2e


def test_after_uninstall_a_new_pod_reports_its_real_ip(backend: Backend) -> None:
    backend.use_base_chain(None)
    entry = chain_entry()
    pods = []
    try:
        backend.install(entry)
        during = backend.run_pod("during")
        pods.append(during)
        for where, ips in backend.reported_views(during).items():
            want = fixed_fakes(entry, families(backend, during))
            expect(ips == want, f"{where} shows {ips} while installed, want {want}", backend, during)
        backend.uninstall()
        after = backend.run_pod("after-uninstall")
        pods.append(after)
        real = real_ips(backend, after)
        for where, ips in backend.reported_views(after).items():
            expect(ips == real, f"{where} shows {ips} after uninstall, the pod has {real}", backend, after)
        ping = backend.exec(during, ["ping", "-c", "1", "-W", "3", "-t", "2", real[0]], timeout=20)
        expect(ping.rc == 0, "a pod made while installed cannot reach one made after uninstall", backend, *pods)
    finally:
        delete_pods(backend, pods)
        backend.uninstall()
