"""kind on docker or podman: which engine, its command lines, its prerequisites (podman's networks need DNS),
the kubelet patch for cgroup v1 hosts. Nothing here runs an engine or kind."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from cniqs.common.run import Completed
from cniqs.providers.kind import cluster, commands, options


def which_of(found: dict[str, str]):  # type: ignore[no-untyped-def]
    return found.get


@pytest.mark.parametrize(
    ("env", "found", "engine"),
    [
        ({}, {"docker": "/d", "podman": "/p"}, "docker"),
        ({}, {"podman": "/p"}, "podman"),
        ({}, {}, "docker"),
        ({"KIND_EXPERIMENTAL_PROVIDER": "podman"}, {"docker": "/d", "podman": "/p"}, "podman"),
        ({"KIND_EXPERIMENTAL_PROVIDER": "docker"}, {"podman": "/p"}, "docker"),
        ({"KIND_EXPERIMENTAL_PROVIDER": "nerdctl"}, {"docker": "/d"}, "docker"),
    ],
)
def test_engine_follows_kind(env: dict[str, str], found: dict[str, str], engine: str) -> None:
    assert commands.engine(env, which_of(found)) == engine


def test_podman_access_is_docker_access_with_podman() -> None:
    access = commands.access("podman")
    assert access.exec_argv("n1", ["crictl", "ps"], stdin=True, env={"A": "1"}) == [
        "podman", "exec", "-i", "-e", "A=1", "n1", "crictl", "ps",
    ]  # fmt: skip
    assert access.copy_argv("/tmp/x", "n1", "/opt/x") == ["podman", "cp", "/tmp/x", "n1:/opt/x"]
    assert commands.access("docker") is commands.DOCKER
    assert commands.access("docker").exec_argv("n1", ["true"]) == ["docker", "exec", "n1", "true"]


def test_pull_command_lines() -> None:
    assert commands.pull("docker", "r:5000/kindest/node:v1.34.0") == [
        "docker", "pull", "--quiet", "r:5000/kindest/node:v1.34.0",
    ]  # fmt: skip
    # docker reads its insecure registries from the daemon's configuration; podman is told per pull
    assert commands.pull("docker", "r:5000/x:1", insecure=True) == ["docker", "pull", "--quiet", "r:5000/x:1"]
    assert commands.pull("podman", "r:5000/x:1", insecure=True) == [
        "podman", "pull", "--quiet", "--tls-verify=false", "r:5000/x:1",
    ]  # fmt: skip
    assert commands.pull("podman", "r:5000/x:1") == ["podman", "pull", "--quiet", "r:5000/x:1"]
    assert commands.podman_network_backend() == ["podman", "info", "--format", "{{.Host.NetworkBackend}}"]


def test_kind_binary_prefers_the_environment() -> None:
    assert commands.kind_binary({"CNIQS_KIND": "/a/kind", "KIND": "/b/kind"}) == "/a/kind"
    assert commands.kind_binary({"KIND": "/b/kind"}) == "/b/kind"
    assert commands.kind_binary({"CNIQS_KIND": "", "KIND": ""}) == "kind"
    assert commands.kind_binary({}) == "kind"


# --- prerequisites on podman -------------------------------------------------------------------------------


class Podman:
    """`podman info --format {{.Host.NetworkBackend}}` answering backend (rc 0), or failing."""

    def __init__(self, backend: str = "netavark", rc: int = 0, stderr: str = "") -> None:
        self.backend, self.rc, self.stderr = backend, rc, stderr
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        self.calls.append(list(argv))
        return Completed(list(argv), self.rc, f"{self.backend}\n" if self.rc == 0 else "", self.stderr)


PODMAN_ENV = {"KIND_EXPERIMENTAL_PROVIDER": "podman"}
PODMAN_TOOLS = {"kind": "/usr/local/bin/kind", "podman": "/usr/bin/podman", "kubectl": "/usr/bin/kubectl"}


@pytest.fixture
def aardvark(tmp_path: Path) -> tuple[Path, ...]:
    found = tmp_path / "libexec" / "aardvark-dns"
    found.parent.mkdir()
    found.write_text("")
    return (tmp_path / "lib" / "aardvark-dns", found)


def test_podman_with_netavark_and_aardvark_needs_neither_docker_nor_buildx(aardvark: tuple[Path, ...]) -> None:
    run = Podman()
    assert options.tool_problems(which_of(PODMAN_TOOLS), run, PODMAN_ENV, aardvark) == []
    assert run.calls == [commands.podman_network_backend()]


def test_podman_with_the_cni_backend_has_no_dns_on_its_networks(aardvark: tuple[Path, ...]) -> None:
    (problem,) = options.tool_problems(which_of(PODMAN_TOOLS), Podman("cni"), PODMAN_ENV, aardvark)
    assert "podman's networks have no DNS" in problem
    assert "network backend cni" in problem and "aardvark-dns found" in problem
    assert "netavark" in problem and "apt-get install" in problem


def test_podman_without_aardvark_has_no_dns_on_its_networks(tmp_path: Path) -> None:
    missing = (tmp_path / "a" / "aardvark-dns", tmp_path / "b" / "aardvark-dns")
    (problem,) = options.tool_problems(which_of(PODMAN_TOOLS), Podman(), PODMAN_ENV, missing)
    assert "podman's networks have no DNS" in problem
    assert "network backend netavark" in problem and "aardvark-dns missing" in problem


def test_podman_not_answering(aardvark: tuple[Path, ...]) -> None:
    run = Podman(rc=125, stderr="Error: cannot connect\n")
    (problem,) = options.tool_problems(which_of(PODMAN_TOOLS), run, PODMAN_ENV, aardvark)
    assert "podman does not answer" in problem and "cannot connect" in problem


@pytest.mark.parametrize("tool", ["kind", "kubectl", "podman"])
def test_podman_needs_kind_kubectl_and_podman_on_path(tool: str, aardvark: tuple[Path, ...]) -> None:
    found = {k: v for k, v in PODMAN_TOOLS.items() if k != tool}
    run = Podman()
    (problem,) = options.tool_problems(which_of(found), run, PODMAN_ENV, aardvark)
    assert problem.startswith(f"{tool} not found")
    if tool == "podman":
        assert run.calls == []  # nothing asked of a podman that is not there


# --- the kubelet on a cgroup v1 host ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "v1", "patched"),
    [("1.34", True, False), ("1.35", True, True), ("1.36", True, True), ("1.35", False, False), ("1.9", True, False)],
)
def test_kubelet_told_to_run_on_cgroup_v1_from_1_35(minor: str, v1: bool, patched: bool) -> None:
    patches = cluster.kubeadm_patches(minor, v1)
    assert bool(patches) == patched
    if patched:
        (patch,) = patches
        assert yaml.safe_load(patch) == {"kind": "KubeletConfiguration", "failCgroupV1": False}
        config = cluster.kind_config(1, "ipv4", patches)
        assert config["kubeadmConfigPatches"] == patches
        assert yaml.safe_load(cluster.render_config(config))["kubeadmConfigPatches"] == patches


def test_cgroup_v1_is_read_from_the_cgroup_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cluster.cgroup_v1(tmp_path) is True
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    assert cluster.cgroup_v1(tmp_path) is False
    monkeypatch.setattr(cluster, "cgroup_v1", lambda: True)
    assert cluster.kubeadm_patches("1.35") != []  # v1 None: the host is asked
    monkeypatch.setattr(cluster, "cgroup_v1", lambda: False)
    assert cluster.kubeadm_patches("1.35") == []


def test_containerd_patches_go_to_kinds_config() -> None:
    from cniqs.providers.kind import mirror

    config = cluster.kind_config(1, "ipv4", containerd_patches=[mirror.CONTAINERD_PATCH])
    assert config["containerdConfigPatches"] == [mirror.CONTAINERD_PATCH]
    assert yaml.safe_load(cluster.render_config(config))["containerdConfigPatches"] == [mirror.CONTAINERD_PATCH]
    assert "containerdConfigPatches" not in cluster.kind_config(1, "ipv4")
