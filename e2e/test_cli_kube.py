"""The `cniqs` tool on the kube provider, run for real as a workshop participant would on a Linux machine:
`up` prints how to reach the cluster by hand, the exports it prints make the built `kubectl` show the
fake IP in `kubectl describe pod` and the real one in `kubectl exec ... ip a s`, the node commands
`status` prints work when pasted, and `down` leaves nothing.

These tests drive their own cluster through the console script (not the `backend` fixture), so they run
only with `--provider kube`; a missing prerequisite skips with the reason, and fails where CI=true.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from cniqs.common import procs
from cniqs.providers.kube.provider import KubeProvider
from cniqs.providers.local import netns
from e2e.support_cli import require_cli, run_cniqs

pytestmark = [pytest.mark.e2e, pytest.mark.kube_only]
FAKE = "1.2.3.0"


@pytest.fixture(scope="module", autouse=True)
def kube_prerequisites() -> None:
    require_cli(KubeProvider())


def exports(text: str) -> dict[str, str]:
    """The `export NAME=value` lines `cniqs up` printed, with $PATH expanded as a shell would."""
    found = dict(re.findall(r"^\s*export (\w+)=(\S+)$", text, re.M))
    if "PATH" in found:
        found["PATH"] = found["PATH"].replace("$PATH", os.environ.get("PATH", ""))
    return found


def by_hand(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**os.environ, **env})


def test_up_then_kubectl_by_hand_shows_the_fake_ip_and_down_leaves_nothing(tmp_path: Path) -> None:
    up = run_cniqs(["cniqs", "up", "--provider", "kube"], tmp_path, provider="kube")
    assert up.rc == 0, up
    env = exports(up.out + up.err)
    assert set(env) >= {"KUBECONFIG", "PATH"}, up
    root = Path(env["KUBECONFIG"]).parents[1]
    try:
        for step in (["cniqs", "install"], ["cniqs", "run", "test"]):
            ran = run_cniqs(step, tmp_path, provider="kube")
            assert ran.rc == 0, ran
        nodes = by_hand(["kubectl", "get", "nodes", "--no-headers"], env)
        assert nodes.returncode == 0 and " Ready " in nodes.stdout, nodes
        # Each node's containerd serves NRI on a socket of its own, so a second cluster (or the host's own
        # containerd) can start beside this one.
        nri = [p for p in root.rglob("nri.sock") if p.is_socket()]
        assert len(nri) == len(nodes.stdout.splitlines()), (nri, nodes.stdout)
        describe = by_hand(["kubectl", "describe", "pod", "test"], env)
        assert re.search(rf"^IP:\s+{re.escape(FAKE)}$", describe.stdout, re.M), describe.stdout
        inside = by_hand(["kubectl", "exec", "test", "--", "ip", "a", "s", "eth0"], env)
        real = [ipaddress.ip_interface(a) for a in re.findall(r"inet (\S+) ", inside.stdout)]
        assert real and all(str(a.ip) != FAKE for a in real), inside.stdout
        assert all(a.ip in ipaddress.ip_network("10.244.0.0/16") for a in real), inside.stdout
        status = run_cniqs(["cniqs", "status"], tmp_path, provider="kube")
        runtime = re.findall(r"^\s+runtime:\s+(.+)$", status.out, re.M)
        assert status.rc == 0 and runtime and "describe pod test" in status.out, status
        pasted = [by_hand(shlex.split(line), env) for line in runtime]  # what status says to paste, pasted
        assert sum(" test " in p.stdout for p in pasted) == 1, pasted
        reveal = run_cniqs(["cniqs", "reveal", "test"], tmp_path, provider="kube")
        assert reveal.rc == 0 and re.search(rf"kubectl describe pod \(IP:\)\s+{re.escape(FAKE)}", reveal.out), reveal
    finally:
        down = run_cniqs(["cniqs", "down"], tmp_path, provider="kube")
    assert down.rc == 0, down
    run_id = root.name.split("-")[2]
    left = [ns for ns in netns.NETNS_DIR.glob(f"cniqs-{run_id}*")] if netns.NETNS_DIR.is_dir() else []
    left += [Path(f"/proc/{pid}") for pid in procs.mentioning(str(root)) if procs.alive(pid)]
    assert not left and not root.exists(), f"left behind: {left}, root exists: {root.exists()}"
