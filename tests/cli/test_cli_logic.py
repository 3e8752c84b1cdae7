"""Pure logic of the cniqs command line: provider choice, state file, argument and error lines, Debian packages."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from cniqs import providers
from cniqs.cli import debdeps, session, state
from cniqs.cli import main as cli
from cniqs.cli.console import Console, command_line, elapsed
from cniqs.cli.session import CliError, choose_provider
from cniqs.common.errors import NodeGone, Refused, WaitTimeout
from cniqs.provider import RunOptions
from cniqs.providers.kind import provider as kind_provider

# -- provider auto-selection -----------------------------------------------------------------------

ALL_TOOLS = {"kind": "/usr/local/bin/kind", "docker": "/usr/bin/docker"}


def which_from(tools: dict[str, str]):
    return lambda name: tools.get(name)


@pytest.mark.parametrize(
    ("tools", "docker_ok", "want", "why"),
    [
        (ALL_TOOLS, True, "kind", "Docker answers"),
        (ALL_TOOLS, False, "local", "does not answer"),
        ({"docker": "/usr/bin/docker"}, True, "local", "kind is not on PATH"),
        ({"kind": "/usr/local/bin/kind"}, True, "local", "docker is not on PATH"),
        ({}, False, "local", "kind is not on PATH"),
    ],
)
def test_auto_picks_kind_only_when_docker_answers_and_kind_is_there(
    tools: dict[str, str], docker_ok: bool, want: str, why: str
) -> None:
    backend, reason = choose_provider(None, {}, which_from(tools), lambda: docker_ok)
    assert backend == want and why in reason


def test_docker_is_not_asked_when_kind_is_missing() -> None:
    def docker_ok() -> bool:
        raise AssertionError("docker asked")

    assert choose_provider("auto", {}, which_from({"docker": "x"}), docker_ok)[0] == "local"


def test_kind_binary_from_the_environment_counts() -> None:
    tools = {"/opt/kind-v0.31": "/opt/kind-v0.31", "docker": "/usr/bin/docker"}
    assert choose_provider(None, {"CNIQS_KIND": "/opt/kind-v0.31"}, which_from(tools), lambda: True)[0] == "kind"


@pytest.mark.parametrize("requested", ["local", "kind"])
def test_provider_flag_wins_over_everything(requested: str) -> None:
    backend, why = choose_provider(requested, {"CNIQS_PROVIDER": "kind" if requested == "local" else "local"},
                                  which_from({}), lambda: False)  # fmt: skip
    assert (backend, why) == (requested, "chosen with --provider")


def test_environment_pins_the_provider_when_no_flag_is_given() -> None:
    assert choose_provider(None, {"CNIQS_PROVIDER": "local"}, which_from(ALL_TOOLS), lambda: True) == (
        "local",
        "chosen with $CNIQS_PROVIDER",
    )
    assert choose_provider("auto", {"CNIQS_PROVIDER": "auto"}, which_from(ALL_TOOLS), lambda: True)[0] == "kind"


def test_the_older_names_still_choose_the_provider() -> None:
    """Scripts written before the rename: $CNIQS_BACKEND and --backend."""
    assert choose_provider(None, {"CNIQS_BACKEND": "local"}, which_from(ALL_TOOLS), lambda: True) == (
        "local",
        "chosen with $CNIQS_BACKEND",
    )
    assert (
        choose_provider(None, {"CNIQS_PROVIDER": "kind", "CNIQS_BACKEND": "local"}, which_from({}), lambda: False)[0]
        == "kind"
    )
    for flag in ("--provider", "--backend"):
        assert cli.build_parser().parse_args(["demo", flag, "kube"]).provider == "kube"


def test_unknown_backend_in_the_environment_is_a_clear_error() -> None:
    with pytest.raises(CliError, match="unknown provider 'docker'"):
        choose_provider(None, {"CNIQS_PROVIDER": "docker"}, which_from({}), lambda: False)


# -- state file ------------------------------------------------------------------------------------


def test_state_dir_order() -> None:
    assert state.state_dir({"CNIQS_STATE_DIR": "/x", "XDG_RUNTIME_DIR": "/y"}, euid=0) == Path("/x")
    assert state.state_dir({"XDG_RUNTIME_DIR": "/run/user/1000"}, euid=0) == Path("/run/cniqs")
    assert state.state_dir({"XDG_RUNTIME_DIR": "/run/user/1000"}, euid=1000) == Path("/run/user/1000/cniqs")
    assert state.state_dir({}, euid=1000).name == "cniqs-1000"


def test_state_round_trip_and_clear(tmp_path: Path) -> None:
    assert state.load(tmp_path) is None
    saved = state.State("local", "1a2b3c4d", root="/tmp/cniqs-node-x/cniqs-1a2b3c4d-y", image="img:1")
    file = state.save(saved, tmp_path / "sub")
    assert file == tmp_path / "sub" / state.FILE_NAME
    assert state.load(tmp_path / "sub") == saved
    assert not list((tmp_path / "sub").glob(".*.tmp")), "no temp file left"
    state.clear(tmp_path / "sub")
    assert state.load(tmp_path / "sub") is None
    state.clear(tmp_path / "sub")  # idempotent


@pytest.mark.parametrize("key", ["provider", "backend"])  # backend: the key a cniqs before the rename wrote
def test_state_ignores_unknown_keys_from_newer_versions(tmp_path: Path, key: str) -> None:
    (tmp_path / state.FILE_NAME).write_text(json.dumps({key: "kind", "id": "cniqs", "future": 1}))
    loaded = state.load(tmp_path)
    assert loaded is not None and loaded.provider == "kind" and "kind cluster cniqs" in session.describe(loaded)


def test_the_state_file_says_provider(tmp_path: Path) -> None:
    file = state.save(state.State("kind", "cniqs", kubeconfig="/k"), tmp_path)
    assert json.loads(file.read_text())["provider"] == "kind" and "backend" not in json.loads(file.read_text())


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        '{"provider": "docker", "id": "x"}',
        '{"backend": "docker", "id": "x"}',
        '{"provider": "local"}',
    ],
)
def test_a_broken_state_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    (tmp_path / state.FILE_NAME).write_text(text)
    with pytest.raises(state.StateError, match="remove it if nothing is running"):
        state.load(tmp_path)


# -- argument and error lines ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["reveal"], "the following arguments are required: POD"),
        (["demo", "--provider", "docker"], "invalid choice: 'docker'"),
        (["install", "--mode", "random"], "invalid choice: 'random'"),
        (["down", "--force"], "unrecognized arguments: --force"),
    ],
)
def test_argument_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("cniqs: error: ") and needle in err and "--help" in err


def test_verbose_is_accepted_before_and_after_the_command() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["-v", "down"]).verbose is True
    assert parser.parse_args(["down", "-v"]).verbose is True
    assert parser.parse_args(["down"]).verbose is False


@pytest.mark.parametrize("command", [["install"], ["uninstall"], ["run", "test"], ["reveal", "test"], ["status"]])
def test_commands_that_need_a_node_say_so_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    monkeypatch.setenv("CNIQS_STATE_DIR", str(tmp_path))
    assert cli.main(command) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "cniqs: error: nothing is up: run `cniqs up` first (or `cniqs demo` for the whole demo)"
    ]


def test_down_with_nothing_up_is_fine(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:  # fmt: skip
    monkeypatch.setenv("CNIQS_STATE_DIR", str(tmp_path))
    assert cli.main(["down"]) == 0
    assert capsys.readouterr().out == "nothing is up.\n"


def test_up_refuses_when_something_is_up(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:  # fmt: skip
    monkeypatch.setenv("CNIQS_STATE_DIR", str(tmp_path))
    state.save(state.State("kind", "cniqs", kubeconfig="/k"), tmp_path)
    assert cli.main(["up", "--provider", "local"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["cniqs: error: kind cluster cniqs (kubeconfig /k) is up already: use it, or run `cniqs down` first"]


def test_unexpected_errors_become_one_line_with_a_hint() -> None:
    text = cli.describe_error(WaitTimeout("gave up after 20 s waiting for x (last error:\n  a\n  b)"))
    assert "\n" not in text and text.startswith("gave up after 20 s waiting for x (last error: a b)")
    assert "rerun with -v" in text
    long = cli.describe_error(RuntimeError("x" * 5000))
    assert len(long) < 800 and "..." in long
    assert cli.describe_error(CliError("say it\nonce")) == "say it once"


# -- a provider whose extra is not installed -------------------------------------------------------


def missing(module: str):
    def make() -> None:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)

    return make


@pytest.mark.parametrize(
    ("name", "module", "extra"),
    [("local", "grpc", "local"), ("local", "cri_api", "local"), ("local", "google", "local"),
     ("local", "google.protobuf", "local"), ("kube", "cryptography", "kube"), ("kube", "grpc", "kube")],
)  # fmt: skip
def test_a_provider_without_its_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, name: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(providers.PROVIDERS, name, missing(module))
    with pytest.raises(providers.MissingExtra) as raised:
        providers.get(name)
    assert str(raised.value) == (
        f"the {name} provider needs the Python module {module}, which the package installs only with its "
        f"'{extra}' extra: pip install 'cni-quickstart[{extra}]' (in a checkout: pip install -e '.[{extra}]')"
    )
    assert isinstance(raised.value.__cause__, ModuleNotFoundError)


@pytest.mark.parametrize(
    ("name", "error"),
    [("local", ModuleNotFoundError("No module named 'yaml'", name="yaml")),  # not the extra's: a broken install
     ("local", ModuleNotFoundError("No module named 'grpcio'", name="grpcio")),
     ("local", ImportError("cannot import name 'x' from 'grpc'", name="grpc")),  # there, but not what we need
     ("kind", ModuleNotFoundError("No module named 'grpc'", name="grpc")),  # kind has no extra
     ("local", ModuleNotFoundError("No module named 'cryptography'", name="cryptography"))],
)  # fmt: skip
def test_other_import_errors_are_left_as_they_are(
    monkeypatch: pytest.MonkeyPatch, name: str, error: ImportError
) -> None:
    def make() -> None:
        raise error

    monkeypatch.setitem(providers.PROVIDERS, name, make)
    with pytest.raises(ImportError) as raised:
        providers.get(name)
    assert raised.value is error


def test_the_extras_are_the_packages_optional_dependencies() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert {extra for extra, _ in providers.EXTRAS.values()} <= set(extras)
    assert "cni-quickstart[local]" in extras["kube"] and "e2e" not in extras
    for requirement in ("grpcio", "protobuf", "container-runtime-interface-api", "cryptography"):
        assert not [d for d in project["dependencies"] if d.startswith(requirement)], requirement


@pytest.mark.parametrize("command", [["demo", "--provider", "local"], ["up", "--provider", "kube"]])
def test_a_missing_extra_is_one_line_without_the_generic_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    monkeypatch.setenv("CNIQS_STATE_DIR", str(tmp_path))
    name = command[-1]
    monkeypatch.setitem(providers.PROVIDERS, name, missing("grpc"))
    assert cli.main(command) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"cniqs: using the {name} provider (chosen with --provider)",
        f"cniqs: error: the {name} provider needs the Python module grpc, which the package installs only with its "
        f"'{name}' extra: pip install 'cni-quickstart[{name}]' (in a checkout: pip install -e '.[{name}]')",
    ]


# -- console ---------------------------------------------------------------------------------------


def test_elapsed_and_command_lines() -> None:
    assert elapsed(1.234) == "1.2 s"
    assert elapsed(125) == "2 min 05 s"
    assert command_line(["ip", "a", "s", Path("/x y")]) == "ip a s '/x y'"
    assert command_line("sh -c true") == "sh -c true"
    assert command_line([b"ctr", "-n", "k8s.io"]) == "ctr -n k8s.io"


def test_steps_off_a_terminal_print_start_and_end_lines() -> None:
    err, out = io.StringIO(), io.StringIO()
    ui = Console(err=err, out=out)
    with ui.step("Doing it"):
        pass
    with pytest.raises(ValueError), ui.step("Failing"):
        raise ValueError("no")
    lines = err.getvalue().splitlines()
    assert lines[0] == "==> Doing it ..." and lines[1].startswith("    done (")
    assert lines[2] == "==> Failing ..." and lines[3].startswith("    failed after ")
    assert out.getvalue() == ""


def test_verbose_prints_every_started_process() -> None:
    import subprocess
    import sys

    err = io.StringIO()
    ui = Console(verbose=True, err=err, out=io.StringIO())
    try:
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    finally:
        ui.close()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert err.getvalue().count("    $ ") == 1 and "-c pass" in err.getvalue()


# -- Debian packages -------------------------------------------------------------------------------


def test_package_list_parsing_matches_ci() -> None:
    assert debdeps.wanted("# comment\ncontainerd\n\nrunc  # the runtime\n") == ["containerd", "runc"]
    ci = debdeps.wanted()
    assert {"containerd", "runc", "containernetworking-plugins", "busybox-static", "iptables"} <= set(ci)


def test_missing_packages_and_what_counts_as_debian(tmp_path: Path) -> None:
    assert debdeps.missing(["a", "b", "c"], lambda p: p == "b") == ["a", "c"]
    marker = tmp_path / "debian_version"
    apt = which_from({"apt-get": "/usr/bin/apt-get", "dpkg-query": "/usr/bin/dpkg-query"})
    assert not debdeps.is_debian(apt, marker)
    marker.write_text("12.5\n")
    assert debdeps.is_debian(apt, marker)
    assert not debdeps.is_debian(which_from({}), marker)
    update, install = debdeps.install_argv(["containerd", "runc"])
    assert update == ["apt-get", "update", "-qq"]
    assert install[:2] == ["apt-get", "install"] and install[-2:] == ["containerd", "runc"] and "-y" in install


def test_local_plan_installs_only_what_is_missing_as_root_on_debian() -> None:
    from cniqs.cli.session import local_plan

    problems = ["missing commands: containerd, runc (see .ci/apt-packages.txt)"]
    assert local_plan([], "linux", True, [], 0) == []
    assert local_plan(problems, "linux", True, ["containerd", "runc"], 0) == ["containerd", "runc"]
    with pytest.raises(CliError, match="run cniqs as root .* apt-get install containerd runc"):
        local_plan(problems, "linux", True, ["containerd", "runc"], 1000)
    with pytest.raises(CliError, match="needs Linux \\(this is darwin\\).*kind provider"):
        local_plan(["needs Linux (this is darwin)"], "darwin", False, [], 501)
    with pytest.raises(CliError, match="cannot run here: needs root"):
        local_plan(["needs root (network namespaces, containerd, iptables)"], "linux", True, [], 1000)
    with pytest.raises(CliError, match="cannot run here: missing commands"):
        local_plan(problems, "linux", False, [], 0)  # Fedora & co: no apt, say what is missing


# -- --kind-egress: the suite's connectivity mode on the command line ---------------------------------


@pytest.mark.parametrize("command", ["demo", "up"])
def test_kind_egress_parses_as_the_suite_option(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    assert parser.parse_args([command, "--kind-egress", "ci"]).kind_egress == "ci"
    assert parser.parse_args([command]).kind_egress is None
    with pytest.raises(SystemExit) as exc:
        parser.parse_args([command, "--kind-egress", "icmp"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--kind-egress" in err and "icmp" in err and "internet" in err and len(err.strip().splitlines()) == 1


def test_kind_egress_goes_to_the_kind_provider_only() -> None:
    args = cli.build_parser().parse_args(["demo", "--kind-egress", "ci"])
    assert cli.provider_values(args, providers.get("kind")) == {"--kind-egress": "ci"}
    assert cli.provider_values(cli.build_parser().parse_args(["demo"]), providers.get("local")) == {}
    with pytest.raises(CliError, match="--kind-egress is for the kind provider.*local provider"):
        cli.provider_values(args, providers.get("local"))


# -- --k8s-version: the suite's Kubernetes version, for the one cluster cniqs brings up ----------------------


@pytest.mark.parametrize("command", ["demo", "up"])
def test_k8s_version_goes_to_the_kind_and_kube_providers(command: str) -> None:
    parser = cli.build_parser()
    assert parser.parse_args([command]).k8s_version is None
    for given in ("1.36", "v1.36.4"):
        args = parser.parse_args([command, "--k8s-version", given])
        assert cli.provider_values(args, providers.get("kind")) == {"--k8s-version": given}
        assert cli.provider_values(args, providers.get("kube")) == {"--k8s-version": given}
    assert cli.provider_values(parser.parse_args([command]), providers.get("kind")) == {}
    with pytest.raises(CliError, match="--k8s-version is for the kind and kube providers.*local provider"):
        cli.provider_values(parser.parse_args([command, "--k8s-version", "1.36"]), providers.get("local"))
    with pytest.raises(CliError, match="one cluster, so name one Kubernetes minor"):
        cli.provider_values(parser.parse_args([command, "--k8s-version", "all"]), providers.get("kind"))


def without_kind_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the kind provider's settings from this environment (an offline site's `cniqs.site env` exports
    several), so each test sees only what it sets."""
    for var in [v for v in os.environ if v.startswith("CNIQS_KIND")] + ["CNIQS_REGISTRY_MIRROR", "KIND"]:
        monkeypatch.delenv(var, raising=False)


