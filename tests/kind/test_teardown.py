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
