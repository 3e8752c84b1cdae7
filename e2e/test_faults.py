"""Faults on a live node: containerd killed and restarted, install and uninstall racing, a crashed install.

All local-only: they kill the node's runtime or edit its CNI conf dir behind the backend's back,
and skip with the reason on other providers.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cniqs.install import conflist
from cniqs.install.conflist import chain_entry
from cniqs.provider import Backend, Pod
from e2e.support import (
    delete_pods,
    expect,
    fixed_fakes,
    real_interfaces,
    real_ips,
    run_pods,
    translated,
)
from e2e.support_local import leftovers

if TYPE_CHECKING:
    from cniqs.providers.local.node import LocalBackend

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]

REPO = Path(__file__).resolve().parents[1]
FAKE_V4 = "192.0.2.0/24"
RACE_ROUNDS = 20


def reported_matches_translation(backend: Backend, pod: Pod) -> str:
    """The pod's reported IP, checked against its real one translated into FAKE_V4."""
    real = [i.ip for i in real_interfaces(backend, pod) if i.version == 4]
    reported = backend.reported_ips(pod)
    expect(len(real) == 1, f"expected one real IPv4 address, found {real}", backend, pod)
    want = str(translated(real[0], FAKE_V4))
    expect(reported == [want], f"reports {reported}, translating {real[0]} gives {want}", backend, pod)
    return want


def test_containerd_killed_and_restarted_keeps_pods_reporting_the_fake(node: LocalBackend) -> None:
    before = leftovers(node)
    node.install(chain_entry(mode="translate", fakeIPv4=FAKE_V4))
    old = run_pods(node, ["crash-a", "crash-b", "crash-c"])
    pods = list(old)
    try:
        fakes = [reported_matches_translation(node, p) for p in old]
        killed = node.run_state.containerd_pid if node.run_state else None
        started = time.monotonic()
        node.restart_runtime()
        took = time.monotonic() - started
        assert node.run_state is not None and node.run_state.containerd_pid != killed, "containerd was not replaced"
        for pod, fake in zip(old, fakes, strict=True):
            expect(node.reported_ips(pod) == [fake], f"after the restart, not {fake} any more", node, pod)
        new = node.run_pod("after-crash")
        pods.append(new)
        reported_matches_translation(node, new)
        target = real_ips(node, old[0])[0]
        ping = node.exec(new, ["ping", "-c", "1", "-W", "2", "-t", "2", target], timeout=15)
        expect(ping.rc == 0, f"a new pod cannot reach an old one at {target}: {ping.stdout}{ping.stderr}",
               node, new, old[0])  # fmt: skip
        delete_pods(node, old)
        pods = [new]
    finally:
        delete_pods(node, pods)
    leaked = leftovers(node).minus(before)
    assert not leaked, f"pods made before the restart and deleted after it left behind: {leaked}"
    print(f"\ncontainerd killed and back with its chain loaded in {took:.1f} s")


def _expected_chain(node: LocalBackend, entry: dict[str, Any]) -> dict[str, Any]:
    """What containerd must have loaded for the conf dir as it is now."""
    installed = node.layout.cni_conf / conflist.INSTALLED_NAME
    if installed.exists():
        return json.loads(installed.read_text())
    return node.base_chain()


def _race(*actions: Callable[[], object]) -> list[BaseException]:
    """Run actions at the same moment in threads; their exceptions."""
    gate = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def go(action: Callable[[], object]) -> None:
        gate.wait()
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(a,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_install_and_uninstall_racing_leave_the_loaded_chain_right(node: LocalBackend) -> None:
    conf_dir = str(node.layout.cni_conf)
    entry = {**chain_entry(), "logFile": str(node.layout.plugin_log)}  # what node.install() writes
    derived = conflist.derive(node.base_chain(), entry)

    def install() -> object:
        return conflist.install(node.files, conf_dir, entry)

    def uninstall() -> object:
        return conflist.uninstall(node.files, conf_dir)

    outcomes = []
    for _ in range(RACE_ROUNDS):
        for name, actions in (("install twice", (install, install)), ("install and uninstall", (install, uninstall)),
                              ("uninstall twice", (uninstall, uninstall))):  # fmt: skip
            errors = _race(*actions)
            assert not errors, f"{name} at once failed: {errors!r}"
            want = _expected_chain(node, entry)
            assert want in (derived, node.base_chain()), f"{name} at once left a chain that is neither: {want}"
            node.wait_loaded(want)
            outcomes.append((name, "installed" if want == derived else "not installed"))
            if name == "install twice":
                assert want == derived, "installing twice at once did not leave it installed"
            if name == "uninstall twice":
                assert want != derived, "uninstalling twice at once left it installed"
    temps = [p.name for p in Path(conf_dir).iterdir() if p.name.startswith(".")]
    assert not temps, f"temp files left in the conf dir: {temps}"
    # The last state is uninstalled; one more race decides what a pod must report.
    _race(install, uninstall)
    want = _expected_chain(node, entry)
    node.wait_loaded(want)
    pod = node.run_pod("after-race")
    try:
        real = real_ips(node, pod)
        fake = fixed_fakes(entry)
        reported = node.reported_ips(pod)
        expect(reported == (fake if want == derived else real), f"reports {reported} with {want['plugins'][-1]}",
               node, pod)  # fmt: skip
    finally:
        delete_pods(node, [pod])
    print(f"\nrace outcomes: {outcomes}")


CRASHING_INSTALL = """
import os, signal, sys
from cniqs.install import conflist
from cniqs.install.nodefs import LocalFiles

real_fsync = os.fsync

def fsync_then_die(fd):
    real_fsync(fd)  # the temp file is complete and on disk; the rename never comes
    os.kill(os.getpid(), signal.SIGKILL)

os.fsync = fsync_then_die
conflist.install(LocalFiles(), sys.argv[1], {**conflist.chain_entry(), "logFile": sys.argv[2]})
"""


def test_install_killed_before_its_rename_leaves_the_old_chain_loaded(node: LocalBackend) -> None:
    conf_dir = node.layout.cni_conf
    before = sorted(p.name for p in conf_dir.iterdir())
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_INSTALL, str(conf_dir), str(node.layout.plugin_log)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, f"the install was not killed mid-way: {proc.returncode} {proc.stderr}"
    temps = [p for p in conf_dir.iterdir() if p.name not in before]
    assert len(temps) == 1 and temps[0].name.startswith(f".{conflist.INSTALLED_NAME}."), f"left: {temps}"
    assert not (conf_dir / conflist.INSTALLED_NAME).exists(), "the crashed install still put its file in place"
    time.sleep(1)  # containerd would have reloaded by now if the temp file could make it
    node.wait_loaded(node.base_chain(), timeout=2)
    pod = node.run_pod("after-crashed-install")
    try:
        reported = node.reported_ips(pod)
        expect(reported == real_ips(node, pod), f"reports {reported} after a crashed install", node, pod)
    finally:
        delete_pods(node, [pod])
    entry = chain_entry()
    node.install(entry)  # a real install afterwards works and clears the dead writer's temp file
    assert sorted(p.name for p in conf_dir.iterdir()) == sorted([*before, conflist.INSTALLED_NAME])
