"""What happens to a cluster at the end of a run: deleted, kept, or (reused) put back as it was."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cniqs.providers.kind import provider as kind_provider


@dataclass
class FakeCluster:
    created: bool
    name: str = "cniqs-1-35-abcdef"
    kind: str = "kind"
    kubeconfig: Path = Path("/tmp/x.kubeconfig")
    deleted: bool = False

    def delete(self, run: Any) -> None:
        self.deleted = True


@dataclass
class FakeBackend:
    calls: list[str] = field(default_factory=list)

    def uninstall(self) -> None:
        self.calls.append("uninstall")

    def use_base_chain(self, variant: Any) -> None:
        self.calls.append(f"use_base_chain({variant})")

    def delete_namespace(self) -> None:
        self.calls.append("delete_namespace")

    def close(self) -> None:
        self.calls.append("close")


def teardown(cluster: FakeCluster, backend: FakeBackend, keep: bool) -> list[str]:
    notes: list[str] = []
    kind_provider._teardown(cluster, backend, keep=keep, notes=notes)  # type: ignore[arg-type]
    return notes


def test_a_created_cluster_is_deleted() -> None:
    cluster, backend = FakeCluster(created=True), FakeBackend()
    assert teardown(cluster, backend, keep=False) == []
    assert cluster.deleted and backend.calls == ["close"]


def test_a_kept_cluster_stays_as_the_tests_left_it_and_says_how_to_delete_it() -> None:
    cluster, backend = FakeCluster(created=True), FakeBackend()
    (note,) = teardown(cluster, backend, keep=True)
    assert not cluster.deleted and backend.calls == ["close"]
    assert "kind delete cluster --name cniqs-1-35-abcdef --kubeconfig /tmp/x.kubeconfig" in note


def test_a_reused_cluster_is_put_back_and_never_deleted() -> None:
    for keep in (False, True):
        cluster, backend = FakeCluster(created=False), FakeBackend()
        assert teardown(cluster, backend, keep=keep) == []
        assert not cluster.deleted
        assert backend.calls == ["uninstall", "use_base_chain(None)", "delete_namespace", "close"]


def test_a_cluster_a_failed_create_deleted_is_not_deleted_again_nor_said_kept() -> None:
    for keep in (False, True):
        cluster, backend = FakeCluster(created=True, deleted=True), FakeBackend()
        cluster.delete = lambda run: (_ for _ in ()).throw(AssertionError("deleted twice"))  # type: ignore[method-assign]
        assert teardown(cluster, backend, keep=keep) == []
        assert backend.calls == ["close"]


def test_a_suite_run_whose_create_fails_keeps_the_nodes_logs_in_its_diagnostics_and_no_node(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The suite's diagnostics folder of a failed `kind create cluster` holds the nodes' logs (kind export logs
    of the retained nodes), not only kind-export-logs.err; the cluster is deleted once, kept or not."""
    import pytest

    from cniqs.common.run import Completed
    from cniqs.provider import RunOptions
    from cniqs.providers.kind import cluster as kind_cluster
    from cniqs.providers.kind import network, versions

    failure = (Path(__file__).parent / "data" / "kind-create-wait-control-plane.txt").read_text()
    for var in ("CNIQS_REGISTRY_MIRROR", "CNIQS_KIND", "KIND"):
        monkeypatch.delenv(var, raising=False)
    for keep in (False, True):
        nodes: set[str] = set()
        ran: list[str] = []

        def run(argv: Any, *, input: Any = None, timeout: Any = None) -> Completed:
            argv = list(argv)
            ran.append(" ".join(argv[1:3]))
            if argv == ["kind", "version"]:
                return Completed(argv, 0, f"kind {versions.KIND_VERSION} go1.26.2 linux/amd64\n", "")
            if argv[:3] == ["kind", "get", "clusters"]:
                return Completed(argv, 0, "".join(f"{n}\n" for n in nodes), "")
            if argv[:3] == ["kind", "create", "cluster"]:
                nodes.add(argv[argv.index("--name") + 1])
                return Completed(argv, 1, "", failure)
            if argv[:3] == ["kind", "export", "logs"]:
                assert nodes, "export after the nodes are gone"
                Path(argv[3]).mkdir(parents=True)
                return Completed(argv, 0, "", "")
            if argv[:3] == ["kind", "delete", "cluster"]:
                nodes.discard(argv[argv.index("--name") + 1])
                return Completed(argv, 0, "", "")
            raise AssertionError(f"unexpected command {argv}")

        said: list[str] = []
        monkeypatch.setattr(kind_provider, "run_process", run)
        monkeypatch.setattr(network, "network_marks", lambda: tmp_path / "marks")
        monkeypatch.setattr(network, "mark_if_new", lambda *a: False)
        monkeypatch.setattr(kind_provider.network, "leave_network", lambda run, engine, net: None)
        monkeypatch.setattr(kind_provider.commands, "engine", lambda *a, **k: "docker")
        monkeypatch.setattr(kind_provider, "_collect", lambda *a: pytest.fail("collected from a deleted cluster"))
        artifacts = tmp_path / f"artifacts-{keep}"
        options = RunOptions(
            {"--k8s-version": "1.37", "--kind-artifacts": str(artifacts), "--kind-keep": keep}, say=said.append
        )
        with pytest.raises(kind_cluster.CreateFailed, match="error execution phase wait-control-plane"):
            with kind_provider.KindProvider().open(options):
                pass
        assert ran[-3:] == ["create cluster", "export logs", "delete cluster"], ran
        assert not nodes
        (folder,) = artifacts.iterdir()
        assert (folder / "kind-logs").is_dir() and not (folder / "kind-export-logs.err").exists()
        assert any(f"diagnostics for Kubernetes 1.37 in {folder}" in text for text in said), said
