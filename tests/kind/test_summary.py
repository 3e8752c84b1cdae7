"""The per-version job summary (e2e.plugins.versions_report.markdown), from what a run records through the
plugin's real pytest hooks: an inner pytest session whose tests record what the suite's do."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGE = "kindest/node:v1.37.0@sha256:0123456789abcdef"
KIND = "kind v0.33.0 go1.26.0 linux/amd64"

# As the kind provider (watcher.record) and e2e/test_reported_ip.py (support.observe) record them: the views
# of ClusterBackend.reported_views, `ip -o addr show dev eth0` as str(interface), the checks of probes().
CONFTEST = f"""
import pytest

from e2e.plugins.providers import WATCHER
from e2e.plugins.versions_report import VersionsPlugin


def pytest_addoption(parser):
    parser.addoption("--provider", default="kind")


def pytest_configure(config):
    config.pluginmanager.register(VersionsPlugin(config), WATCHER)


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["1.37", "1.36"], indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request):
    watcher = request.config.pluginmanager.get_plugin(WATCHER)
    watcher.record(request.param, image="{IMAGE}", kind="{KIND}")
    watcher.record(request.param, cluster="cniqs-" + request.param.replace(".", "-") + "-a1b2c3")
    return request.param
"""

TESTS = """
import pytest

from e2e.plugins.versions_report import Check
from e2e.support import observe


def test_views(backend, request):
    fake = ["192.0.2.0"] if backend == "1.37" else ["10.244.1.3"]
    observe(request, views={"status.podIPs": fake, "kubectl describe": fake, "crictl inspectp": fake})


def test_real(backend, request):
    observe(request, real=["10.244.1.3/24"])


def test_outside(backend, request):
    checks = [Check("ping 172.18.0.1", True), Check("resolve kubernetes.io", True)]
    if backend == "1.36":
        checks.append(Check("fetch https://kubernetes.io/", False, "exit 1: wget: bad address 'kubernetes.io'"))
    observe(request, checks=checks)
    assert all(c.ok for c in checks)


def test_skipped(backend):
    pytest.skip("not on this version")
"""

WANT = f"""### cni-quickstart on kind, Kubernetes 1.37: ok

| | |
|---|---|
| tests | 3 passed, 0 failed, 1 skipped |
| kind | {KIND} |
| node image | `{IMAGE}` |
| cluster | cniqs-1-37-a1b2c3 |
| the pod really has (`ip a s eth0`) | 10.244.1.3/24 |
| reported: status.podIPs | 192.0.2.0 (not eth0's) |
| reported: kubectl describe | 192.0.2.0 (not eth0's) |
| reported: crictl inspectp | 192.0.2.0 (not eth0's) |
| connectivity: ping 172.18.0.1 | ok |
| connectivity: resolve kubernetes.io | ok |

### cni-quickstart on kind, Kubernetes 1.36: FAILED

| | |
|---|---|
| tests | 2 passed, 1 failed, 1 skipped |
| kind | {KIND} |
| node image | `{IMAGE}` |
| cluster | cniqs-1-36-a1b2c3 |
| the pod really has (`ip a s eth0`) | 10.244.1.3/24 |
| reported: status.podIPs | 10.244.1.3 (= eth0) |
| reported: kubectl describe | 10.244.1.3 (= eth0) |
| reported: crictl inspectp | 10.244.1.3 (= eth0) |
| connectivity: ping 172.18.0.1 | ok |
| connectivity: resolve kubernetes.io | ok |
| connectivity: fetch https://kubernetes.io/ | FAILED: exit 1: wget: bad address 'kubernetes.io' |
"""


def test_a_run_writes_its_tables_to_the_job_summary_and_the_terminal(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_run.py").write_text(textwrap.dedent(TESTS))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")  # GitHub's file holds what earlier steps wrote: append, never replace
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(GITHUB_STEP_SUMMARY=str(summary), PYTHONPATH=os.pathsep.join(map(str, [REPO, REPO / "scripts"])))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]  # 1.36's failed check fails the run
    assert summary.read_text() == "earlier step\n" + WANT + "\n"
    assert WANT.strip() in proc.stdout, proc.stdout[-3000:]


def test_a_version_without_recorded_views_says_so() -> None:
    from e2e.plugins.versions_report import VersionRun, markdown

    run = VersionRun("1.35", image=IMAGE)
    run.outcomes.update(passed=1)
    text = markdown({"1.35": run}, "kube")
    assert text.splitlines()[0] == "### cni-quickstart on kube, Kubernetes 1.35: ok"
    assert "| the pod really has (`ip a s eth0`) | not recorded |" in text
    assert "| tests | 1 passed, 0 failed, 0 skipped |" in text
