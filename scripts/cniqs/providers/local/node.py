"""One real containerd node in network namespaces, driven over CRI: the local provider."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cniqs import provider
from cniqs.common import procs
from cniqs.common.beliefs import NEEDS_KUBERNETES, Belief, cache_file_for, cached_result_ips
from cniqs.common.cniconfig import chain_summary, loaded_chain
from cniqs.common.errors import Refused
from cniqs.common.ipaddr import parse_ip_addr
from cniqs.common.run import run
from cniqs.common.signals import deferred
from cniqs.common.waits import Fatal, NotYet, until
from cniqs.install import conflist, executable, kindnet
from cniqs.install.nodefs import LocalFiles
from cniqs.providers.local import cleanup, containerd, images, netns, render, restart, services
from cniqs.providers.local.cri import CRI, PodSpec
from cniqs.providers.local.layout import Layout, RunState, new_run_id
from cniqs.providers.local.settings import Settings
from cniqs.ship import build

REFERENCE_PLUGINS = Path("/usr/lib/cni")
BASE_CONFLIST = "10-kindnet.conflist"
POD_NAMESPACE = "default"
TEARDOWN_NOTE = "cni-quickstart local provider: tearing down the node, please wait"


@dataclass(frozen=True)
class Handle:
    """Backend-private part of a Pod: the CRI ids."""

    sandbox_id: str
    container_id: str
    uid: str


class LocalBackend:
    """provider.Backend on one local containerd node. Built by `up()`, which also tears it down."""

    name = "local"

    def __init__(self, layout: Layout, cri: CRI, image: str) -> None:
        self.layout = layout
        self.cri = cri
        self.image = image
        self.node = f"cniqs-{layout.run_id}"
        self.nodes: Sequence[str] = (self.node,)
        self.targets = provider.Targets(
            ip=str(render.EXT_HOST),
            name=render.EXT_NAME,
            url=f"http://{render.EXT_NAME}/",
            name_ip=str(render.EXT_HOST),
        )
        self.files = LocalFiles()
        self.variant = kindnet.KINDNET
        self._pods: dict[str, provider.Pod] = {}
        self._lock = threading.Lock()
        self.run_state: RunState | None = None  # set by _start; restart_runtime() updates its pid

    # CNI config

    def _cidrs(self, variant: provider.ChainVariant) -> list[str]:
        return [str(render.POD_CIDR_V4), *([str(render.POD_CIDR_V6)] if variant.dual_stack else [])]

    def base_chain(self, variant: provider.ChainVariant | None = None) -> dict[str, Any]:
        v = variant or self.variant
        return kindnet.kindnet_chain(v, self._cidrs(v), str(self.layout.ipam_data))

    def wait_loaded(self, chain: dict[str, Any], timeout: float = 20) -> None:
        """Return once containerd's CRI reports exactly this chain as its loaded network."""

        def probe() -> bool:
            loaded = loaded_chain(self.cri.cni_config())
            if loaded != chain:
                raise NotYet(f"loaded: {chain_summary(loaded)}")
            return True

        until(f"containerd to load CNI chain {chain_summary(chain)}", probe, timeout=timeout)

    def write_base(self, variant: provider.ChainVariant) -> dict[str, Any]:
        chain = self.base_chain(variant)
        self.files.write_atomic(str(self.layout.cni_conf / BASE_CONFLIST), conflist.render(chain))
        return chain

    def use_base_chain(self, variant: provider.ChainVariant | None) -> None:
        variant = variant or kindnet.KINDNET
        if conflist.INSTALLED_NAME in self.files.list_dir(str(self.layout.cni_conf)):
            raise RuntimeError("uninstall cni-quickstart before changing the base chain it was derived from")
        chain = self.write_base(variant)
        self.variant = variant
        self.wait_loaded(chain)

    def install_daemonset(self, entry: dict[str, Any] | None = None) -> str:
        raise Refused("a DaemonSet needs a Kubernetes provider: --provider kube or kind")

    def uninstall_daemonset(self) -> None:
        raise Refused("a DaemonSet needs a Kubernetes provider: --provider kube or kind")

    def active_chain(self, node: str) -> dict[str, Any]:
        return conflist.active_source(self.files, str(self.layout.cni_conf))[1]

    def install(self, entry: dict[str, Any]) -> None:
        # The plugin logs into the run's root, where plugin_log() reads it.
        entry = {**entry, "logFile": str(self.layout.plugin_log)}
        conf_dir = str(self.layout.cni_conf)
        plan = conflist.install(self.files, conf_dir, entry) or conflist.plan_install(self.files, conf_dir, entry)
        if plan is None:  # already installed with this entry
            chain = json.loads(self.files.read_text(f"{conf_dir}/{conflist.INSTALLED_NAME}"))
        else:
            chain = plan.chain
        self.wait_loaded(chain)

    def uninstall(self) -> None:
        conflist.uninstall(self.files, str(self.layout.cni_conf))
        self.wait_loaded(self.base_chain())

    # pods

    def sandbox_spec(self, name: str) -> PodSpec:
        """What kubelet would send for pod default/name: a fresh uid, its log dir, cgroup parent and DNS."""
        uid = str(uuid.uuid4())
        log_dir = self.layout.pod_logs / f"{POD_NAMESPACE}_{name}_{uid}"
        log_dir.mkdir(parents=True, exist_ok=True)
        return PodSpec(
            namespace=POD_NAMESPACE,
            name=name,
            uid=uid,
            log_dir=str(log_dir),
            cgroup_parent=f"{self.layout.cgroup_parent}/pod{uid}",
            dns_servers=(str(render.EXT_DNS),),
            dns_searches=render.POD_SEARCHES,
            dns_options=render.POD_DNS_OPTIONS,
        )

    def run_pod(
        self, name: str, *, node: str | None = None, command: Sequence[str] = ("sleep", "infinity")
    ) -> provider.Pod:
        if node not in (None, self.node):
            raise ValueError(f"no node {node!r}: this backend has one node, {self.node}")
        spec = self.sandbox_spec(name)
        sandbox_id = self.cri.run_pod_sandbox(spec)
        try:
            container_id = self.cri.start_container(sandbox_id, name, self.image, command)
        except BaseException:
            self.cri.remove_pod_sandbox(sandbox_id)
            raise
        pod = provider.Pod(POD_NAMESPACE, name, self.node, Handle(sandbox_id, container_id, spec.uid))
        with self._lock:
            self._pods[sandbox_id] = pod
        return pod

    def delete_pod(self, pod: provider.Pod) -> None:
        handle: Handle = pod.handle
        self.cri.remove_pod_sandbox(handle.sandbox_id)
        with self._lock:
            self._pods.pop(handle.sandbox_id, None)

    def pods(self) -> list[provider.Pod]:
        with self._lock:
            return sorted(self._pods.values(), key=lambda p: p.name)

    def adopt(self, pod: provider.Pod) -> None:
        """Track a pod this backend did not start (one found again on a kept node)."""
        with self._lock:
            self._pods[pod.handle.sandbox_id] = pod

    def find_pod(self, name: str) -> provider.Pod | None:
        return next((pod for pod in self.pods() if pod.name == name), None)

    def close(self) -> None:
        self.cri.close()

    def restart_runtime(self, timeout: float = 30) -> None:
        """SIGKILL containerd and start it again in the same mount namespace (see restart.py); return once
        its CRI answers with the CNI chain it had loaded before."""
        if self.run_state is None:
            raise RuntimeError("this node's run state is unknown (not started by up()): cannot restart it")
        chain = loaded_chain(self.cri.cni_config())
        proc = restart.kill_and_start(self.layout, self.run_state)
        until("the restarted containerd's CRI to answer", lambda: _alive(proc, self.layout) and self.cri.version(),
              timeout=timeout)  # fmt: skip
        if chain is not None:
            self.wait_loaded(chain, timeout=timeout)

    def remove_all_pods(self, timeout: float = 20) -> list[str]:
        """Every sandbox containerd knows, ours or left from a failed test; return problems."""
        problems = []
        try:
            sandboxes = self.cri.sandboxes()
        except Exception as exc:  # noqa: BLE001 - teardown goes on without the runtime
            return [f"cannot list pods: {exc}"]
        for sandbox_id, namespace, name in sandboxes:
            try:
                self.cri.remove_pod_sandbox(sandbox_id, timeout=timeout)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"pod {namespace}/{name}: {exc}")
        with self._lock:
            self._pods.clear()
        return problems

    def beliefs(self, pod: provider.Pod) -> list[Belief]:
        """What a local node has of the Kubernetes lines: the runtime's report and libcni's cached result."""
        sandbox = pod.handle.sandbox_id
        found = [Belief("the runtime: CRI PodSandboxStatus", self.cri.sandbox_ips(sandbox), "PodSandboxStatus")]
        results = self.layout.cni_cache / "results"
        name = cache_file_for(sorted(p.name for p in results.iterdir()) if results.is_dir() else [], sandbox)
        who = "the runtime's cached CNI result (libcni)"
        if name is None:
            found.append(Belief(who, [], f"no file for sandbox {sandbox} in {results}", available=False))
        else:
            found.append(Belief(who, cached_result_ips((results / name).read_text()), str(results / name)))
        for who in ("the API: status.podIP / podIPs", "kubectl describe pod (IP:)", "a Service's EndpointSlice",
                    "the pod's /etc/hosts (its hostname)", "the Downward API (env from status.podIP)"):  # fmt: skip
            found.append(Belief(who, [], NEEDS_KUBERNETES, available=False))
        return found

    def reported_views(self, pod: provider.Pod) -> dict[str, list[str]]:
        return {"PodSandboxStatus": self.reported_ips(pod)}

    def reported_ips(self, pod: provider.Pod) -> list[str]:
        return self.cri.sandbox_ips(pod.handle.sandbox_id)

    def exec(self, pod: provider.Pod, argv: Sequence[str], timeout: float = 30) -> provider.ExecResult:
        result = self.cri.exec_sync(pod.handle.container_id, argv, timeout)
        return provider.ExecResult(result.rc, result.stdout, result.stderr)

    def pod_cidrs(self, node: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(c) for c in self._cidrs(self.variant)]

    def plugin_log(self, node: str) -> list[dict[str, Any]]:
        try:
            lines = self.layout.plugin_log.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    # diagnostics and the cniqs tool

    def real_ips(self, pod: provider.Pod) -> list[str]:
        try:
            out = self.exec(pod, ["ip", "-o", "addr", "show", "dev", "eth0"], timeout=5).stdout
        except Exception as exc:  # noqa: BLE001 - diagnostics must not fail
            return [f"(exec failed: {exc})"]
        return parse_ip_addr(out)

    def diagnostics(self) -> str:
        parts = [f"node {self.node}, run root {self.layout.root}"]
        try:
            parts.append("loaded CNI chain: " + chain_summary(loaded_chain(self.cri.cni_config())))
        except Exception as exc:  # noqa: BLE001
            parts.append(f"loaded CNI chain: unknown ({exc})")
        for pod in self.pods():
            try:
                reported = ", ".join(self.cri.sandbox_ips(pod.handle.sandbox_id))
            except Exception as exc:  # noqa: BLE001
                reported = f"(unknown: {exc})"
            parts.append(f"pod {pod.namespace}/{pod.name}: reported {reported}; real {', '.join(self.real_ips(pod))}")
        parts.append("--- containerd log tail ---\n" + containerd.log_tail(self.layout.containerd_log, 30))
        parts.append("--- cni-quickstart log tail ---\n" + containerd.log_tail(self.layout.plugin_log, 10))
        return "\n".join(parts)

    def how_to_poke(self) -> str:
        sock = self.layout.socket
        return "\n".join(
            [
                f"local node {self.node} kept up; run root {self.layout.root}",
                f"  crictl:     crictl --runtime-endpoint unix://{sock} pods   (if crictl is installed)",
                f"  ctr:        ctr -a {sock} -n k8s.io containers ls",
                f"  node shell: nsenter --net=/run/netns/{self.layout.node_netns} sh",
                f"  ext shell:  nsenter --net=/run/netns/{self.layout.ext_netns} sh",
                f"  CNI:        {self.layout.cni_conf}  (logs in {self.layout.logs})",
                f"  teardown:   python -m cniqs.providers.local.cleanup {self.layout.root}",
            ]
        )


