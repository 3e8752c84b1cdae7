"""The kube provider: real kube-apiserver, controller-manager, scheduler and kubelets (built here from the
k8s.io/kubernetes Go module) on local containerd nodes. `pytest e2e --provider kube` (tox -e kube) per
Kubernetes version, and `cniqs --provider kube`.

Everything that talks to the API server, kubectl and crictl is the shared Kubernetes layer
(cniqs.providers.cluster); only cluster creation (cluster.py) and node access (entering a node's network
and mount namespaces) live here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from cniqs.common import pathenv
from cniqs.common.errors import NodeGone, Refused
from cniqs.common.run import run_process
from cniqs.common.signals import interrupt_on_termination
from cniqs.provider import Option, RunOptions, State, Targets
from cniqs.providers.cluster import api
from cniqs.providers.cluster.backend import Builder, ClusterBackend
from cniqs.providers.cluster.nodes import Nodes
from cniqs.providers.cluster.options import K8S_VERSION
from cniqs.providers.kube import cluster as kube_cluster
from cniqs.providers.kube import state as kube_state
from cniqs.providers.kube import teardown as kube_teardown
from cniqs.providers.kube.state import Cluster
from cniqs.providers.local import render as local_render
from cniqs.providers.local.provider import host_problems
from cniqs.ship import build
from cniqs.toolchain import kubebin

TOOLS = ("runc", "nsenter", "unshare", "ip", "iptables", "busybox", "dnsmasq", "mount", "umount", "sysctl",
         "socat", "etcd", "gcc")  # fmt: skip
# The kube extra's modules are not here: without them this module does not import (cniqs.providers names it).
PYTHON_MODULES = ("kubernetes", "tenacity")
TARGETS = Targets(
    ip=str(local_render.EXT_HOST),
    name=local_render.EXT_NAME,
    url=f"http://{local_render.EXT_NAME}/",
    name_ip=str(local_render.EXT_HOST),
)

OPTIONS = (
    K8S_VERSION,
    Option("--kube-keep", "leave the kube cluster up and print how to reach it and tear it down", action="store_true"),
    Option("--kube-workers", "worker nodes besides the control plane (default 1)", default=1, type=int, metavar="N"),
    Option(
        "--kube-artifacts",
        "where component logs and node state go when something fails (default artifacts/kube)",
        default=str(Path("artifacts") / "kube"),
        metavar="DIR",
    ),
)
DEFAULT_ARTIFACTS = Path("artifacts") / "kube"
ENV_VERSION = "CNIQS_K8S_VERSION"  # the default of --k8s-version for this provider (.ci/run sets 'all')


class KubeAccess:
    """cniqs.providers.cluster.commands.NodeAccess for a kube provider node: its network namespace and its
    containerd's mount namespace, with the built tools (crictl) first on PATH."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def exec_argv(
        self, node: str, argv: Sequence[str], *, stdin: bool = False, env: Mapping[str, str] | None = None
    ) -> list[str]:
        target = self.cluster.node(node)
        path = f"{self.cluster.tools_dir}:{self.cluster.bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin"
        socket = target.layout.socket
        settings = [f"PATH={path}", f"CONTAINER_RUNTIME_ENDPOINT=unix://{socket}", f"CONTAINERD_ADDRESS={socket}"]
        settings += [f"{key}={value}" for key, value in (env or {}).items()]
        return target.enter(["env", *settings, *argv])

    def copy_argv(self, src: str, node: str, dest: str) -> list[str]:
        return self.exec_argv(node, ["cp", "-a", "--", src, dest])


class KubeBackend(ClusterBackend):
    """The Kubernetes layer's backend on a kube provider's cluster, which can also grow and shrink by a worker."""

    def __init__(self, cluster: Cluster, nodes: Nodes, builder: Builder, namespace: str | None) -> None:
        super().__init__(
            "kube", nodes, cluster.name, cluster.kubeconfig, [n.name for n in cluster.nodes], builder, TARGETS,
            cluster.image, namespace=namespace,
        )  # fmt: skip
        self.kube_cluster = cluster

    def add_node(self) -> str:
        node = kube_cluster.add_node(self.kube_cluster, extra_images=self.loaded_images)
        self.nodes = [n.name for n in self.kube_cluster.nodes]
        return node.name

    def remove_node(self, name: str) -> list[str]:
        problems = kube_cluster.remove_node(self.kube_cluster, self.kube_cluster.node(name))
        self.nodes = [n.name for n in self.kube_cluster.nodes]
        return problems


def backend_for(cluster: Cluster, namespace: str | None = None) -> KubeBackend:
    def builder(arch: str, force: bool) -> Path:
        if arch != build.host_arch():
            raise RuntimeError(f"kube nodes run on this machine ({build.host_arch()}), not {arch}")
        return build.build_local(force=force)

    nodes = Nodes(
        run_process,
        KubeAccess(cluster),
        kube_state.cni_dirs(cluster.state),
        runtime_socket=kube_state.runtime_socket(cluster.state),
    )
    return KubeBackend(cluster, nodes, builder, namespace)


def kubectl_on_path(cluster: Cluster) -> AbstractContextManager[None]:
    """The cluster's own kubectl first on PATH (the Kubernetes layer runs `kubectl`): no version skew."""
    return pathenv.first_on_path(cluster.bin_dir)