def test_kind_up_makes_the_cluster_of_the_version_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`cniqs up --k8s-version 1.36` (a CI job's version) creates the node image of 1.36, not the newest."""
    from cniqs.common.run import Completed
    from cniqs.providers.kind import versions

    without_kind_settings(monkeypatch)

    def run(argv: list[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        if argv == ["kind", "version"]:
            return Completed(argv, 0, f"kind {versions.KIND_VERSION} go1.26.2 linux/amd64\n", "")
        if argv[:3] == ["docker", "network", "inspect"]:
            return Completed(argv, 0, "n1\n", "")
        raise AssertionError(f"unexpected command {argv}")

    made: list[str] = []
    _fake_kind_up(monkeypatch, tmp_path, run, lambda run, cluster, image, *a, **k: made.append(image))
    provider = providers.get("kind")
    for given in ("1.36", "v1.35.8", None):
        values = {} if given is None else {"--k8s-version": given}
        provider.up(RunOptions(values), name=f"cniqs-{len(made)}", workdir=tmp_path)
    assert made == [versions.select("1.36")[0].image, versions.select("1.35")[0].image, versions.IMAGES[0].image]
    with pytest.raises(Refused, match="no node image for Kubernetes 1.20"):
        provider.up(RunOptions({"--k8s-version": "1.20"}), name="cniqs-old", workdir=tmp_path)


def test_kind_up_whose_create_fails_says_what_failed_keeps_the_logs_and_leaves_no_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cniqs up` on a host where kubeadm fails: the one line printed names kind's error and kubeadm's failed
    phase (not the stack trace's last frames), the nodes' logs are exported next to the state, then deleted."""
    from cniqs.common.run import Completed
    from cniqs.providers.kind import network, versions

    failure = (Path(__file__).parents[1] / "kind" / "data" / "kind-create-wait-control-plane.txt").read_text()
    without_kind_settings(monkeypatch)
    nodes: set[str] = set()
    ran: list[list[str]] = []

    def run(argv: list[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        ran.append(list(argv))
        if argv == ["kind", "version"]:
            return Completed(argv, 0, f"kind {versions.KIND_VERSION} go1.26.2 linux/amd64\n", "")
        if argv[:3] == ["docker", "network", "inspect"]:
            return Completed(argv, 0, "n1\n", "")
        if argv[:3] == ["kind", "get", "clusters"]:
            return Completed(argv, 0, "".join(f"{n}\n" for n in nodes), "")
        if argv[:3] == ["kind", "create", "cluster"]:
            assert "--retain" in argv
            nodes.add(argv[argv.index("--name") + 1])
            return Completed(argv, 1, "", failure)
        if argv[:3] == ["kind", "export", "logs"]:
            Path(argv[3]).mkdir(parents=True)
            return Completed(argv, 0, argv[3] + "\n", "")
        if argv[:3] == ["kind", "delete", "cluster"]:
            nodes.discard(argv[argv.index("--name") + 1])
            return Completed(argv, 0, "", "")
        raise AssertionError(f"unexpected command {argv}")

    monkeypatch.setattr(kind_provider, "run_process", run)
    monkeypatch.setattr(kind_provider.kind_cluster, "existing_clusters", lambda r, kind: sorted(nodes))
    monkeypatch.setattr(network, "network_marks", lambda: tmp_path / "marks")
    monkeypatch.setattr(kind_provider.commands, "engine", lambda *a, **k: "docker")
    monkeypatch.setattr(kind_provider.network, "leave_network", lambda run, engine, net: None)
    monkeypatch.setattr(cli, "_pick", lambda ui, requested: providers.get("kind"))
    monkeypatch.setenv("CNIQS_STATE_DIR", str(tmp_path / "state"))
    assert cli.main(["up", "--provider", "kind"]) == 1
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("cniqs: error:")]
    assert "ERROR: failed to create cluster: failed to init node with kubeadm" in line, line
    assert "connection refused | error execution phase wait-control-plane;" in line, line
    logs = tmp_path / "state" / "cniqs.create-failed" / "kind-logs"
    assert f"the nodes' logs are in {logs}" in line and logs.is_dir(), line
    assert "runtime.goexit" not in line and "asm_amd64" not in line
    assert not nodes, "a failed create left its nodes"
    kind_actions = [" ".join(a[1:3]) for a in ran if a[0] == "kind" and a[1] != "version"]
    assert kind_actions == ["create cluster", "export logs", "delete cluster"]
    assert not (tmp_path / "state" / "state.json").exists()


def test_kind_up_in_ci_mode_records_the_gateway_and_attach_pings_only_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cniqs up --kind-egress ci` reads the kind network's gateway once; the backend that reveal and the demo
    attach then pings it, resolves the name and fetches its URL (egress.select, as the suite does)."""
    from cniqs.common.run import Completed

    without_kind_settings(monkeypatch)
    ran: list[list[str]] = []

    def run(argv: list[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        ran.append(list(argv))
        if argv == ["kind", "version"]:
            return Completed(argv, 0, "kind v0.31.0 go1.25.5 linux/amd64\n", "")
        if argv[:3] == ["kind", "get", "nodes"]:
            return Completed(argv, 0, f"{argv[-1]}-control-plane\n", "")
        if argv[:3] == ["docker", "network", "inspect"]:
            return Completed(argv, 0, "n1\n", "")  # kind's network is there already: not this run's
        raise AssertionError(f"unexpected command {argv}")

    made: list[str] = []
    _fake_kind_up(monkeypatch, tmp_path, run, lambda run, cluster, *a, **k: made.append(cluster.name))
    monkeypatch.setattr(kind_provider.egress, "network_gateway", lambda run, engine, env: f"172.18.0.1 ({engine})")
    provider = providers.get("kind")
    current = provider.up(RunOptions({"--kind-egress": "ci"}), name="cniqs", workdir=tmp_path)
    assert made == ["cniqs"]
    assert current.extra["egress"] == "ci" and current.extra["egress_gateway"] == "172.18.0.1 (docker)"
    assert current.extra["engine"] == "docker" and current.extra["network"] == "kind"
    targets = kind_provider.cli_targets(current.extra, kind_provider.CLI_TARGETS)
    assert (targets.ip, targets.name, targets.url, targets.ping_name) == (
        "172.18.0.1 (docker)", "kubernetes.io", "https://kubernetes.io/", False
    )  # fmt: skip
    default = provider.up(RunOptions({}), name="cniqs2", workdir=tmp_path)
    assert default.extra["egress"] == "internet" and "egress_gateway" not in default.extra
    assert kind_provider.cli_targets(default.extra, kind_provider.CLI_TARGETS) == kind_provider.CLI_TARGETS
    assert not [argv for argv in ran if argv[:2] == ["docker", "pull"]]  # no mirror: kind pulls upstream
    with pytest.raises(Refused, match="--kind-egress 'icmp': use one of internet, ci"):
        provider.up(RunOptions({"--kind-egress": "icmp"}), name="cniqs3", workdir=tmp_path)
    with pytest.raises(NodeGone, match="no gateway"):
        kind_provider.cli_targets({"egress": "ci"}, kind_provider.CLI_TARGETS)


def _fake_kind_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run: Any, create: Any) -> None:
    """The kind provider's up() on docker with `run` for its commands and `create` for kind create."""
    from cniqs.providers.kind import network

    monkeypatch.setattr(kind_provider, "run_process", run)
    monkeypatch.setattr(network, "network_marks", lambda: tmp_path / "marks")
    monkeypatch.setattr(kind_provider.commands, "engine", lambda *a, **k: "docker")
    monkeypatch.setattr(kind_provider.kind_cluster, "existing_clusters", lambda run, kind: [])
    monkeypatch.setattr(kind_provider.kind_cluster, "create", create)