def _populate_bin_dir(layout: Layout, plugin_folder: Path) -> None:
    files = LocalFiles()
    for plugin in sorted(REFERENCE_PLUGINS.iterdir()):
        files.symlink(str(plugin), str(layout.cni_bin / plugin.name))
    executable.install_executable(files, plugin_folder, str(layout.cni_bin))


def _images(layout: Layout, settings: Settings) -> tuple[list[Path], str, str]:
    """(archives to import, test image, pause image)."""
    busybox = Path(shutil.which("busybox") or "/bin/busybox").read_bytes()
    arch = build.host_arch()
    pause = images.pause_image(busybox, arch)
    archives = [images.write(pause, layout.images)]
    if settings.image_archive is not None:
        names = images.archive_image_names(settings.image_archive)
        image = settings.image or (names[0] if names else "")
        if not image:
            raise RuntimeError(f"{settings.image_archive} names no image; say which with --local-image")
        archives.append(settings.image_archive)
    else:
        test = images.test_image(busybox, arch)
        archives.append(images.write(test, layout.images))
        image = test.name
    return archives, image, pause.name


@contextmanager
def up(settings: Settings) -> Iterator[LocalBackend]:
    """Bring a node up, yield its backend, tear everything down on the way out (unless kept)."""
    plugin_folder = build.build_local()  # before creating anything: the slow part when sources changed
    run_id = new_run_id()
    root = Path(tempfile.mkdtemp(prefix=f"cniqs-{run_id}-", dir=settings.root_parent))
    layout = Layout(run_id, root)
    state = RunState(run_id, str(root), owner_pid=os.getpid())
    started: list[LocalBackend] = []
    try:
        yield _start(layout, state, settings, plugin_folder, started)
    finally:
        backend = started[0] if started else None
        if settings.keep:
            state.kept = True
            state.save(layout.state_file)
            teardown_hint = f"local node kept; teardown: python -m cniqs.providers.local.cleanup {root}"
            settings.say(backend.how_to_poke() if backend is not None else teardown_hint)
        else:
            problems = _stop(backend, layout, state)
            if problems:
                settings.say("local node teardown left problems:\n  " + "\n  ".join(problems))


