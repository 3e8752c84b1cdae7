"""A Provider's Backend over one Kubernetes cluster: the API client, kubectl and crictl on its nodes.

Parametrized by the provider's node access (kind: `docker exec`/`docker cp`), a kubeconfig and a
builder of the node executable per architecture; everything else is the same for every cluster.
"""

from __future__ import annotations

import ipaddress
import secrets
import shlex
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from cniqs.common.beliefs import Belief
from cniqs.common.run import check
from cniqs.common.waits import POD_GONE_SECONDS, POD_READY_SECONDS, NotYet, wait_until
from cniqs.install import conflist, executable
from cniqs.install.conflist import chain_entry
from cniqs.provider import ExecResult, Pod, Targets
from cniqs.providers.cluster import api, daemonset, diagnostics, installer, parse, podexec, pods
from cniqs.providers.cluster import beliefs as k8s_beliefs
from cniqs.providers.cluster import commands as cmd
from cniqs.providers.cluster import install as node_install
from cniqs.providers.cluster.nodes import Nodes, NodeShellFiles, on_each, platform, read_optional

DEFAULT_LOG_FILE = str(chain_entry().get("logFile", ""))

# (architecture, force a fresh build) -> the one-folder build of the plugin for linux/<architecture>
Builder = Callable[[str, bool], Path]


