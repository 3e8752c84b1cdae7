"""A small CRI v1 client over containerd's unix socket: the calls kubelet makes to run a pod."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cri_api.v1 import api_pb2 as api
from cri_api.v1 import api_pb2_grpc as rpc


@dataclass(frozen=True)
class PodSpec:
    """Kubernetes-like pod identity and DNS, as kubelet would hand it to the runtime."""

    namespace: str
    name: str
    uid: str
    log_dir: str
    cgroup_parent: str
    dns_servers: Sequence[str] = ()
    dns_searches: Sequence[str] = ()
    dns_options: Sequence[str] = ()


@dataclass(frozen=True)
class Exec:
    rc: int
    stdout: str
    stderr: str


class CRI:
    def __init__(self, socket: Path, timeout: float = 60) -> None:
        self.socket = socket
        self.timeout = timeout
        self.channel = grpc.insecure_channel(f"unix://{socket}")
        self.runtime = rpc.RuntimeServiceStub(self.channel)
        self.images = rpc.ImageServiceStub(self.channel)
        # CreateContainer wants the sandbox's config again, as kubelet sends it.
        self._configs: dict[str, api.PodSandboxConfig] = {}

    def close(self) -> None:
        self.channel.close()

    def version(self, timeout: float = 2) -> str:
        resp = self.runtime.Version(api.VersionRequest(version="v1"), timeout=timeout)
        return f"{resp.runtime_name} {resp.runtime_version} (CRI {resp.runtime_api_version})"

    def status(self) -> tuple[dict[str, bool], dict[str, str]]:
        """(conditions by type, verbose info)."""
        resp = self.runtime.Status(api.StatusRequest(verbose=True), timeout=self.timeout)
        return {c.type: c.status for c in resp.status.conditions}, dict(resp.info)

    def cni_config(self) -> dict[str, Any]:
        """The CNI config containerd has loaded: Status(verbose)'s info["cniconfig"]."""
        _, info = self.status()
        return json.loads(info.get("cniconfig", "{}"))

    def image_present(self, ref: str) -> bool:
        resp = self.images.ImageStatus(api.ImageStatusRequest(image=api.ImageSpec(image=ref)), timeout=self.timeout)
        return resp.HasField("image")

    def run_pod_sandbox(self, spec: PodSpec) -> str:
        labels = {
            "io.kubernetes.pod.name": spec.name,
            "io.kubernetes.pod.namespace": spec.namespace,
            "io.kubernetes.pod.uid": spec.uid,
        }
        config = api.PodSandboxConfig(
            metadata=api.PodSandboxMetadata(name=spec.name, uid=spec.uid, namespace=spec.namespace, attempt=0),
            hostname=spec.name,
            log_directory=spec.log_dir,
            dns_config=api.DNSConfig(
                servers=list(spec.dns_servers), searches=list(spec.dns_searches), options=list(spec.dns_options)
            ),
            labels=labels,
            linux=api.LinuxPodSandboxConfig(
                cgroup_parent=spec.cgroup_parent,
                security_context=api.LinuxSandboxSecurityContext(
                    namespace_options=api.NamespaceOption(
                        network=api.NamespaceMode.POD, pid=api.NamespaceMode.CONTAINER, ipc=api.NamespaceMode.POD
                    )
                ),
            ),
        )
        resp = self.runtime.RunPodSandbox(api.RunPodSandboxRequest(config=config), timeout=self.timeout)
        self._configs[resp.pod_sandbox_id] = config
        return resp.pod_sandbox_id

    def start_container(
        self, sandbox_id: str, name: str, image: str, command: Sequence[str], labels: Mapping[str, str] = {}
    ) -> str:
        config = api.ContainerConfig(
            metadata=api.ContainerMetadata(name=name, attempt=0),
            image=api.ImageSpec(image=image),
            command=list(command),
            log_path=f"{name}.log",
            labels=dict(labels),
            linux=api.LinuxContainerConfig(
                security_context=api.LinuxContainerSecurityContext(
                    namespace_options=api.NamespaceOption(
                        network=api.NamespaceMode.POD, pid=api.NamespaceMode.CONTAINER, ipc=api.NamespaceMode.POD
                    )
                )
            ),
        )
        req = api.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=config, sandbox_config=self._configs[sandbox_id]
        )
        container_id = self.runtime.CreateContainer(req, timeout=self.timeout).container_id
        self.runtime.StartContainer(api.StartContainerRequest(container_id=container_id), timeout=self.timeout)
        return container_id

    def exec_sync(self, container_id: str, argv: Sequence[str], timeout: float = 30) -> Exec:
        req = api.ExecSyncRequest(container_id=container_id, cmd=list(argv), timeout=int(max(1, timeout)))
        resp = self.runtime.ExecSync(req, timeout=timeout + 10)
        return Exec(resp.exit_code, resp.stdout.decode(errors="replace"), resp.stderr.decode(errors="replace"))

    def sandbox_ips(self, sandbox_id: str) -> list[str]:
        """The pod IPs the runtime reports (what kubelet copies into status.podIPs), primary first."""
        resp = self.runtime.PodSandboxStatus(
            api.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id), timeout=self.timeout
        )
        net = resp.status.network
        return [ip for ip in (net.ip, *(a.ip for a in net.additional_ips)) if ip]

    def sandbox_netns(self, sandbox_id: str) -> str:
        """The pod's network namespace file (in containerd's mount namespace), from PodSandboxStatus(verbose)."""
        resp = self.runtime.PodSandboxStatus(
            api.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=True), timeout=self.timeout
        )
        info = json.loads(resp.info.get("info", "{}"))
        for ns in info.get("runtimeSpec", {}).get("linux", {}).get("namespaces", []):
            if ns.get("type") == "network" and ns.get("path"):
                return str(ns["path"])
        raise LookupError(f"sandbox {sandbox_id}: no network namespace path in its status")

    def sandboxes(self) -> list[tuple[str, str, str]]:
        """(id, namespace, name) of every sandbox, ready or not."""
        resp = self.runtime.ListPodSandbox(api.ListPodSandboxRequest(), timeout=self.timeout)
        return [(s.id, s.metadata.namespace, s.metadata.name) for s in resp.items]

    def remove_pod_sandbox(self, sandbox_id: str, timeout: float | None = None) -> None:
        t = timeout or self.timeout
        self.runtime.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=sandbox_id), timeout=t)
        self.runtime.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id), timeout=t)
        self._configs.pop(sandbox_id, None)