def _start(
    layout: Layout, state: RunState, settings: Settings, plugin_folder: Path, started: list[LocalBackend]
) -> LocalBackend:
    """Namespaces, external servers, CNI dirs, containerd, images; each step saved for teardown first."""
    for d in layout.dirs():
        d.mkdir(parents=True, exist_ok=True)
    state.save(layout.state_file)
    netns.build(layout.node_netns, layout.ext_netns, [str(render.POD_CIDR_V4)])
    state.service_pids = [p.pid for p in services.start(layout)]
    state.save(layout.state_file)
    archives, image, pause = _images(layout, settings)
    _populate_bin_dir(layout, plugin_folder)
    opts = render.ContainerdOptions(sandbox_image=pause, log_level=settings.log_level)
    layout.containerd_config.write_text(render.containerd_config(layout, opts))
    cri = CRI(layout.socket)
    backend = LocalBackend(layout, cri, image)
    backend.run_state = state
    started.append(backend)
    base_chain = backend.write_base(kindnet.KINDNET)
    proc = containerd.start(layout)
    state.containerd_pid = proc.pid
    state.containerd_mntns = until("containerd's own mount namespace", lambda: _own_mntns(proc.pid), timeout=10)
    state.save(layout.state_file)
    until("containerd's CRI to answer", lambda: _alive(proc, layout) and cri.version(), timeout=30)
    for archive in archives:
        containerd.import_image(layout, archive)
    until(f"image {image} in the CRI image store", lambda: cri.image_present(image), timeout=10)
    backend.wait_loaded(base_chain)
    for argv in services.probe_argv(layout):
        until(f"the external side to answer {' '.join(argv[2:])}", lambda a=argv: _succeeds(a), timeout=10)  # type: ignore[misc]
    return backend


def _stop(backend: LocalBackend | None, layout: Layout, state: RunState) -> list[str]:
    """Pods through CRI first (so CNI DEL runs), then everything else from the run's state."""
    with deferred(TEARDOWN_NOTE):  # a second Ctrl-C or a SIGTERM does not interrupt teardown
        problems = []
        if backend is not None and state.containerd_pid is not None:  # no runtime yet: no pods to remove
            problems += backend.remove_all_pods()
            backend.cri.close()
        return problems + cleanup.teardown(layout, state)


def _succeeds(argv: list[str]) -> bool:
    run(argv, timeout=5)
    return True


def _own_mntns(pid: int) -> str | None:
    """containerd's mount namespace once unshare has made it (it differs from ours from then on)."""
    ns = procs.mount_ns(pid)
    return ns if ns is not None and ns != procs.mount_ns("self") else None


def _alive(proc: subprocess.Popen[bytes], layout: Layout) -> bool:
    if proc.poll() is not None:
        tail = containerd.log_tail(layout.containerd_log, 15)
        raise Fatal(f"containerd exited with {proc.returncode}:\n{tail}")
    return True
