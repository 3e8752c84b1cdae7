"""Command lines for kind, docker, kubectl and crictl: small pure functions, one per action.

Nothing here runs anything; nodeutils and the backend run these argv lists. crictl runs on a
node through `docker exec` (every kind node ships crictl).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

KIND_ENV_VARS = ("CNIQS_KIND", "KIND")
DEFAULT_WAIT = "5m"


def kind_binary(environ: Mapping[str, str] | None = None) -> str:
    """The kind to run: $CNIQS_KIND, else $KIND, else `kind` from PATH."""
    env = os.environ if environ is None else environ
    for var in KIND_ENV_VARS:
        if env.get(var):
            return env[var]
    return "kind"


# kind


def kind_create(kind: str, name: str, image: str, config: str, kubeconfig: str, wait: str = DEFAULT_WAIT) -> list[str]:
    return [
        kind, "create", "cluster", "--name", name, "--image", image,
        "--config", config, "--wait", wait, "--kubeconfig", kubeconfig,
    ]  # fmt: skip


def kind_delete(kind: str, name: str, kubeconfig: str) -> list[str]:
    # --kubeconfig: kind removes the cluster's entry from that file, never from ~/.kube/config.
    return [kind, "delete", "cluster", "--name", name, "--kubeconfig", kubeconfig]


def kind_get_clusters(kind: str) -> list[str]:
    return [kind, "get", "clusters"]


def kind_get_nodes(kind: str, name: str) -> list[str]:
    return [kind, "get", "nodes", "--name", name]


def kind_get_kubeconfig(kind: str, name: str) -> list[str]:
    """Prints the kubeconfig of an existing cluster on stdout; nothing is written anywhere."""
    return [kind, "get", "kubeconfig", "--name", name]


def kind_export_logs(kind: str, name: str, dest: str) -> list[str]:
    return [kind, "export", "logs", dest, "--name", name]


# docker


def docker_info() -> list[str]:
    return ["docker", "info", "--format", "{{.ServerVersion}}"]


def docker_buildx_version() -> list[str]:
    return ["docker", "buildx", "version"]


def docker_exec(
    node: str, argv: Sequence[str], *, stdin: bool = False, env: Mapping[str, str] | None = None
) -> list[str]:
    cmd = ["docker", "exec"]
    if stdin:
        cmd.append("-i")
    for key, value in (env or {}).items():
        cmd += ["-e", f"{key}={value}"]
    return [*cmd, node, *argv]


def docker_cp(src: str, node: str, dest: str) -> list[str]:
    """Copy a host path into a node. A directory src lands as dest when dest does not exist yet."""
    return ["docker", "cp", src, f"{node}:{dest}"]


def buildx_build(platform: str, dest: str, dockerfile: str, context: str) -> list[str]:
    return [
        "docker", "buildx", "build", "--platform", platform, "-f", dockerfile,
        "--output", f"type=local,dest={dest}", context,
    ]  # fmt: skip


# kubectl


def kubectl(kubeconfig: str, *args: str) -> list[str]:
    """Always with an explicit --kubeconfig: the user's ~/.kube/config is never read or written."""
    return ["kubectl", "--kubeconfig", kubeconfig, *args]


def kubectl_describe_pod(kubeconfig: str, namespace: str, name: str) -> list[str]:
    return kubectl(kubeconfig, "describe", "pod", "--namespace", namespace, name)


def kubectl_describe_pods(kubeconfig: str, namespace: str) -> list[str]:
    return kubectl(kubeconfig, "describe", "pods", "--namespace", namespace)


def kubectl_events(kubeconfig: str, namespace: str) -> list[str]:
    return kubectl(kubeconfig, "get", "events", "--namespace", namespace, "--sort-by=.metadata.creationTimestamp")


def kubectl_exec(kubeconfig: str, namespace: str, pod: str, argv: Sequence[str]) -> list[str]:
    return kubectl(kubeconfig, "exec", "--namespace", namespace, pod, "--", *argv)


def kubectl_get_nodes_wide(kubeconfig: str) -> list[str]:
    return kubectl(kubeconfig, "get", "nodes", "-o", "wide")


# crictl, on a node


def crictl(node: str, *args: str) -> list[str]:
    return docker_exec(node, ["crictl", *args])


def crictl_info(node: str) -> list[str]:
    """The runtime's status; its `cniconfig` is the CNI config containerd has loaded."""
    return crictl(node, "info")


def crictl_pods_of(node: str, pod_uid: str) -> list[str]:
    """Ready sandbox ids of one Kubernetes pod: kubelet labels every sandbox with the pod's uid."""
    return crictl(node, "pods", "--label", f"io.kubernetes.pod.uid={pod_uid}", "--state", "ready", "--quiet")


def crictl_inspectp(node: str, sandbox_id: str) -> list[str]:
    return crictl(node, "inspectp", "--output", "json", sandbox_id)


# plain commands on a node (Debian userland: coreutils, iproute2)


def node_uname_machine(node: str) -> list[str]:
    return docker_exec(node, ["uname", "-m"])


def node_sha256sum(node: str, paths: Sequence[str]) -> list[str]:
    return docker_exec(node, ["sha256sum", "--", *paths])


def node_readlink(node: str, path: str) -> list[str]:
    return docker_exec(node, ["readlink", "--", path])


def node_exists(node: str, path: str) -> list[str]:
    """rc 0 when path exists as anything, a dangling symlink included."""
    return docker_exec(node, ["sh", "-c", 'test -e "$1" || test -L "$1"', "sh", path])


def node_cat(node: str, path: str) -> list[str]:
    return docker_exec(node, ["cat", "--", path])


def node_ls(node: str, path: str) -> list[str]:
    return docker_exec(node, ["ls", "-1A", "--", path])


def node_write_stdin(node: str, path: str) -> list[str]:
    return docker_exec(node, ["cp", "/dev/stdin", path], stdin=True)


def node_chmod(node: str, mode: str, path: str) -> list[str]:
    return docker_exec(node, ["chmod", mode, "--", path])


def node_rename(node: str, src: str, dest: str) -> list[str]:
    """rename(2) within one directory: -T so dest is replaced, never entered when it is a directory."""
    return docker_exec(node, ["mv", "-f", "-T", "--", src, dest])


def node_rm(node: str, path: str, *, recursive: bool = False) -> list[str]:
    return docker_exec(node, ["rm", "-rf" if recursive else "-f", "--", path])


def node_symlink(node: str, target: str, link: str) -> list[str]:
    return docker_exec(node, ["ln", "-s", "-f", "-n", "--", target, link])


def node_plugin_version(node: str, executable: str) -> list[str]:
    """Run the installed plugin once (CNI VERSION): proves it starts on this node's userland."""
    return docker_exec(node, [executable], stdin=True, env={"CNI_COMMAND": "VERSION"})
