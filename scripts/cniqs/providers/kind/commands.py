"""Command lines for kind and its container engine (docker or podman): small pure functions, one per action.

Nothing here runs anything. DOCKER (PODMAN) is how the Kubernetes layer reaches a kind node: a command
through `docker exec` (`podman exec`), a copy through `docker cp` (`podman cp`)
(cniqs.providers.cluster.nodes.NodeAccess). kind runs its nodes in podman when
KIND_EXPERIMENTAL_PROVIDER=podman; engine() picks the same way, and falls back to podman on a machine
that has podman but no docker.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence

KIND_ENV_VARS = ("CNIQS_KIND", "KIND")
# kind returns once the nodes have joined; the provider configures the cluster (mirror hosts, CoreDNS's zone)
# while they become Ready, then waits for that itself (ClusterBackend.wait_nodes_ready).
DEFAULT_WAIT = "0s"


def kind_binary(environ: Mapping[str, str] | None = None) -> str:
    """The kind to run: $CNIQS_KIND, else $KIND, else `kind` from PATH."""
    env = os.environ if environ is None else environ
    for var in KIND_ENV_VARS:
        if env.get(var):
            return env[var]
    return "kind"


def kind_create(kind: str, name: str, image: str, config: str, kubeconfig: str, wait: str = DEFAULT_WAIT) -> list[str]:
    """--retain: when the create fails, kind leaves the nodes as they are (it deletes them otherwise), so their
    logs can be exported before the caller deletes the cluster (cniqs.providers.kind.cluster.create)."""
    return [
        kind, "create", "cluster", "--name", name, "--image", image,
        "--config", config, "--wait", wait, "--kubeconfig", kubeconfig, "--retain",
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


def kind_load_image_archive(kind: str, name: str, archive: str) -> list[str]:
    """Import an image archive (docker-archive or OCI) into the runtime of every node of the cluster."""
    return [kind, "load", "image-archive", archive, "--name", name]


def kind_version(kind: str) -> list[str]:
    """Prints "kind v0.30.0 go1.24.1 linux/amd64" (cniqs.providers.kind.versions.parse_kind_version)."""
    return [kind, "version"]


def containerd_config_dump() -> list[str]:
    """Run on a node: the containerd config as the node's containerd reads it (`kind load` reads its version)."""
    return ["containerd", "config", "dump"]


def kind_export_logs(kind: str, name: str, dest: str) -> list[str]:
    return [kind, "export", "logs", dest, "--name", name]


ENGINES = ("docker", "podman")
PROVIDER_VAR = "KIND_EXPERIMENTAL_PROVIDER"


def engine(environ: Mapping[str, str] | None = None, which: Callable[[str], str | None] = shutil.which) -> str:
    """docker or podman: $KIND_EXPERIMENTAL_PROVIDER when it names one, else docker unless only podman is there."""
    env = os.environ if environ is None else environ
    chosen = env.get(PROVIDER_VAR, "")
    if chosen in ENGINES:
        return chosen
    if which("docker") is None and which("podman") is not None:
        return "podman"
    return "docker"


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


class ContainerAccess:
    """NodeAccess for kind nodes: they are docker (or podman: same verbs, same flags) containers."""

    def __init__(self, cli: str = "docker") -> None:
        self.cli = cli

    def exec_argv(
        self, node: str, argv: Sequence[str], *, stdin: bool = False, env: Mapping[str, str] | None = None
    ) -> list[str]:
        return [self.cli, *docker_exec(node, argv, stdin=stdin, env=env)[1:]]

    def copy_argv(self, src: str, node: str, dest: str) -> list[str]:
        return [self.cli, *docker_cp(src, node, dest)[1:]]

    def parse_exec(self, argv: Sequence[str]) -> tuple[str, list[str], dict[str, str], bool] | None:
        """(node, command, env, stdin) of an argv exec_argv built; None for any other argv."""
        if len(argv) < 4 or argv[0] != self.cli or argv[1] != "exec":
            return None
        rest, env, stdin = list(argv[2:]), {}, False
        while rest and rest[0].startswith("-"):
            if rest[0] == "-i":
                stdin, rest = True, rest[1:]
            elif rest[0] == "-e" and len(rest) > 1 and "=" in rest[1]:
                key, _, value = rest[1].partition("=")
                env[key], rest = value, rest[2:]
            else:
                return None  # a flag exec_argv never gives
        if len(rest) < 2:
            return None
        return rest[0], rest[1:], env, stdin


DOCKER = ContainerAccess()
PODMAN = ContainerAccess("podman")


def access(engine_name: str) -> ContainerAccess:
    return PODMAN if engine_name == "podman" else DOCKER


def pull(engine_name: str, image: str, *, insecure: bool = False) -> list[str]:
    """Pull an image into the engine's store (kind then finds it there). insecure: a plain-HTTP registry, which
    podman needs told per pull (docker reads its insecure registries from the daemon's own configuration)."""
    flags = ["--tls-verify=false"] if insecure and engine_name == "podman" else []
    return [engine_name, "pull", "--quiet", *flags, image]


def kill(engine_name: str, containers: Sequence[str]) -> list[str]:
    """SIGKILL, at once (the engine's default signal for kill)."""
    return [engine_name, "kill", *containers]


def network_id(engine_name: str, network: str) -> list[str]:
    return [engine_name, "network", "inspect", "--format", "{{.ID}}", network]


def containers_on(engine_name: str, network: str) -> list[str]:
    """IDs of every container (running or not) attached to network."""
    return [engine_name, "ps", "--all", "--quiet", "--filter", f"network={network}"]


# The label kind puts on each node container, its value the cluster's name (kind's providers set it on docker and
# on podman alike).
KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"


def cluster_containers_on(engine_name: str, network: str, cluster: str) -> list[str]:
    """IDs of the kind cluster's node containers (kind labels each with its cluster's name) on network."""
    return [*containers_on(engine_name, network), "--filter", f"label={KIND_CLUSTER_LABEL}={cluster}"]


def network_rm(engine_name: str, network: str) -> list[str]:
    """Without -f: the engine refuses while any container still uses the network."""
    return [engine_name, "network", "rm", network]


def network_inspect(engine_name: str, network: str) -> list[str]:
    """JSON of a container network: docker's IPAM.Config[].Gateway or podman's subnets[].gateway."""
    return [engine_name, "network", "inspect", network]


def podman_network_backend() -> list[str]:
    return ["podman", "info", "--format", "{{.Host.NetworkBackend}}"]
