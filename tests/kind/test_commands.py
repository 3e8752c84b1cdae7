"""The command lines the kind provider runs, exactly."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from cniqs.common.errors import ParseError
from cniqs.install.nodefs import LocalFiles
from cniqs.providers.cluster import commands as k8s
from cniqs.providers.cluster import parse
from cniqs.providers.kind import commands
from cniqs.providers.kind.commands import DOCKER

IMAGE = "kindest/node:v1.35.0@sha256:" + "0" * 64


def test_kind_binary_env_precedence() -> None:
    assert commands.kind_binary({}) == "kind"
    assert commands.kind_binary({"KIND": "/opt/kind"}) == "/opt/kind"
    assert commands.kind_binary({"KIND": "/opt/kind", "CNIQS_KIND": "/x/kind"}) == "/x/kind"
    assert commands.kind_binary({"CNIQS_KIND": "", "KIND": "/opt/kind"}) == "/opt/kind"


def test_kind_commands() -> None:
    assert commands.kind_create("kind", "cniqs-1-35-abc", IMAGE, "/w/commands.yaml", "/w/kc") == [
        "kind", "create", "cluster", "--name", "cniqs-1-35-abc", "--image", IMAGE,
        "--config", "/w/commands.yaml", "--wait", "0s", "--kubeconfig", "/w/kc", "--retain",
    ]  # fmt: skip
    assert commands.kind_delete("kind", "n", "/w/kc") == [
        "kind",
        "delete",
        "cluster",
        "--name",
        "n",
        "--kubeconfig",
        "/w/kc",
    ]
    assert commands.kind_get_clusters("kind") == ["kind", "get", "clusters"]
    assert commands.kind_get_nodes("/k", "n") == ["/k", "get", "nodes", "--name", "n"]
    assert commands.kind_get_kubeconfig("kind", "n") == ["kind", "get", "kubeconfig", "--name", "n"]
    assert commands.kind_export_logs("kind", "n", "/a/logs") == ["kind", "export", "logs", "/a/logs", "--name", "n"]
    assert commands.kind_load_image_archive("kind", "n", "/a/i.oci.tar") == [
        "kind", "load", "image-archive", "/a/i.oci.tar", "--name", "n",
    ]  # fmt: skip


def test_kind_never_touches_the_users_kubeconfig() -> None:
    for argv in (commands.kind_create("kind", "n", IMAGE, "c", "/own"), commands.kind_delete("kind", "n", "/own")):
        assert argv[argv.index("--kubeconfig") + 1] == "/own"


def test_docker_commands() -> None:
    assert commands.docker_info() == ["docker", "info", "--format", "{{.ServerVersion}}"]
    assert commands.docker_exec("n1", ["uname", "-m"]) == ["docker", "exec", "n1", "uname", "-m"]
    assert commands.docker_exec("n1", ["cat"], stdin=True, env={"A": "1", "B": "x y"}) == [
        "docker", "exec", "-i", "-e", "A=1", "-e", "B=x y", "n1", "cat",
    ]  # fmt: skip
    assert commands.docker_cp("/b/f", "n1", "/opt/x") == ["docker", "cp", "/b/f", "n1:/opt/x"]
    assert commands.buildx_build("linux/arm64", "/out", "plugin/Dockerfile", ".") == [
        "docker", "buildx", "build", "--platform", "linux/arm64", "-f", "plugin/Dockerfile",
        "--output", "type=local,dest=/out", ".",
    ]  # fmt: skip


def test_kubectl_commands_always_name_the_kubeconfig() -> None:
    assert k8s.kubectl_describe_pod("/kc", "ns", "p") == [
        "kubectl", "--kubeconfig", "/kc", "describe", "pod", "--namespace", "ns", "p",
    ]  # fmt: skip
    assert k8s.kubectl_events("/kc", "ns")[:6] == [
        "kubectl",
        "--kubeconfig",
        "/kc",
        "get",
        "events",
        "--namespace",
    ]
    assert k8s.kubectl_describe_pods("/kc", "ns")[3:] == ["describe", "pods", "--namespace", "ns"]


def test_crictl_runs_on_the_node() -> None:
    assert k8s.crictl_info(DOCKER, "n1") == ["docker", "exec", "n1", "crictl", "info"]
    assert k8s.crictl_pods_of(DOCKER, "n1", "uid-1") == [
        "docker", "exec", "n1", "crictl", "pods", "--label", "io.kubernetes.pod.uid=uid-1",
        "--state", "ready", "--quiet",
    ]  # fmt: skip
    assert k8s.crictl_inspectp(DOCKER, "n1", "abc") == [
        "docker",
        "exec",
        "n1",
        "crictl",
        "inspectp",
        "--output",
        "json",
        "abc",
    ]


def test_node_file_commands() -> None:
    assert k8s.node_write_atomic(DOCKER, "n", "/d/.f.tmp", "/d/f") == [
        "docker", "exec", "-i", "n", "sh", "-c", k8s.WRITE_ATOMIC, "sh", "/d/.f.tmp", "/d/f",
    ]  # fmt: skip
    assert DOCKER.exec_argv("n", k8s.rename("/d/a", "/d/b")) == [
        "docker",
        "exec",
        "n",
        "mv",
        "-f",
        "-T",
        "--",
        "/d/a",
        "/d/b",
    ]
    assert k8s.node_rm(DOCKER, "n", "/d/x", recursive=True) == [
        "docker",
        "exec",
        "n",
        "rm",
        "-rf",
        "--",
        "/d/x",
    ]
    assert k8s.node_rm(DOCKER, "n", "/d/x") == ["docker", "exec", "n", "rm", "-f", "--", "/d/x"]
    assert DOCKER.exec_argv("n", k8s.symlink("t", "/l")) == [
        "docker",
        "exec",
        "n",
        "ln",
        "-s",
        "-f",
        "-n",
        "--",
        "t",
        "/l",
    ]
    assert k8s.node_uname_machine(DOCKER, "n") == ["docker", "exec", "n", "uname", "-m"]
    # The path is an argument of the script, never part of it.
    assert k8s.node_exists(DOCKER, "n", "/a b")[-1] == "/a b"
    assert k8s.node_check_plugin(DOCKER, "n", "/opt/cni/bin/cni-quickstart", "B", ["/a b"]) == [
        "docker", "exec", "n", "sh", "-c", k8s.CHECK_PLUGIN, "sh", "/opt/cni/bin/cni-quickstart", "B", "/a b",
    ]  # fmt: skip


def test_the_link_state_script_tells_a_link_something_else_and_nothing(tmp_path: Path) -> None:
    """LINK_STATE run by a real sh, as on a node."""
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to("file")
    (tmp_path / "dangling").symlink_to("missing")

    def state(name: str) -> tuple[bool, str | None]:
        argv = ["sh", "-c", k8s.LINK_STATE, "sh", str(tmp_path / name)]
        return parse.link_state(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)

    assert state("link") == (True, "file")
    assert state("dangling") == (True, "missing")
    assert state("file") == (True, None)
    assert state("nothing") == (False, None)
    with pytest.raises(ParseError):
        parse.link_state("")


def test_the_read_dir_script_answers_what_local_files_read(tmp_path: Path) -> None:
    """READ_DIR run by a real sh, as on a node, gives what LocalFiles.read_dir reads from the same directory:
    every name, the text of the files named *SUFFIX (hidden, empty, no final newline, behind a symlink)."""
    (tmp_path / "10-a.conflist").write_text('{"a": 1}\n')
    (tmp_path / ".hidden.conf").write_text("no newline at the end")
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "with space.conf").write_text("x\n\nlines\n\n")
    (tmp_path / "other.txt").write_text("not asked")
    (tmp_path / "dir.conf").mkdir()
    (tmp_path / "link.conf").symlink_to("10-a.conflist")
    (tmp_path / "dangling.conf").symlink_to("missing")
    suffixes = (".conf", ".conflist", ".json")
    argv = ["sh", "-c", k8s.READ_DIR, "sh", str(tmp_path), "BOUNDARY", *suffixes]
    answer = parse.dir_texts(subprocess.run(argv, capture_output=True, text=True, check=True).stdout, "BOUNDARY")
    assert answer == LocalFiles().read_dir(str(tmp_path), suffixes)
    assert answer == {
        "10-a.conflist": '{"a": 1}\n', ".hidden.conf": "no newline at the end", "empty.json": "",
        "with space.conf": "x\n\nlines\n\n", "other.txt": None, "dir.conf": None, "link.conf": '{"a": 1}\n',
        "dangling.conf": None,
    }  # fmt: skip
    missing = subprocess.run(["sh", "-c", k8s.READ_DIR, "sh", str(tmp_path / "none"), "B"], capture_output=True)
    assert missing.returncode == k8s.READ_DIR_MISSING
    assert parse.dir_texts("", "B") == {}
    with pytest.raises(ParseError):
        parse.dir_texts("not a listing\n", "B")


def test_the_plugin_check_script_hashes_then_runs_it_once(tmp_path: Path) -> None:
    """CHECK_PLUGIN run by a real sh, as on a node: the hashes, then the VERSION run's output and exit code."""
    plugin = tmp_path / "plugin"
    plugin.write_text('#!/bin/sh\nprintf "%s" "{\\"cmd\\": \\"$CNI_COMMAND\\"}"; echo oops >&2; exit 3\n')
    plugin.chmod(0o755)
    (tmp_path / "data").write_text("x")

    def check(*paths: Path) -> tuple[dict[str, str], str, int]:
        argv = ["sh", "-c", k8s.CHECK_PLUGIN, "sh", str(plugin), "B0", *map(str, paths)]
        return parse.plugin_check(subprocess.run(argv, capture_output=True, text=True).stdout, "B0")

    sums, printed, rc = check(tmp_path / "data", tmp_path / "missing")
    assert sums == {str(tmp_path / "data"): hashlib.sha256(b"x").hexdigest()}  # a missing file: no line
    assert (printed, rc) == ('{"cmd": "VERSION"}oops\n', 3)  # no newline of its own: the answer still parses
    plugin.unlink()
    assert check()[2] == 127  # nothing to run
    with pytest.raises(ParseError):
        parse.plugin_check("B0\nno end\n", "B0")
