"""Pure helpers around the Kubernetes objects the Kubernetes layer makes and reads."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

TEST_LABEL = "app.kubernetes.io/part-of"
POD_IP_ENV = "POD_IP"
TEST_LABEL_VALUE = "cniqs-e2e"
# kubeadm taints control-plane nodes; test pods tolerate it so every node (and its install) is exercised.
CONTROL_PLANE_TAINTS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def pod_manifest(
    name: str, namespace: str, image: str, command: Sequence[str], node: str | None = None
) -> dict[str, Any]:
    # The Downward API's view of the pod's IP, for the reveal's "who believes it".
    env = [{"name": POD_IP_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    spec: dict[str, Any] = {
        "containers": [{"name": "main", "image": image, "command": list(command), "env": env}],
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "tolerations": [{"key": key, "operator": "Exists", "effect": "NoSchedule"} for key in CONTROL_PLANE_TAINTS],
    }
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {TEST_LABEL: TEST_LABEL_VALUE, "cniqs/pod": name}},
        "spec": spec,
    }


def service_manifest(name: str, namespace: str, pod_name: str, port: int = 8080) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": {TEST_LABEL: TEST_LABEL_VALUE}},
        "spec": {"selector": {"cniqs/pod": pod_name}, "ports": [{"port": port, "targetPort": port}]},
    }


def pod_state(pod: Any) -> tuple[bool, str]:
    """(has run: Ready, or already finished; short description of where it is) from a V1Pod."""
    status = pod.status
    phase = getattr(status, "phase", None) or "Unknown"
    if phase in ("Succeeded", "Failed"):
        return True, phase
    for cond in getattr(status, "conditions", None) or []:
        if cond.type == "Ready" and cond.status == "True":
            return True, "Ready"
    waiting = []
    for cs in getattr(status, "container_statuses", None) or []:
        state = getattr(cs, "state", None)
        if state is not None and state.waiting is not None:
            waiting.append(f"{cs.name}: {state.waiting.reason} {state.waiting.message or ''}".strip())
    return False, f"{phase}" + (f" ({'; '.join(waiting)})" if waiting else "")


def status_ips(pod: Any) -> list[str]:
    """status.podIPs (the client calls it pod_i_ps), else status.podIP."""
    status = pod.status
    ips = [entry.ip for entry in getattr(status, "pod_i_ps", None) or [] if entry.ip]
    if not ips and getattr(status, "pod_ip", None):
        ips = [status.pod_ip]
    return ips


def node_cidrs(node: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """spec.podCIDRs (client: pod_cid_rs), else spec.podCIDR."""
    spec = node.spec
    cidrs = list(getattr(spec, "pod_cid_rs", None) or [])
    if not cidrs and getattr(spec, "pod_cidr", None):
        cidrs = [spec.pod_cidr]
    return [ipaddress.ip_network(cidr) for cidr in cidrs]


def node_ready(node: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in getattr(node.status, "conditions", None) or [])


def is_control_plane(node: Any) -> bool:
    labels = getattr(node.metadata, "labels", None) or {}
    return any(key in labels for key in CONTROL_PLANE_TAINTS)


def default_node(nodes: Sequence[Any]) -> str | None:
    """Where pods without a node go: the first worker by name, else the first node (None: no nodes)."""
    named = sorted(nodes, key=lambda n: n.metadata.name)
    workers = [n for n in named if not is_control_plane(n)]
    chosen = (workers or named or [None])[0]
    return None if chosen is None else str(chosen.metadata.name)


def endpoint_slice_addresses(slices: Any) -> list[str]:
    """Every endpoint address of a V1EndpointSliceList."""
    found = []
    for item in getattr(slices, "items", None) or []:
        for endpoint in item.endpoints or []:
            found += list(endpoint.addresses or [])
    return found
