"""The e2e suite under pytest-xdist (e2e.plugins.parallel): which group each test runs in, and the workers'
reports reaching the controller's terminal and the job summary (a real `pytest -n 2` of a small suite)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from e2e.plugins.parallel import OWN_CLUSTERS, SESSION, group_of, start_order
from tests.kind.test_summary import CONFTEST, TESTS, WANT

REPO = Path(__file__).resolve().parents[2]


def test_a_variants_tests_are_one_group_and_each_own_cluster_module_its_own() -> None:
    assert group_of("e2e/test_beliefs.py::test_each_place_holds_the_fake[1.37-the API: status.podIP]") == (
        "Kubernetes 1.37"
    )
    assert group_of("e2e/test_variants.py::test_each_cni_version_reports_the_fake_ip[1.37-cniVersion-0.3.1]") == (
        "Kubernetes 1.37"
    )
    assert group_of("e2e/test_uninstall.py::test_after_uninstall[1.36]") == "Kubernetes 1.36"
    assert group_of("e2e/test_workshop.py::test_the_workshop_steps_run_as_written") == "e2e/test_workshop.py"
    assert group_of("e2e/test_cli_kind.py::test_two_clusters_at_once[x]") == "e2e/test_cli_kind.py"
    # the local provider has no variants: its session is one group, whatever else parametrizes a test
    assert group_of("e2e/test_reported_ip.py::test_the_pod_reaches_the_outside") == SESSION
    assert group_of("e2e/test_variants.py::test_each_cni_version_reports_the_fake_ip[cniVersion-0.3.1]") == SESSION


def test_workers_take_the_variants_first_then_the_workshops_one_cluster_before_the_cli_pair() -> None:
    queue = ["Kubernetes 1.37", "e2e/test_cli_kind.py", "Kubernetes 1.36", "e2e/test_workshop.py", SESSION]
    assert start_order(queue) == [
        "Kubernetes 1.37", "Kubernetes 1.36", SESSION, "e2e/test_workshop.py", "e2e/test_cli_kind.py",
    ]  # fmt: skip


def test_no_test_of_a_module_with_its_own_clusters_asks_for_the_sessions_cluster() -> None:
    for module in OWN_CLUSTERS:
        text = (REPO / module).read_text()
        signatures = re.findall(r"^def test_\w+\(([^)]*)\)", text, re.M | re.S)
        assert signatures, module
        assert not [s for s in signatures if re.search(r"\bbackend\b", s)], module


def test_the_workers_reports_reach_the_terminal_and_the_job_summary(tmp_path: Path) -> None:
    """Each version's tests on a worker of their own; each version's table printed by the controller and
    appended to the job summary, as a run without xdist prints them."""
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_run.py").write_text(textwrap.dedent(TESTS))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(GITHUB_STEP_SUMMARY=str(summary), PYTHONPATH=os.pathsep.join(map(str, [REPO, REPO / "scripts"])))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "e2e.plugins.parallel", "-n", "2", "-v",
         "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]  # 1.36's failed check fails the run
    workers = {v: set(re.findall(rf"\[(gw\d)\] .*\[{re.escape(v)}\]", proc.stdout)) for v in ("1.37", "1.36")}
    assert all(len(w) == 1 for w in workers.values()) and workers["1.37"] != workers["1.36"], workers
    # one section with both versions in their order, as without xdist
    assert summary.read_text() == "earlier step\n" + WANT + "\n"
    assert WANT.strip() in proc.stdout, proc.stdout[-3000:]
    assert proc.stdout.count("cni-quickstart on kind, per Kubernetes version") == 1, proc.stdout[-3000:]


def test_the_load_tests_run_after_the_others_which_keep_their_order(tmp_path: Path) -> None:
    """Within each variant's group: the variants stay apart, so that each one's cluster comes up once."""
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent("""\
        import pytest

        @pytest.fixture(scope="session", params=["1.37", "1.36"])
        def backend(request):
            return request.param
    """)
    )
    (tmp_path / "test_a_load.py").write_text(
        "import pytest\npytestmark = pytest.mark.load\ndef test_many(backend): pass\n"
    )
    (tmp_path / "test_b.py").write_text("def test_second(backend): pass\ndef test_first(backend): pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    load: many pods\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(PYTHONPATH=os.pathsep.join(map(str, [REPO, REPO / "scripts"])))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "e2e.plugins.parallel", "--collect-only",
         "-q", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line for line in proc.stdout.splitlines() if "::" in line] == [
        "test_b.py::test_second[1.37]", "test_b.py::test_first[1.37]", "test_a_load.py::test_many[1.37]",
        "test_b.py::test_second[1.36]", "test_b.py::test_first[1.36]", "test_a_load.py::test_many[1.36]",
    ]  # fmt: skip
