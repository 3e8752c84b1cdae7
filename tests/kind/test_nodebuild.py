"""Which build of the node executable serves the kind nodes (cniqs.providers.kind.nodebuild): decided by the
host (platform, architecture, glibc), never by the engine. Nothing here builds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from cniqs.common.run import Completed
from cniqs.providers.kind import commands, nodebuild, versions

FLOOR = versions.NODE_GLIBC


@pytest.mark.parametrize(
    ("arch", "platform", "glibc", "machine", "problem"),
    [
        ("amd64", "linux", FLOOR, "amd64", None),
        ("amd64", "linux", "2.31", "amd64", None),
        ("arm64", "linux", FLOOR, "arm64", None),
        ("amd64", "darwin", FLOOR, "amd64", "this host is darwin, the nodes are Linux"),
        ("arm64", "darwin", None, "arm64", "this host is darwin, the nodes are Linux"),
        ("arm64", "linux", FLOOR, "amd64", "this host is amd64, the nodes are arm64"),
        ("amd64", "linux", "2.41", "amd64", f"this host's glibc 2.41 is newer than the nodes' floor {FLOOR}"),
        ("amd64", "linux", "2.100", "amd64", f"this host's glibc 2.100 is newer than the nodes' floor {FLOOR}"),
    ],
)
def test_native_problem(arch: str, platform: str, glibc: str | None, machine: str, problem: str | None) -> None:
    assert nodebuild.native_problem(arch, platform, glibc, machine) == problem


def test_a_linux_host_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nodebuild, "host_glibc", lambda: None)
    assert nodebuild.native_problem("amd64", "linux", None, "amd64") == "this host has no glibc"


def test_the_host_is_asked_when_not_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nodebuild, "host_glibc", lambda: "2.99")
    monkeypatch.setattr(nodebuild, "host_arch", lambda: "riscv64")
    assert nodebuild.native_problem("amd64", "linux") == "this host is riscv64, the nodes are amd64"
    assert (
        nodebuild.native_problem("riscv64", "linux") == f"this host's glibc 2.99 is newer than the nodes' floor {FLOOR}"
    )


class Buildx:
    def __init__(self, rc: int) -> None:
        self.rc = rc
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        self.calls.append(list(argv))
        assert list(argv) == commands.docker_buildx_version(), argv
        return Completed(list(argv), self.rc, "", "")


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    done: list[str] = []
    monkeypatch.setattr(nodebuild, "build_local", lambda force=False: done.append("native") or Path("/n"))
    monkeypatch.setattr(nodebuild, "build", lambda run, arch, force=False: done.append(f"buildx {arch}") or Path("/c"))
    return done


def test_a_host_that_serves_the_nodes_builds_natively(monkeypatch: pytest.MonkeyPatch, builds: list[str]) -> None:
    monkeypatch.setattr(nodebuild, "native_problem", lambda arch: None)
    run = Buildx(0)
    assert nodebuild.build_for_nodes(run, "amd64") == Path("/n")
    assert builds == ["native"] and run.calls == []  # buildx not even asked


@pytest.mark.parametrize(
    "problem", ["this host is darwin, the nodes are Linux", "this host's glibc 2.41 is newer than"]
)
def test_another_host_uses_buildx(monkeypatch: pytest.MonkeyPatch, builds: list[str], problem: str) -> None:
    monkeypatch.setattr(nodebuild, "native_problem", lambda arch: problem)
    assert nodebuild.build_for_nodes(Buildx(0), "arm64") == Path("/c")
    assert builds == ["buildx arm64"]


def test_a_newer_glibc_without_buildx_builds_natively(monkeypatch: pytest.MonkeyPatch, builds: list[str]) -> None:
    """The install then checks the executable's glibc against each node's."""
    monkeypatch.setattr(nodebuild, "native_problem", lambda arch: "this host's glibc 2.41 is newer than the floor")
    assert nodebuild.build_for_nodes(Buildx(1), "amd64") == Path("/n")
    assert builds == ["native"]


def test_no_build_serves_the_nodes_without_buildx(monkeypatch: pytest.MonkeyPatch, builds: list[str]) -> None:
    monkeypatch.setattr(nodebuild, "native_problem", lambda arch: "this host is darwin, the nodes are Linux")
    with pytest.raises(RuntimeError, match="cannot be built here: this host is darwin.*docker buildx .* is missing"):
        nodebuild.build_for_nodes(Buildx(1), "arm64")
    assert builds == []
