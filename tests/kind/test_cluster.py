from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cniqs.providers.kind import cluster


def test_default_config_is_one_control_plane_and_one_worker() -> None:
    config = cluster.kind_config()
    assert config == {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "nodes": [{"role": "control-plane"}, {"role": "worker"}],
    }


def test_workers_and_ip_family() -> None:
    config = cluster.kind_config(workers=3, ip_family="dual")
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker", "worker"]
    assert config["networking"] == {"ipFamily": "dual"}
    assert "networking" not in cluster.kind_config(ip_family="ipv4")


def test_bad_config_requests() -> None:
    with pytest.raises(ValueError):
        cluster.kind_config(workers=-1)
    with pytest.raises(ValueError):
        cluster.kind_config(ip_family="ipx")


def test_rendered_config_is_yaml_of_the_same_dict() -> None:
    config = cluster.kind_config(workers=2, ip_family="dual")
    text = cluster.render_config(config)
    assert text.startswith("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n")
    assert yaml.safe_load(text) == config


def test_cluster_names_are_unique_and_valid() -> None:
    names = {cluster.cluster_name("1.35") for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert re.fullmatch(r"cniqs-1-35-[0-9a-f]{6}", name)
        assert cluster.valid_name(name)
    assert cluster.cluster_name("1.34", token="abc123") == "cniqs-1-34-abc123"


def test_invalid_names_are_refused() -> None:
    with pytest.raises(ValueError):
        cluster.cluster_name("1.35", token="UPPER")
    assert not cluster.valid_name("-leading")
    assert not cluster.valid_name("x" * 41)


def test_create_writes_the_config_and_runs_kind_create(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cniqs.common.run import Completed

    calls: list[list[str]] = []

    def run(argv, *, input=None, timeout=None):  # type: ignore[no-untyped-def]
        calls.append(list(argv))
        out = "other\n" if argv[1:3] == ["get", "clusters"] else ""
        return Completed(list(argv), 0, out, "")

    made = cluster.prepare("/k/kind", "cniqs-1-35-abcdef", tmp_path)
    cluster.create(run, made, "IMG", workers=2, ip_family="ipv4")
    assert calls[0] == ["/k/kind", "get", "clusters"]
    config = tmp_path / "cniqs-1-35-abcdef.kind.yaml"
    assert calls[1] == cluster_create_argv(config, tmp_path / "cniqs-1-35-abcdef.kubeconfig")
    assert yaml.safe_load(config.read_text()) == cluster.kind_config(workers=2)
    assert made.created


def cluster_create_argv(config, kubeconfig):  # type: ignore[no-untyped-def]
    from cniqs.providers.kind import commands

    return commands.kind_create("/k/kind", "cniqs-1-35-abcdef", "IMG", str(config), str(kubeconfig))


def test_an_existing_name_is_never_taken_over(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cniqs.common.run import Completed

    def run(argv, *, input=None, timeout=None):  # type: ignore[no-untyped-def]
        return Completed(list(argv), 0, "cniqs-1-35-abcdef\n", "")

    made = cluster.prepare("kind", "cniqs-1-35-abcdef", tmp_path)
    with pytest.raises(RuntimeError, match="exists already"):
        cluster.create(run, made, "IMG", 1, "ipv4")
    assert not made.created  # teardown will not delete someone else's cluster
    with pytest.raises(RuntimeError, match="no such kind cluster"):
        cluster.reuse(run, "kind", "mine", tmp_path)


# -- a failed `kind create cluster`: what failed, the nodes' logs, and no node left ---------------------------

DATA = Path(__file__).parent / "data"
WAIT_CONTROL_PLANE = (DATA / "kind-create-wait-control-plane.txt").read_text()
OLD_API = (DATA / "kind-create-old-api.txt").read_text()
KIND_ERROR = (
    'ERROR: failed to create cluster: failed to init node with kubeadm: command "docker exec --privileged '
    '{node} kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6" failed with error: exit status 1'
)


def test_a_failed_kubeadm_phase_is_kinds_error_and_kubeadms_phase_with_the_message_before_it() -> None:
    """kubeadm's --v=6 output ends in Go stack frames; what failed is above them."""
    assert cluster.create_failure(WAIT_CONTROL_PLANE) == [
        KIND_ERROR.format(node="cniqs-1-37-5d0c2e-control-plane"),
        "The HTTP call equal to 'curl -sSL http://127.0.0.1:10248/healthz' failed with error: "
        'Get "http://127.0.0.1:10248/healthz": dial tcp 127.0.0.1:10248: connect: connection refused',
        "error execution phase wait-control-plane",
    ]
    # what CommandError showed before: the last lines, all stack frames
    assert WAIT_CONTROL_PLANE.strip().splitlines()[-1].strip() == "runtime/asm_amd64.s:1700"


def test_a_kubeadm_that_fails_before_any_phase_gives_the_message_above_its_stack() -> None:
    (error, reason) = cluster.create_failure(OLD_API)
    assert error == KIND_ERROR.format(node="cniqs-control-plane")
    assert reason.startswith('your configuration file uses an old API spec: "kubeadm.k8s.io/v1beta3"'), reason


def test_failures_without_kubeadm_are_kinds_error_lines_alone() -> None:
    colored = (
        'Creating cluster "cniqs" ...\n'
        " ✗ Ensuring node image (kindest/node:v1.37.0) 🖼\n"
        '\x1b[31mERROR\x1b[0m: failed to create cluster: failed to pull image "kindest/node:v1.37.0": command '
        '"docker pull kindest/node:v1.37.0" failed with error: exit status 1\n'
        'Command Output: Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup '
        "registry-1.docker.io: no such host\n"
    )
    (line,) = cluster.create_failure(colored)
    assert line.startswith("ERROR: failed to create cluster: failed to pull image"), line
    assert cluster.create_failure("") == []
    assert cluster.create_failure("timed out after 900 s") == []
    # the one-line form (kubeadm without --v=5 or more): the phase line and the line before it
    plain = "[kubelet-check] The kubelet is not healthy after 4m0s\nerror execution phase wait-control-plane: boom\n"
    assert cluster.create_failure(plain) == [
        "[kubelet-check] The kubelet is not healthy after 4m0s",
        "error execution phase wait-control-plane: boom",
    ]


class FakeKind:
    """A kind whose `create cluster` fails as given; records every command, nodes stay until deleted."""

    def __init__(self, stderr: str = WAIT_CONTROL_PLANE, export_rc: int = 0, delete_rc: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.stderr, self.export_rc, self.delete_rc = stderr, export_rc, delete_rc
        self.nodes = False
        self.interrupt_export = False

    def __call__(self, argv, *, input=None, timeout=None):  # type: ignore[no-untyped-def]
        from cniqs.common.run import Completed

        self.calls.append(list(argv))
        action = argv[1:3]
        if action == ["get", "clusters"]:
            return Completed(list(argv), 0, "", "No kind clusters found.\n")
        if action == ["create", "cluster"]:
            self.nodes = "--retain" in argv  # without it kind deletes them itself
            return Completed(list(argv), 1, "", self.stderr)
        if action == ["export", "logs"]:
            if self.interrupt_export:
                raise KeyboardInterrupt
            if self.export_rc == 0:
                Path(argv[3]).mkdir(parents=True)
                (Path(argv[3]) / "docker-info.txt").write_text("info\n")
            return Completed(list(argv), self.export_rc, "", "" if self.export_rc == 0 else "ERROR: unknown cluster\n")
        if action == ["delete", "cluster"]:
            self.nodes = self.nodes and self.delete_rc != 0
            return Completed(list(argv), self.delete_rc, "", "Deleting cluster ...\n")
        raise AssertionError(f"unexpected command {argv}")

    def actions(self) -> list[str]:
        return [" ".join(argv[1:3]) for argv in self.calls]


def test_a_failed_create_keeps_the_nodes_for_their_logs_then_deletes_them(tmp_path: Path) -> None:
    kind = FakeKind()
    made = cluster.prepare("kind", "cniqs-1-37-5d0c2e", tmp_path)
    diagnostics = tmp_path / "artifacts" / made.name
    with pytest.raises(cluster.CreateFailed) as failed:
        cluster.create(kind, made, "kindest/node:v1.37.0@sha256:" + "a" * 64, 1, "ipv4", logs=diagnostics)
    assert kind.actions() == ["get clusters", "create cluster", "export logs", "delete cluster"]
    assert "--retain" in kind.calls[1]
    assert kind.calls[2] == ["kind", "export", "logs", str(diagnostics / "kind-logs"), "--name", made.name]
    assert (diagnostics / "kind-logs" / "docker-info.txt").is_file()
    assert not (diagnostics / "kind-export-logs.err").exists()
    assert not kind.nodes and made.deleted and made.created
    message = str(failed.value)
    assert message.startswith("create kind cluster cniqs-1-37-5d0c2e (kindest/node:v1.37.0): ERROR: failed to "), (
        message
    )
    assert "| error execution phase wait-control-plane;" in message and "connection refused" in message
    assert f"the nodes' logs are in {diagnostics / 'kind-logs'}" in message
    assert "runtime.goexit" not in message and "asm_amd64" not in message
    assert failed.value.logs == diagnostics / "kind-logs" and failed.value.result.rc == 1


def test_the_cluster_is_deleted_whatever_the_export_does(tmp_path: Path) -> None:
    kind = FakeKind(export_rc=1)
    made = cluster.prepare("kind", "cniqs", tmp_path)
    with pytest.raises(cluster.CreateFailed, match="kind export logs failed") as failed:
        cluster.create(kind, made, "IMG", 0, "ipv4", logs=tmp_path / "d")
    assert kind.actions()[-2:] == ["export logs", "delete cluster"] and not kind.nodes and made.deleted
    assert (tmp_path / "d" / "kind-export-logs.err").read_text() == "ERROR: unknown cluster\n"
    assert failed.value.logs is None
    interrupted = FakeKind()
    interrupted.interrupt_export = True
    made = cluster.prepare("kind", "cniqs", tmp_path)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C during the export: still deleted, and the Ctrl-C goes on
        cluster.create(interrupted, made, "IMG", 0, "ipv4", logs=tmp_path / "e")
    assert interrupted.actions()[-1] == "delete cluster" and not interrupted.nodes and made.deleted


def test_a_delete_that_fails_is_said_and_left_to_the_teardown(tmp_path: Path) -> None:
    kind = FakeKind(delete_rc=1)
    made = cluster.prepare("kind", "cniqs", tmp_path)
    with pytest.raises(cluster.CreateFailed, match="deleting the cluster failed"):
        cluster.create(kind, made, "IMG", 0, "ipv4", logs=tmp_path / "d")
    assert not made.deleted and made.created  # the run's teardown deletes it again


def test_without_a_diagnostics_folder_the_failed_create_is_still_deleted(tmp_path: Path) -> None:
    kind = FakeKind(stderr="ERROR: failed to create cluster: boom\n")
    made = cluster.prepare("kind", "cniqs", tmp_path)
    with pytest.raises(cluster.CreateFailed, match=r"\(IMG\): ERROR: failed to create cluster: boom \(`kind create"):
        cluster.create(kind, made, "IMG", 0, "ipv4")
    assert kind.actions() == ["get clusters", "create cluster", "delete cluster"] and made.deleted


def test_a_name_kind_finds_taken_is_never_deleted(tmp_path: Path) -> None:
    kind = FakeKind(
        stderr='ERROR: failed to create cluster: node(s) already exist for a cluster with the name "cniqs"\n'
    )
    made = cluster.prepare("kind", "cniqs", tmp_path)
    with pytest.raises(cluster.CreateFailed, match="already exist"):
        cluster.create(kind, made, "IMG", 0, "ipv4", logs=tmp_path / "d")
    assert kind.actions() == ["get clusters", "create cluster"]
    assert not made.created and not made.deleted  # someone else's: the teardown leaves it too


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_delete_kills_podman_nodes_first_and_deletes_whatever_the_kill_did(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cniqs.common.run import Completed
    from cniqs.providers.kind import commands

    monkeypatch.setenv(commands.PROVIDER_VAR, engine)
    calls: list[list[str]] = []

    def run(argv, *, input=None, timeout=None):  # type: ignore[no-untyped-def]
        calls.append(list(argv))
        if argv[1:3] == ["get", "nodes"]:
            return Completed(list(argv), 0, "demo-worker\ndemo-control-plane\n", "")
        if argv[1:2] == ["kill"]:  # one node was stopped already: the kill fails, the delete goes on
            return Completed(list(argv), 125, "", "Error: can only kill running containers")
        return Completed(list(argv), 0, "", "")

    made = cluster.prepare("/k/kind", "demo", tmp_path)
    made.delete(run)
    delete = commands.kind_delete("/k/kind", "demo", str(made.kubeconfig))
    if engine == "podman":
        assert calls == [
            commands.kind_get_nodes("/k/kind", "demo"),
            ["podman", "kill", "demo-control-plane", "demo-worker"],
            delete,
        ]
    else:  # `docker rm -f` kills at once
        assert calls == [delete]
