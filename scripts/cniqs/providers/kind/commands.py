"""Command lines for kind and docker: small pure functions, one per action.

Nothing here runs anything. DOCKER is how the Kubernetes layer reaches a kind node: a command
through `docker exec`, a copy through `docker cp` (cniqs.providers.k8s.nodes.NodeAccess).
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


class DockerAccess:
    """NodeAccess for kind nodes: they are docker containers."""

    def exec_argv(
        self, node: str, argv: Sequence[str], *, stdin: bool = False, env: Mapping[str, str] | None = None
    ) -> list[str]:
        return docker_exec(node, argv, stdin=stdin, env=env)

    def copy_argv(self, src: str, node: str, dest: str) -> list[str]:
        return docker_cp(src, node, dest)


DOCKER = DockerAccess()
