"""Every place a Kubernetes cluster keeps an address for a pod, read back through a backend: the API, kubectl
describe, a Service's EndpointSlice, the pod's /etc/hosts and Downward API, the runtime's cached CNI result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from cniqs.common.beliefs import Belief, cache_file_for, cached_result_ips, hosts_entry
from cniqs.common.run import Runner, check
from cniqs.common.waits import NotYet, wait_until
from cniqs.provider import ExecResult, Pod
from cniqs.providers.cluster import commands as cmd
from cniqs.providers.cluster import parse, pods
from cniqs.providers.cluster.nodes import Nodes


class PodViews(Protocol):
    """What reading the beliefs needs of a cluster's backend (ClusterBackend has it all)."""

    core: Any
    shell: Nodes
    run: Runner

    def describe_pod(self, pod: Pod) -> str: ...
    def exec(self, pod: Pod, argv: Sequence[str], timeout: float = 30) -> ExecResult: ...
    def create_service(self, name: str, pod: Pod) -> None: ...
    def endpoint_addresses(self, service: str, namespace: str | None = None) -> list[str]: ...
    def sandbox_id(self, node: str, pod_uid: str) -> str | None: ...


def read(backend: PodViews, pod: Pod) -> list[Belief]:
    """Every belief about pod's address (a Service is made and removed)."""
    obj = backend.core.read_namespaced_pod(pod.name, pod.namespace)
    found = [
        Belief("the API: status.podIP / podIPs", pods.status_ips(obj), "GET pod"),
        Belief("kubectl describe pod (IP:)", parse.describe_ips(backend.describe_pod(pod)), "kubectl describe pod"),
        Belief("a Service's EndpointSlice", _service_endpoints(backend, pod), "a Service selecting only this pod"),
    ]
    hosts = backend.exec(pod, ["cat", "/etc/hosts"], timeout=15)
    found.append(Belief("the pod's /etc/hosts (its hostname)", hosts_entry(hosts.stdout, pod.name), "cat /etc/hosts"))
    env = backend.exec(pod, ["sh", "-c", f'echo "${pods.POD_IP_ENV}"'], timeout=15)
    value = env.stdout.strip()
    found.append(
        Belief(
            "the Downward API (env from status.podIP)",
            [value] if value else [],
            f"${pods.POD_IP_ENV} in the pod" + ("" if value else ": not set (a pod made without it)"),
        )
    )
    found.append(_cached_result(backend, pod, obj.metadata.uid))
    return found


def _service_endpoints(backend: PodViews, pod: Pod) -> list[str]:
    service = f"{pod.name}-reveal"[:63].rstrip("-")
    backend.create_service(service, pod)
    try:

        def probe() -> list[str]:
            addresses = backend.endpoint_addresses(service, pod.namespace)
            if not addresses:
                raise NotYet("no endpoints yet")
            return addresses

        return list(wait_until(f"the EndpointSlice of service {service}", probe, 60, interval=0.5))
    finally:
        backend.core.delete_namespaced_service(service, pod.namespace)


def _cached_result(backend: PodViews, pod: Pod, uid: str) -> Belief:
    who, cache = "the runtime's cached CNI result (libcni)", "/var/lib/cni/results"
    sandbox = backend.sandbox_id(pod.node, uid)
    listing = backend.run(cmd.node_ls(backend.shell.access, pod.node, cache), timeout=30)
    name = cache_file_for(parse.lines(listing.stdout), sandbox or "-")
    if name is None:
        return Belief(who, [], f"no file for sandbox {sandbox} in {cache} on {pod.node}", available=False)
    text = check(backend.run, cmd.node_cat(backend.shell.access, pod.node, f"{cache}/{name}"), f"read {name}")
    return Belief(who, cached_result_ips(text), f"{cache}/{name} on {pod.node}")
