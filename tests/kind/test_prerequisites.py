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


def docker(info_rc: int = 0, stderr: str = ""):  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []

    def run(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        calls.append(list(argv))
        assert argv[:2] == ["docker", "info"], argv
        return Completed(list(argv), info_rc, "", stderr if info_rc else "")

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_everything_present() -> None:
    run = docker()
    assert options.tool_problems(which_of(ALL), run, {}) == []
    # no buildx: the node executable's build asks for it only when this host cannot build for the nodes
    assert run.calls == [["docker", "info", "--format", "{{.ServerVersion}}"]]  # type: ignore[attr-defined]


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
        "--registry-mirror": "",
        "--kind-dns-zone": "",
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
    # --registry-mirror is named for what it is, not for kind: the only other one
    assert all(n in ("--k8s-version", "--registry-mirror") or n.startswith("--kind-") for n in names)
    assert "--registry-mirror" in names and "--kind-dns-zone" in names


def test_get_from_knows_every_option() -> None:
    get = get_from({})
    for option in options.OPTIONS:
        assert get(option.flag) == (option.default if option.action is None else False), option.flag


@pytest.mark.parametrize(
    ("mirror", "problem"),
    [
        ("http://127.0.0.1:5000", "inside the kind nodes that address is the node itself"),
        ("localhost:5000", "inside the kind nodes that address is the node itself"),
        ("http://[::1]:5000", "inside the kind nodes that address is the node itself"),
        ("ftp://registry.example", "give HOST[:PORT]"),
        ("registry.example/path", "give HOST[:PORT]"),
    ],
)
def test_a_mirror_the_nodes_cannot_reach_is_a_problem(mirror: str, problem: str) -> None:
    opts = options.read_options(get_from({"--registry-mirror": mirror}))
    assert opts.mirror == mirror
    (found,) = options.option_problems(opts, versions=1)
    assert problem in found


@pytest.mark.parametrize("mirror", ["http://198.18.77.2:5000", "registry.example", "https://10.0.0.5:5443/"])
def test_a_mirror_the_nodes_reach_is_fine(mirror: str) -> None:
    assert options.option_problems(options.read_options(get_from({"--registry-mirror": mirror})), versions=1) == []


@pytest.mark.parametrize(
    ("zone", "problem"),
    [
        ("corp.example", "give ZONE=SERVER"),
        ("=10.0.0.53", "give ZONE=SERVER"),
        ("corp.example=", "give ZONE=SERVER"),
        ("corp.example=nameserver", "nameserver"),
        ("bad zone=10.0.0.53", "not a DNS zone"),
    ],
)
def test_a_bad_dns_zone_is_a_problem(zone: str, problem: str) -> None:
    opts = options.read_options(get_from({"--kind-dns-zone": zone}))
    (found,) = options.option_problems(opts, versions=1)
    assert problem in found


def test_a_dns_zone_is_fine() -> None:
    opts = options.read_options(get_from({"--kind-dns-zone": "corp.example=10.0.0.53,10.0.0.54"}))
    assert opts.dns_zone == "corp.example=10.0.0.53,10.0.0.54"
    assert options.option_problems(opts, versions=1) == []


# --- defaults from the environment (Option.env) ---------------------------------------------------------------


def test_option_initial_is_the_environment_when_set() -> None:
    from cniqs.provider import Option

    plain = Option("--x", "x", default="d")
    assert plain.initial({}) == "d"
    assert plain.initial({"": "ignored", "X": "ignored"}) == "d"
    named = Option("--x", "x", default="d", env="CNIQS_X")
    assert named.initial({}) == "d"
    assert named.initial({"CNIQS_X": ""}) == "d"  # set but empty: the default
    assert named.initial({"CNIQS_X": "from-env"}) == "from-env"
    counted = Option("--n", "n", default=1, type=int, env="CNIQS_N")
    assert counted.initial({"CNIQS_N": "3"}) == 3  # converted as the option converts
    with pytest.raises(ValueError):
        counted.initial({"CNIQS_N": "three"})


def test_option_initial_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    (mirror_option,) = [o for o in options.OPTIONS if o.flag == "--registry-mirror"]
    assert mirror_option.env == "CNIQS_REGISTRY_MIRROR"
    monkeypatch.delenv("CNIQS_REGISTRY_MIRROR", raising=False)
    assert mirror_option.initial() == ""
    monkeypatch.setenv("CNIQS_REGISTRY_MIRROR", "http://198.18.77.2:5000")
    assert mirror_option.initial() == "http://198.18.77.2:5000"


def test_the_pytest_options_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNIQS_REGISTRY_MIRROR", "http://198.18.77.2:5000")
    monkeypatch.setenv("CNIQS_KIND_DNS_ZONE", "cniqs.test=198.18.77.2")
    monkeypatch.delenv("CNIQS_KIND_EGRESS", raising=False)
    seen: dict[str, dict[str, object]] = {}

    class Group:
        def addoption(self, name: str, **kwargs: object) -> None:
            seen[name] = kwargs

    add_options(Group(), KindProvider())
    assert seen["--registry-mirror"]["default"] == "http://198.18.77.2:5000"
    assert seen["--kind-dns-zone"]["default"] == "cniqs.test=198.18.77.2"
    assert seen["--kind-egress"]["default"] == "internet"
