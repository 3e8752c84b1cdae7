"""The command lines the kind backend runs, exactly."""

from __future__ import annotations

from e2e.backends.kind import commands as c

IMAGE = "kindest/node:v1.35.0@sha256:" + "0" * 64


def test_kind_binary_env_precedence() -> None:
    assert c.kind_binary({}) == "kind"
    assert c.kind_binary({"KIND": "/opt/kind"}) == "/opt/kind"
    assert c.kind_binary({"KIND": "/opt/kind", "CNIQS_KIND": "/x/kind"}) == "/x/kind"
    assert c.kind_binary({"CNIQS_KIND": "", "KIND": "/opt/kind"}) == "/opt/kind"


def test_kind_commands() -> None:
    assert c.kind_create("kind", "cniqs-1-35-abc", IMAGE, "/w/c.yaml", "/w/kc") == [
        "kind", "create", "cluster", "--name", "cniqs-1-35-abc", "--image", IMAGE,
        "--config", "/w/c.yaml", "--wait", "5m", "--kubeconfig", "/w/kc",
    ]  # fmt: skip
    assert c.kind_delete("kind", "n", "/w/kc") == ["kind", "delete", "cluster", "--name", "n", "--kubeconfig", "/w/kc"]
    assert c.kind_get_clusters("kind") == ["kind", "get", "clusters"]
    assert c.kind_get_nodes("/k", "n") == ["/k", "get", "nodes", "--name", "n"]
    assert c.kind_get_kubeconfig("kind", "n") == ["kind", "get", "kubeconfig", "--name", "n"]
    assert c.kind_export_logs("kind", "n", "/a/logs") == ["kind", "export", "logs", "/a/logs", "--name", "n"]


def test_kind_never_touches_the_users_kubeconfig() -> None:
    for argv in (c.kind_create("kind", "n", IMAGE, "c", "/own"), c.kind_delete("kind", "n", "/own")):
        assert argv[argv.index("--kubeconfig") + 1] == "/own"


def test_docker_commands() -> None:
    assert c.docker_info() == ["docker", "info", "--format", "{{.ServerVersion}}"]
    assert c.docker_exec("n1", ["uname", "-m"]) == ["docker", "exec", "n1", "uname", "-m"]
    assert c.docker_exec("n1", ["cat"], stdin=True, env={"A": "1", "B": "x y"}) == [
        "docker", "exec", "-i", "-e", "A=1", "-e", "B=x y", "n1", "cat",
    ]  # fmt: skip
    assert c.docker_cp("/b/f", "n1", "/opt/x") == ["docker", "cp", "/b/f", "n1:/opt/x"]
    assert c.buildx_build("linux/arm64", "/out", "plugin/Dockerfile", ".") == [
        "docker", "buildx", "build", "--platform", "linux/arm64", "-f", "plugin/Dockerfile",
        "--output", "type=local,dest=/out", ".",
    ]  # fmt: skip


def test_kubectl_commands_always_name_the_kubeconfig() -> None:
    assert c.kubectl_describe_pod("/kc", "ns", "p") == [
        "kubectl", "--kubeconfig", "/kc", "describe", "pod", "--namespace", "ns", "p",
    ]  # fmt: skip
    assert c.kubectl_exec("/kc", "ns", "p", ["ip", "a", "s"]) == [
        "kubectl", "--kubeconfig", "/kc", "exec", "--namespace", "ns", "p", "--", "ip", "a", "s",
    ]  # fmt: skip
    assert c.kubectl_events("/kc", "ns")[:6] == ["kubectl", "--kubeconfig", "/kc", "get", "events", "--namespace"]
    assert c.kubectl_describe_pods("/kc", "ns")[3:] == ["describe", "pods", "--namespace", "ns"]


def test_crictl_runs_on_the_node() -> None:
    assert c.crictl_info("n1") == ["docker", "exec", "n1", "crictl", "info"]
    assert c.crictl_pods_of("n1", "uid-1") == [
        "docker", "exec", "n1", "crictl", "pods", "--label", "io.kubernetes.pod.uid=uid-1",
        "--state", "ready", "--quiet",
    ]  # fmt: skip
    assert c.crictl_inspectp("n1", "abc") == ["docker", "exec", "n1", "crictl", "inspectp", "--output", "json", "abc"]


def test_node_file_commands() -> None:
    assert c.node_write_stdin("n", "/d/.f.tmp") == ["docker", "exec", "-i", "n", "cp", "/dev/stdin", "/d/.f.tmp"]
    assert c.node_rename("n", "/d/a", "/d/b") == ["docker", "exec", "n", "mv", "-f", "-T", "--", "/d/a", "/d/b"]
    assert c.node_rm("n", "/d/x", recursive=True) == ["docker", "exec", "n", "rm", "-rf", "--", "/d/x"]
    assert c.node_rm("n", "/d/x") == ["docker", "exec", "n", "rm", "-f", "--", "/d/x"]
    assert c.node_sha256sum("n", ["/a", "/b"]) == ["docker", "exec", "n", "sha256sum", "--", "/a", "/b"]
    assert c.node_symlink("n", "t", "/l") == ["docker", "exec", "n", "ln", "-s", "-f", "-n", "--", "t", "/l"]
    assert c.node_uname_machine("n") == ["docker", "exec", "n", "uname", "-m"]
    # The path is an argument of the script, never part of it.
    assert c.node_exists("n", "/a b")[-1] == "/a b"
    assert c.node_plugin_version("n", "/opt/cni/bin/cni-quickstart") == [
        "docker", "exec", "-i", "-e", "CNI_COMMAND=VERSION", "n", "/opt/cni/bin/cni-quickstart",
    ]  # fmt: skip
