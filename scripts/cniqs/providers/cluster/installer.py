"""The installer DaemonSet (cniqs.providers.cluster.daemonset) on a cluster, through the API: applied (made, or
replaced when it is there already), waited for until ready on every node, deleted with its pods gone."""

from __future__ import annotations

from typing import Any

from kubernetes.client.exceptions import ApiException

from cniqs.common.waits import POD_GONE_SECONDS, NotYet, wait_until
from cniqs.providers.cluster import daemonset


def apply(apps: Any, body: dict[str, Any]) -> None:
    try:
        apps.create_namespaced_daemon_set(daemonset.NAMESPACE, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        apps.replace_namespaced_daemon_set(daemonset.NAME, daemonset.NAMESPACE, body)


def wait_ready(apps: Any, want: int, timeout: float) -> None:
    """Until the DaemonSet has a ready, updated pod on each of want nodes."""

    def probe() -> bool:
        ds = apps.read_namespaced_daemon_set(daemonset.NAME, daemonset.NAMESPACE)
        st = ds.status
        if (st.desired_number_scheduled, st.number_ready, st.updated_number_scheduled) != (want, want, want):
            raise NotYet(f"ready {st.number_ready}/{want} (scheduled {st.desired_number_scheduled})")
        return True

    wait_until(f"DaemonSet {daemonset.NAME} ready on all {want} nodes", probe, timeout, interval=1)


def delete(apps: Any, core: Any) -> None:
    """Delete the DaemonSet; its pods' preStop removes what they added; return once they are gone."""
    try:
        apps.delete_namespaced_daemon_set(daemonset.NAME, daemonset.NAMESPACE)
    except ApiException as exc:
        if exc.status != 404:
            raise
    selector = ",".join(f"{k}={v}" for k, v in daemonset.LABEL.items())

    def gone() -> bool:
        left = core.list_namespaced_pod(daemonset.NAMESPACE, label_selector=selector).items
        if left:
            raise NotYet(f"{len(left)} installer pod(s) still there")
        return True

    wait_until(f"the {daemonset.NAME} pods to be gone", gone, POD_GONE_SECONDS + 60, interval=1)
