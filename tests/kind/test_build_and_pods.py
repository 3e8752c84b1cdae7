from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from cniqs.common.run import Completed
from cniqs.install import executable
from cniqs.providers.cluster import diagnostics, pods
from cniqs.providers.kind import diagnostics as kind_diagnostics
from cniqs.providers.kind import nodebuild
from cniqs.providers.kind.commands import DOCKER
from e2e.plugins import versions_report as report


def test_cache_key_depends_on_sources_and_arch(tmp_path: Path) -> None:
    extra = tmp_path / "Dockerfile"
    extra.write_text("FROM x\n")
    amd = nodebuild.cache_key("amd64", "d1", (extra,))
    assert amd.endswith("-linux-amd64")
    assert nodebuild.cache_key("arm64", "d1", (extra,)) != amd
    assert nodebuild.cache_key("amd64", "d2", (extra,)) != amd
    extra.write_text("FROM y\n")
    assert nodebuild.cache_key("amd64", "d1", (extra,)) != amd
    assert nodebuild.cache_key("amd64").endswith("-linux-amd64")  # the real sources


def fake_buildx(calls: list[list[str]]):  # type: ignore[no-untyped-def]
    def run(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        calls.append(list(argv))
        dest = Path(argv[argv.index("--output") + 1].split("dest=", 1)[1])
        (dest / "cni-quickstart" / "_internal").mkdir(parents=True)
        (dest / "cni-quickstart" / "cni-quickstart").write_bytes(b"exe")
        return Completed(list(argv), 0, "", "")

    return run


def test_build_runs_once_then_reuses_the_cache(tmp_path: Path) -> None:
    calls: list[list[str]] = []
    run = fake_buildx(calls)
    folder = nodebuild.build(run, "arm64", root=tmp_path)
    assert folder == tmp_path / "container-linux-arm64" / "cni-quickstart"
    assert calls[0][:5] == ["docker", "buildx", "build", "--platform", "linux/arm64"]
    assert nodebuild.build(run, "arm64", root=tmp_path) == folder
    assert len(calls) == 1
    nodebuild.build(run, "arm64", root=tmp_path, force=True)
    assert len(calls) == 2
    (folder.parent / nodebuild.STAMP).write_text("stale\n")
    nodebuild.build(run, "arm64", root=tmp_path)
    assert len(calls) == 3


def test_a_failed_build_names_the_platform(tmp_path: Path) -> None:
    def run(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        return Completed(list(argv), 1, "", "ERROR: failed to solve")

    with pytest.raises(Exception, match="container build of the plugin for linux/amd64.*failed to solve"):
        nodebuild.build(run, "amd64", root=tmp_path)


def test_manifest(tmp_path: Path) -> None:
    (tmp_path / "_internal").mkdir()
    (tmp_path / "cni-quickstart").write_bytes(b"a")
    (tmp_path / "_internal" / "b").write_bytes(b"b")
    (tmp_path / "link").symlink_to("cni-quickstart")
    got = executable.manifest(tmp_path)
    assert sorted(got) == ["_internal/b", "cni-quickstart"]
    assert got["cni-quickstart"] == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"


def test_pod_manifest() -> None:
    plain = pods.pod_manifest("a", "ns", "alpine:3.20", ["sleep", "infinity"])
    assert plain["metadata"] == {
        "name": "a",
        "namespace": "ns",
        "labels": {pods.TEST_LABEL: "cniqs-e2e", "cniqs/pod": "a"},
    }
    downward = [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    assert plain["spec"]["containers"] == [
        {"name": "main", "image": "alpine:3.20", "command": ["sleep", "infinity"], "env": downward}
    ]
    assert "nodeSelector" not in plain["spec"]
    keys = {t["key"] for t in plain["spec"]["tolerations"]}
    assert "node-role.kubernetes.io/control-plane" in keys
    pinned = pods.pod_manifest("b", "ns", "alpine", ("ip", "a"), node="kind-worker")
    assert pinned["spec"]["nodeSelector"] == {"kubernetes.io/hostname": "kind-worker"}
    svc = pods.service_manifest("s", "ns", "b")
    assert svc["spec"]["selector"] == {"cniqs/pod": "b"}


def cond(type_: str, status: str) -> NS:
    return NS(type=type_, status=status)


def test_pod_state() -> None:
    ready = NS(status=NS(phase="Running", conditions=[cond("Ready", "True")], container_statuses=[]))
    assert pods.pod_state(ready) == (True, "Ready")
    done = NS(status=NS(phase="Succeeded", conditions=[], container_statuses=[]))
    assert pods.pod_state(done) == (True, "Succeeded")
    waiting = NS(
        status=NS(
            phase="Pending",
            conditions=[cond("Ready", "False")],
            container_statuses=[NS(name="main", state=NS(waiting=NS(reason="ContainerCreating", message=None)))],
        )
    )
    assert pods.pod_state(waiting) == (False, "Pending (main: ContainerCreating)")


def test_status_ips_and_node_cidrs() -> None:
    pod = NS(status=NS(pod_i_ps=[NS(ip="192.0.2.0"), NS(ip="2001:db8::")], pod_ip="192.0.2.0"))
    assert pods.status_ips(pod) == ["192.0.2.0", "2001:db8::"]
    assert pods.status_ips(NS(status=NS(pod_i_ps=None, pod_ip="10.244.1.5"))) == ["10.244.1.5"]
    assert pods.status_ips(NS(status=NS(pod_i_ps=None, pod_ip=None))) == []
    node = NS(spec=NS(pod_cid_rs=["10.244.1.0/24", "fd00:10:244:1::/64"], pod_cidr="10.244.1.0/24"))
    assert pods.node_cidrs(node) == [ipaddress.ip_network("10.244.1.0/24"), ipaddress.ip_network("fd00:10:244:1::/64")]
    assert pods.node_cidrs(NS(spec=NS(pod_cid_rs=None, pod_cidr="10.244.2.0/24"))) == [
        ipaddress.ip_network("10.244.2.0/24")
    ]
    assert pods.node_ready(NS(status=NS(conditions=[cond("Ready", "True")])))
    assert not pods.node_ready(NS(status=NS(conditions=None)))


def test_endpoint_slice_addresses() -> None:
    slices = NS(items=[NS(endpoints=[NS(addresses=["192.0.2.0"])]), NS(endpoints=None)])
    assert pods.endpoint_slice_addresses(slices) == ["192.0.2.0"]


def test_diagnostics_commands_and_slug(tmp_path: Path) -> None:
    assert diagnostics.slug("e2e/test_x.py::test_y[1.35]") == "e2e_test_x.py_test_y_1.35_"
    node = diagnostics.node_commands(DOCKER, "kind-worker", "/var/log/cni-quickstart.log")
    assert node["kind-worker/crictl-info.json"] == ["docker", "exec", "kind-worker", "crictl", "info"]
    assert node["kind-worker/plugin-log.jsonl"][-1] == "/var/log/cni-quickstart.log"
    calls: list[list[str]] = []

    def run(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        calls.append(list(argv))
        return Completed(list(argv), 0 if "info" in argv else 1, "out", "boom")

    dest = kind_diagnostics.collect(
        run, tmp_path / "a", kubeconfig="/kc", namespace="ns", nodes=["n1"], log_file="/l", kind="kind", cluster="c"
    )
    assert (dest / "n1" / "crictl-info.json").read_text() == "out"
    assert "exited 1" in (dest / "kubectl-events.txt").read_text()
    assert calls[-1] == ["kind", "export", "logs", str(dest / "kind-logs"), "--name", "c"]
    assert (dest / "kind-export-logs.err").read_text() == "boom"


def test_outcomes_and_summary() -> None:
    def rep(when: str, outcome: str) -> NS:
        return NS(when=when, passed=outcome == "passed", failed=outcome == "failed", skipped=outcome == "skipped")

    assert report.outcome(rep("call", "passed")) == "passed"
    assert report.outcome(rep("call", "failed")) == "failed"
    assert report.outcome(rep("setup", "failed")) == "error"
    assert report.outcome(rep("setup", "skipped")) == "skipped"
    assert report.outcome(rep("setup", "passed")) is None
    assert report.outcome(rep("teardown", "failed")) == "error"
    ok = report.VersionRun("1.35", image="kindest/node:v1.35.0@sha256:x", cluster="cniqs-1-35-aaaaaa")
    ok.outcomes.update(passed=12, skipped=1)
    bad = report.VersionRun("1.34", artifacts=Path("/a/cniqs-1-34-bbbbbb"))
    bad.outcomes.update(passed=10, failed=2)
    lines = report.summary_lines({"1.35": ok, "1.34": bad})
    assert lines[0] == "Kubernetes 1.35: ok: 12 passed, 1 skipped [kindest/node:v1.35.0@sha256:x]"
    assert lines[1] == "    cluster: cniqs-1-35-aaaaaa"
    assert lines[2] == "Kubernetes 1.34: FAILED: 2 failed, 10 passed"
    assert lines[3] == "    diagnostics: /a/cniqs-1-34-bbbbbb"
    assert report.summary_lines({"1.33": report.VersionRun("1.33")}) == ["Kubernetes 1.33: not run: no tests ran"]
    skipped = report.VersionRun("1.32")
    skipped.outcomes.update(skipped=22)
    assert report.summary_lines({"1.32": skipped}) == ["Kubernetes 1.32: skipped: 22 skipped"]


def test_default_node_is_the_first_worker() -> None:
    def node(name: str, control: bool = False) -> NS:
        labels = {"node-role.kubernetes.io/control-plane": ""} if control else {"kubernetes.io/hostname": name}
        return NS(metadata=NS(name=name, labels=labels))

    nodes = [node("c-worker2"), node("c-control-plane", control=True), node("c-worker")]
    assert pods.default_node(nodes) == "c-worker"
    assert pods.default_node([node("solo-control-plane", control=True)]) == "solo-control-plane"
    assert pods.default_node([]) is None