def select(version: str) -> list[str]:
    """--k8s-version as pinned minors: '' the default, 'all' every pinned one, else exactly the one asked."""
    chosen = version or os.environ.get(ENV_VERSION, "") or kubebin.DEFAULT_MINOR
    if chosen == "all":
        return list(kubebin.KUBE_RELEASES)
    if chosen.removeprefix("v") not in kubebin.KUBE_RELEASES:
        raise ValueError(f"--k8s-version {chosen}: pinned for the kube provider are {', '.join(kubebin.KUBE_RELEASES)}")
    return [chosen.removeprefix("v")]


def cli_minor(options: RunOptions) -> str:
    """The one minor a `cniqs up`/`demo` cluster runs (--k8s-version); Refused, with the pinned ones, otherwise."""
    try:
        return select(str(options.get("--k8s-version", "")))[0]
    except ValueError as exc:
        raise Refused(str(exc)) from None


class KubeProvider:
    name = "kube"
    debian_packages = True

    def options(self) -> Sequence[Option]:
        return OPTIONS

    def prerequisites(self, options: RunOptions) -> list[str]:
        problems = host_problems(TOOLS, PYTHON_MODULES, "network namespaces, containerd, kubelet, iptables")
        if problems[:1] and problems[0].startswith("needs Linux"):
            return problems
        try:
            minors = select(str(options.get("--k8s-version", "")))
        except ValueError as exc:
            return [*problems, str(exc)]
        if shutil.which("go") is None:
            # Also where an earlier build exists: its cache key is the Go version, which only Go can tell.
            problems.append(
                f"no Go toolchain on PATH: the kube provider builds Kubernetes {', '.join(minors)} with it and finds "
                "its cached build by Go's version (https://go.dev/doc/install; then `python -m "
                "cniqs.toolchain.kubebin tools " + " ".join(minors) + "`)"
            )
        return problems

    def variants(self, options: RunOptions) -> list[str]:
        return select(str(options.get("--k8s-version", "")))

    @contextmanager
    def open(self, options: RunOptions, variant: str | None = None) -> Iterator[ClusterBackend]:
        """A cluster per Kubernetes version for the e2e suite; on a failed test its component logs and node
        state go to artifacts/kube/<cluster> before teardown."""
        minor = variant or select(str(options.get("--k8s-version", "")))[0]
        workers = int(options.get("--kube-workers", 1))
        if workers < 1:
            raise ValueError("--kube-workers must be at least 1: the suite needs pods on two nodes")
        watcher = options.watcher
        if watcher is not None:
            watcher.record(minor, image=f"Kubernetes {kubebin.release_for(minor)} built here")
        keep = bool(options.get("--kube-keep", False))
        api.load_soon()  # while the cluster comes up
        with (
            interrupt_on_termination(),
            kube_cluster.up(minor, workers=workers, keep=keep, say=options.say) as cluster,
            kubectl_on_path(cluster),
        ):
            backend = backend_for(cluster)
            artifacts = Path(str(options.get("--kube-artifacts", DEFAULT_ARTIFACTS))) / cluster.name
            if watcher is not None:
                watcher.record(minor, cluster=cluster.name)
                watcher.opened(minor, backend, artifacts)
            failed = False
            try:
                backend.create_namespace()
                yield backend
            except BaseException:
                failed = True
                raise
            finally:
                if watcher is not None:
                    watcher.closed(minor)
                    if failed or watcher.failed(minor):
                        watcher.record(minor, artifacts=kube_cluster.collect_logs(cluster, artifacts))
                backend.close()

    @contextmanager
    def temporary(self, options: RunOptions, *, name: str, workdir: Path) -> Iterator[ClusterBackend]:
        minor = cli_minor(options)
        with (
            interrupt_on_termination(),
            kube_cluster.up(minor, workers=0, say=options.say) as cluster,
            kubectl_on_path(cluster),
        ):
            backend = backend_for(cluster, namespace="default")
            try:
                yield backend
            finally:
                backend.close()

    def up(self, options: RunOptions, *, name: str, workdir: Path) -> State:
        minor = cli_minor(options)
        with kube_cluster.up(minor, workers=0, keep=True, say=lambda _: None) as cluster:
            state = State(
                "kube", cluster.name, root=cluster.state.root, image=cluster.image, kubeconfig=str(cluster.kubeconfig),
                extra={"bin": str(cluster.bin_dir), "minor": minor},
            )  # fmt: skip
        return state

    def attach(self, state: State) -> ClusterBackend:
        try:
            cluster = kube_cluster.attach(Path(state.root))
        except (OSError, ValueError, RuntimeError) as exc:
            raise NodeGone(f"kube cluster {state.id} is not running any more ({exc}): run `cniqs down`") from None
        pathenv.prepend(cluster.bin_dir)  # this process only: kubectl
        return backend_for(cluster, namespace="default")

    def destroy(self, state: State) -> list[str]:
        if not (Path(state.root) / kube_state.CLUSTER_STATE).is_file():
            return []
        return kube_teardown.teardown(Path(state.root))

    def describe(self, state: State) -> str:
        return f"kube cluster {state.id} (Kubernetes {state.extra.get('minor', '?')}, root {state.root})"

    def up_message(self, name: str) -> str:
        return "Starting a real Kubernetes (etcd, API server, scheduler, kubelet) on a local containerd node"

    def hints(self, state: State) -> list[str]:
        return [
            f"  export KUBECONFIG={state.kubeconfig}",
            f"  export PATH={state.extra.get('bin', '')}:$PATH",
            "  kubectl get nodes; kubectl describe pod test; kubectl exec test -- ip a s",
        ]
