from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from cniqs.common.run import Completed
from cniqs.providers.kind import options
from cniqs.providers.kind.provider import KindProvider
from e2e.plugins.providers import add_options

ALL = {"kind": "/usr/local/bin/kind", "docker": "/usr/bin/docker", "kubectl": "/usr/bin/kubectl"}


def which_of(found: dict[str, str]):  # type: ignore[no-untyped-def]
    return found.get


def docker(info_rc: int = 0, buildx_rc: int = 0, stderr: str = ""):  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []

    def run(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        calls.append(list(argv))
        rc = info_rc if argv[1] == "info" else buildx_rc
        return Completed(list(argv), rc, "", stderr if rc else "")

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_everything_present() -> None:
    run = docker()
    assert options.tool_problems(which_of(ALL), run, {}) == []
    assert run.calls == [["docker", "info", "--format", "{{.ServerVersion}}"], ["docker", "buildx", "version"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("tool", ["kind", "kubectl", "docker"])
def test_each_missing_tool_is_named_with_how_to_get_it(tool: str) -> None:
    found = {k: v for k, v in ALL.items() if k != tool}
    (problem,) = options.tool_problems(which_of(found), docker(), {})
    assert problem.startswith(f"{tool} not found")
    assert "https://" in problem


def test_everything_missing() -> None:
    problems = options.tool_problems(which_of({}), docker(), {})
    assert [p.split()[0] for p in problems] == ["kind", "kubectl", "docker"]


def test_kind_from_the_environment() -> None:
    found = {**ALL, "/opt/kind-v0.31.0": "/opt/kind-v0.31.0"}
    assert options.tool_problems(which_of(found), docker(), {"KIND": "/opt/kind-v0.31.0"}) == []
    (problem,) = options.tool_problems(which_of(ALL), docker(), {"CNIQS_KIND": "/nowhere/kind"})
    assert "'/nowhere/kind' from $CNIQS_KIND" in problem


def test_daemon_not_answering() -> None:
    run = docker(info_rc=1, stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n")
    (problem,) = options.tool_problems(which_of(ALL), run, {})
    assert "Docker daemon does not answer" in problem
    assert "Cannot connect to the Docker daemon" in problem
    assert "DOCKER_HOST" in problem


def test_buildx_missing() -> None:
    (problem,) = options.tool_problems(which_of(ALL), docker(buildx_rc=1), {})
    assert problem.startswith("docker buildx is missing")


def get_from(values: dict[str, object]):  # type: ignore[no-untyped-def]
    defaults: dict[str, object] = {
        "--k8s-version": "",
        "--kind-cluster": "",
        "--kind-keep": False,
        "--kind-workers": 1,
        "--kind-ip-family": "ipv4",
        "--kind-artifacts": "artifacts/kind",
        "--kind-target-ip": options.DEFAULT_TARGET_IP,
        "--kind-target-name": options.DEFAULT_TARGET_NAME,
        "--kind-target-url": "",
        "--kind-egress": "internet",
        "--kind-pod-image": options.DEFAULT_POD_IMAGE,
        "--kind-rebuild": False,
    }
    merged = {**defaults, **values}
    return merged.__getitem__


def test_default_options() -> None:
    opts = options.read_options(get_from({}))
    assert opts.targets.ip == "1.1.1.1" and opts.targets.name == "kubernetes.io" and opts.targets.url is None
    assert opts.workers == 1 and not opts.keep and opts.reuse_cluster == ""
    assert opts.artifacts == Path("artifacts/kind")
    assert options.option_problems(opts, versions=1) == []


def test_targets_can_be_replaced_for_ci_without_internet() -> None:
    opts = options.read_options(
        get_from(
            {
                "--kind-target-ip": "172.18.0.1",
                "--kind-target-name": "kubernetes.default",
                "--kind-target-url": "http://x",
            }
        )
    )
    assert (opts.targets.ip, opts.targets.name, opts.targets.url) == ("172.18.0.1", "kubernetes.default", "http://x")


def test_option_problems() -> None:
    reuse = options.read_options(get_from({"--kind-cluster": "mine"}))
    assert "needs one --k8s-version" in options.option_problems(reuse, versions=4)[0]
    assert options.option_problems(reuse, versions=1) == []
    lonely = options.read_options(get_from({"--kind-workers": 0}))
    assert "at least 1" in options.option_problems(lonely, versions=1)[0]


def test_options_register_on_a_group() -> None:
    names: list[str] = []

    class Group:
        def addoption(self, name: str, **kwargs: object) -> None:
            names.append(name)

    add_options(Group(), KindProvider())
    assert "--k8s-version" in names and "--kind-cluster" in names and "--kind-keep" in names
    assert all(n == "--k8s-version" or n.startswith("--kind-") for n in names)