class ClusterBackend:
    """cniqs.provider.Backend on a Kubernetes cluster whose nodes this process reaches through `nodes`."""

    def __init__(
        self,
        name: str,
        nodes: Nodes,
        cluster: str,
        kubeconfig: Path,
        node_names: Sequence[str] | None,
        builder: Builder,
        targets: Targets,
        pod_image: str,
        *,
        rebuild: bool = False,
        namespace: str | None = None,
    ) -> None:
        self.name = name
        self.shell = nodes
        self.run = nodes.run
        self.cluster = cluster
        self.builder = builder
        self._targets = targets
        self._before_targets: Callable[[], None] | None = None
        self._targets_lock = threading.Lock()
        self.pod_image = pod_image
        self.rebuild = rebuild
        self.namespace = namespace or f"cniqs-e2e-{secrets.token_hex(3)}"
        self.kubeconfig = str(kubeconfig)
        self.api_client, self.core, self.discovery, self.apps = api.connect(self.kubeconfig)
        self.loaded_images: list[Path] = []  # archives load_image put on every node (a node that joins needs them)
        api_nodes = {n.metadata.name: n for n in self.core.list_node().items}
        # Only Kubernetes nodes count (kind also lists an HA load balancer container as a node).
        candidates = sorted(api_nodes) if node_names is None else node_names
        self.nodes: Sequence[str] = [n for n in candidates if n in api_nodes]
        self.default_node = pods.default_node([api_nodes[n] for n in self.nodes])
        self.entry: dict[str, Any] | None = None
        self.installed: dict[str, node_install.Installed] = {}
        self.manifests: dict[str, dict[str, str]] = {}
        self.archs: dict[str, str] = {}  # node -> architecture (_archs)
        self.glibc: dict[str, str] = {}  # node -> its C library, as getconf names it (_glibcs)

    @property
    def targets(self) -> Targets:
        """What the connectivity checks reach; the first look waits for what the provider left to settle
        (before_targets: kind at a site, CoreDNS restarting with the site's zone)."""
        with self._targets_lock:
            if self._before_targets is not None:
                settle, self._before_targets = self._before_targets, None
                settle()
        return self._targets

    def before_targets(self, settle: Callable[[], None]) -> None:
        self._before_targets = settle  # run once, at the first look at targets

    # lifecycle helpers used by the provider's open

    def wait_nodes_ready(self) -> None:
        def probe() -> bool:
            items = self.core.list_node().items
            waiting = [n.metadata.name for n in items if not pods.node_ready(n)]
            if waiting or not items:
                raise NotYet(f"not Ready: {', '.join(waiting) or 'no nodes yet'}")
            return True

        wait_until(f"every node of {self.cluster} to be Ready", probe, POD_READY_SECONDS, interval=2)

    def create_namespace(self) -> None:
        self.core.create_namespace(
            {"metadata": {"name": self.namespace, "labels": {pods.TEST_LABEL: pods.TEST_LABEL_VALUE}}}
        )

        def probe() -> bool:
            self.core.read_namespaced_service_account("default", self.namespace)
            return True

        wait_until(f"the default ServiceAccount of {self.namespace}", probe, 60, retry_on=(ApiException,))

    def delete_namespace(self) -> None:
        try:
            self.core.delete_namespace(self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def close(self) -> None:
        self.api_client.close()

    # install / uninstall

    # the DaemonSet installer (cniqs.providers.cluster.daemonset)

    def load_image(self, archive: Path) -> None:
        """The archive into every node's runtime (no registry): copied to the node, imported with ctr."""
        self.loaded_images.append(archive)

        def one(node: str) -> None:
            # Named by this run's namespace and the node: a kube provider's nodes share the host's /tmp, and
            # another run, or another node of this one, loading the same archive at once would otherwise remove
            # it under this one's import.
            dest = f"/tmp/.{self.namespace}-{node}-{archive.name}"
            check(self.run, cmd.node_copy(self.shell.access, str(archive), node, dest), f"copy the image to {node}")
            try:
                check(self.run, cmd.node_image_import(self.shell.access, node, dest), f"import on {node}", timeout=300)
            finally:
                self.run(cmd.node_rm(self.shell.access, node, dest), timeout=30)

        on_each(self.nodes, one)

    def provide_image(self, archive: Path, image: str) -> str:
        """Make an image built here available to every node; the name the nodes run it by."""
        self.load_image(archive)
        return image

    def install_daemonset(self, entry: dict[str, Any] | None = None) -> str:
        """Build and load the installer image, apply the DaemonSet, wait until it is ready on every node."""
        image = self.install_daemonset_nowait(entry)
        self.wait_daemonset()
        return image

    def install_daemonset_nowait(self, entry: dict[str, Any] | None = None) -> str:
        """Build and load the installer image and apply the DaemonSet; return its image. The image holds the
        provider's node build for the nodes' architecture (kind: native, else the container build), so it needs
        nothing the plain install does not. A node whose glibc is older than the plugin build's floor refuses it
        before the image is loaded anywhere."""
        archs = sorted(set(self._archs().values()))
        if len(archs) != 1:
            raise RuntimeError(f"the installer image is built for one architecture; these nodes run {archs}")
        plugin = self.builder(archs[0], self.rebuild)
        self.rebuild = False  # a forced rebuild is one build per run
        image = daemonset.build_image(plugin)
        remedy = node_install.DAEMONSET_BUILD
        glibcs = self._glibcs()
        on_each(self.nodes, lambda node: node_install.check_glibc(self.shell, node, image.plugin, remedy, glibcs[node]))
        name = self.provide_image(image.archive, image.name)
        body = daemonset.manifest(
            name,
            bin_dir=self.shell.cni.bin_dir,
            conf_dir=self.shell.cni.conf_dir,
            socket=self.shell.runtime_socket,
            entry=entry,
        )
        installer.apply(self.apps, body)
        return name

    def wait_daemonset(self, timeout: float = POD_READY_SECONDS) -> None:
        installer.wait_ready(self.apps, len(self.nodes), timeout)

    def uninstall_daemonset(self) -> None:
        """Delete the DaemonSet; its pods' preStop removes what they added; return once they are gone."""
        installer.delete(self.apps, self.core)

    def active_chain(self, node: str) -> dict[str, Any]:
        return conflist.active_source(NodeShellFiles(self.shell, node), self.shell.cni.conf_dir)[1]

    def _per_node(self, known: dict[str, str], ask: Callable[[str], str]) -> dict[str, str]:
        """What ask(node) says of each node, asked once per node (a node keeps its own): known holds the
        answers so far."""
        known.update(on_each([node for node in self.nodes if node not in known], ask))
        return {node: known[node] for node in self.nodes}

    def _archs(self) -> dict[str, str]:
        return self._per_node(self.archs, lambda node: parse.platform_arch(platform(self.shell, node)))

    def _glibcs(self) -> dict[str, str]:
        return self._per_node(self.glibc, lambda node: node_install.node_glibc(self.shell, node))

    def install(self, entry: dict[str, Any]) -> None:
        """The plugin on every node at once (each records itself in installed as soon as it is there, so a
        failure on one node still leaves the others' installs known to uninstall)."""
        archs, glibcs = self._archs(), self._glibcs()
        builds: dict[str, tuple[Path, dict[str, str]]] = {}
        for arch in sorted(set(archs.values())):
            folder = self.builder(arch, self.rebuild)
            self.rebuild = False  # a forced rebuild is one build per run, not one per install
            builds[arch] = (folder, executable.manifest(folder))

        def one(node: str) -> None:
            folder, expected = builds[archs[node]]
            self.installed[node], _ = node_install.install(self.shell, node, folder, expected, entry, glibcs[node])
            self.manifests[node] = expected

        on_each(self.nodes, one)
        self.entry = dict(entry)
        on_each(self.nodes, lambda node: node_install.wait_chain(self.shell, node, entry))

    def uninstall(self) -> None:
        def one(node: str) -> None:
            node_install.uninstall_conflist(self.shell, node)
            node_install.wait_chain(self.shell, node, None)  # the runtime runs the old chain before the binary goes
            node_install.uninstall_binary(self.shell, node)
            self.installed.pop(node, None)

        on_each(self.nodes, one)

    def use_base_chain(self, variant: Any) -> None:
        """kindnet's chain in another variant (provider.ChainVariant: cni_version, dual_stack) on every node.

        None restores the cluster's own chain (kindnetd's file). Only while the plugin is not installed.
        """
        if self.installed:
            raise RuntimeError("use_base_chain needs the plugin uninstalled first")
        version = None if variant is None else str(variant.cni_version)
        dual = False if variant is None else bool(variant.dual_stack)
        on_each(self.nodes, lambda node: node_install.use_base_loaded(self.shell, node, version, dual))

    # pods

    def run_pod(self, name: str, *, node: str | None = None, command: Sequence[str] = ("sleep", "infinity")) -> Pod:
        # Without a node, pods go to one default node (the first worker): tests that send traffic
        # with a small TTL rely on pod -> node -> pod being the whole path.
        manifest = pods.pod_manifest(name, self.namespace, self.pod_image, command, node or self.default_node)
        self.core.create_namespaced_pod(self.namespace, manifest)

        def probe() -> Any:
            obj = self.core.read_namespaced_pod(name, self.namespace)
            ran, where = pods.pod_state(obj)
            if not ran:
                raise NotYet(where)
            return obj

        try:
            obj = wait_until(f"pod {self.namespace}/{name} to be Ready", probe, POD_READY_SECONDS, interval=1)
        except BaseException:  # never Ready, or Ctrl-C: the pod must not outlive the attempt
            self.delete_pod(Pod(self.namespace, name, node or self.default_node or ""))
            raise
        return Pod(self.namespace, name, obj.spec.node_name, handle=obj.metadata.uid)

    def delete_pod(self, pod: Pod) -> None:
        try:
            self.core.delete_namespaced_pod(pod.name, pod.namespace, grace_period_seconds=0)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise

        def probe() -> bool:
            try:
                self.core.read_namespaced_pod(pod.name, pod.namespace)
            except ApiException as exc:
                if exc.status == 404:
                    return True
                raise
            raise NotYet("still there")

        wait_until(f"pod {pod.namespace}/{pod.name} to be gone", probe, POD_GONE_SECONDS)

    def reported_views(self, pod: Pod) -> dict[str, list[str]]:
        obj = self.core.read_namespaced_pod(pod.name, pod.namespace)
        return {
            "status.podIPs": pods.status_ips(obj),
            "kubectl describe": parse.describe_ips(self.describe_pod(pod)),
            "crictl inspectp": self.sandbox_ips(pod.node, obj.metadata.uid),
        }

    def reported_ips(self, pod: Pod) -> list[str]:
        return pods.status_ips(self.core.read_namespaced_pod(pod.name, pod.namespace))

    def sandbox_ips(self, node: str, pod_uid: str) -> list[str]:
        sandbox = self.sandbox_id(node, pod_uid)
        if sandbox is None:
            return []
        argv = cmd.crictl_inspectp(self.shell.access, node, sandbox)
        return parse.inspectp_ips(check(self.run, argv, f"crictl inspectp on {node}"))

    def sandbox_id(self, node: str, pod_uid: str) -> str | None:
        access = self.shell.access
        ids = parse.lines(check(self.run, cmd.crictl_pods_of(access, node, pod_uid), f"crictl pods on {node}"))
        return ids[0] if ids else None

    def beliefs(self, pod: Pod) -> list[Belief]:
        """Every place this cluster keeps an address for the pod, read back (a Service is made and removed)."""
        return k8s_beliefs.read(self, pod)

    def exec(self, pod: Pod, argv: Sequence[str], timeout: float = 30) -> ExecResult:
        return podexec.pod_exec(self.api_client.configuration, pod.namespace, pod.name, argv, timeout)

    def pod_cidrs(self, node: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return pods.node_cidrs(self.core.read_node(node))

    def plugin_log(self, node: str) -> list[dict[str, Any]]:
        text = read_optional(self.shell, node, self.log_file)
        return parse.json_lines(text or "")

    @property
    def log_file(self) -> str:
        return str((self.entry or {}).get("logFile") or DEFAULT_LOG_FILE)

    # helpers for the Kubernetes-only tests (e2e/test_kind_*.py)

    def create_service(self, name: str, pod: Pod) -> None:
        self.core.create_namespaced_service(pod.namespace, pods.service_manifest(name, pod.namespace, pod.name))

    def endpoint_addresses(self, service: str, namespace: str | None = None) -> list[str]:
        selector = f"kubernetes.io/service-name={service}"
        return pods.endpoint_slice_addresses(
            self.discovery.list_namespaced_endpoint_slice(namespace or self.namespace, label_selector=selector)
        )

    def verify_node(self, node: str) -> None:
        """Check the installed files on a node against the build again (raises NodeInstallError)."""
        node_install.verify_binary(self.shell, node, self.manifests[node])

    def loaded_chain(self, node: str) -> tuple[bool, str]:
        """(the installed entry is what containerd loaded on node, the loaded chain in one line)."""
        return node_install.chain_state(self.shell, node, self.entry)

    def describe_pod(self, pod: Pod) -> str:
        return check(self.run, cmd.kubectl_describe_pod(self.kubeconfig, pod.namespace, pod.name), "kubectl describe")

    def diagnostics(self) -> str:
        return diagnostics.summary(
            self.shell, self.nodes, self.entry, log_file=self.log_file, kubeconfig=self.kubeconfig,
            namespace=self.namespace,
        )  # fmt: skip

    def collect(self, dest: Path) -> Path:
        """Namespace and node state into dest (a failing test's artifacts)."""
        return diagnostics.collect(
            self.shell, dest, kubeconfig=self.kubeconfig, namespace=self.namespace, node_names=list(self.nodes),
            log_file=self.log_file,
        )  # fmt: skip

    # what the cniqs tool shows

    def pods(self) -> list[Pod]:
        items = self.core.list_namespaced_pod(self.namespace).items
        return sorted((self._pod(obj) for obj in items), key=lambda p: p.name)

    def find_pod(self, name: str) -> Pod | None:
        try:
            return self._pod(self.core.read_namespaced_pod(name, self.namespace))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _pod(self, obj: Any) -> Pod:
        return Pod(self.namespace, obj.metadata.name, obj.spec.node_name or "", handle=obj.metadata.uid)

    def how_to_poke(self) -> str:
        """The kubeconfig, the two views of a pod (what Kubernetes reports, what its eth0 has), and per node
        the runtime's own view and the CNI conf dir, each as a command to paste."""
        kubectl = f"kubectl -n {self.namespace}"
        pod = next((p.name for p in self.pods()), "POD")
        lines = [
            f"  kubectl:  export KUBECONFIG={self.kubeconfig}",
            f"  pods:     {kubectl} get pods -o wide",
            f"  reported: {kubectl} describe pod {pod} | grep -A3 '^IP'   (what the last CNI plugin said)",
            f"  real:     {kubectl} exec {pod} -- ip a s eth0",
        ]
        for node in self.nodes:
            access = self.shell.access
            lines.append(f"  node {node}:")
            lines.append(f"    runtime:  {shlex.join(access.exec_argv(node, ['crictl', 'pods']))}")
            lines.append(f"    CNI conf: {shlex.join(access.exec_argv(node, ['ls', '-l', self.shell.cni.conf_dir]))}")
        return "\n".join(lines)
