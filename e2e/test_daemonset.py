"""Install on any cluster: the installer DaemonSet (cniqs.providers.cluster.daemonset), for real on kube and kind.

Every node gets the plugin and the derived conflist; a new pod on every node reports the fake; an
installer pod that restarts, or kind's kindnet rewriting its own conflist, changes nothing; a node
whose CNI config it cannot install on is left untouched, with a failing readiness and the reason in
the pod log; deleting the DaemonSet leaves each node's CNI bin and conf dirs byte-identical to before.
The fake prefix is TEST-NET-1 (192.0.2.0/24).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from cniqs.common.run import check
from cniqs.common.waits import NotYet, wait_until
from cniqs.install.conflist import INSTALLED_NAME, chain_entry, render
from cniqs.provider import Backend, Pod
from cniqs.providers.cluster import daemonset
from cniqs.providers.cluster.backend import ClusterBackend
from e2e.support import delete_pods, expect, fixed_fakes

pytestmark = [pytest.mark.e2e, pytest.mark.cluster_only]

ENTRY = chain_entry(fakeIPv4="192.0.2.0/24", fakeIPv6="2001:db8:1::/64")
FAKE = fixed_fakes(ENTRY)[0]
SELECTOR = ",".join(f"{k}={v}" for k, v in daemonset.LABEL.items())


def snapshot(cluster: ClusterBackend, node: str) -> str:
    """Every entry of the node's CNI bin and conf dirs with its type, link target and content hash."""
    dirs = [cluster.shell.cni.bin_dir, cluster.shell.cni.conf_dir]
    script = 'find "$@" -printf "%y %p %l\\n" | sort; find "$@" -type f -exec sha256sum {} + | sort'
    argv = cluster.shell.access.exec_argv(node, ["sh", "-c", script, "sh", *dirs])
    return check(cluster.run, argv, f"snapshot of {node}'s CNI dirs")


def installer_pods(cluster: ClusterBackend) -> dict[str, str]:
    """node -> installer pod name."""
    items = cluster.core.list_namespaced_pod(daemonset.NAMESPACE, label_selector=SELECTOR).items
    return {p.spec.node_name: p.metadata.name for p in items if p.spec.node_name}


@pytest.fixture(scope="module")
def cluster(backend: Backend) -> Iterator[ClusterBackend]:
    assert isinstance(backend, ClusterBackend), f"{backend.name} is no Kubernetes backend"
    backend.uninstall()
    backend.use_base_chain(None)
    yield backend
    backend.uninstall_daemonset()


@pytest.fixture(scope="module")
def before(cluster: ClusterBackend) -> dict[str, str]:
    return {node: snapshot(cluster, node) for node in cluster.nodes}


@pytest.fixture(scope="module")
def installed(cluster: ClusterBackend, before: dict[str, str]) -> Iterator[str]:
    yield cluster.install_daemonset(ENTRY)


def test_a_new_pod_on_every_node_reports_the_fake(cluster: ClusterBackend, installed: str) -> None:
    assert set(installer_pods(cluster)) == set(cluster.nodes), "one installer pod per node, control plane too"
    pods: list[Pod] = []
    try:
        for n, node in enumerate(cluster.nodes):
            pods.append(cluster.run_pod(f"ds-{n}", node=node))
        for pod in pods:
            views = cluster.reported_views(pod)
            expect(all(v == [FAKE] for v in views.values()), f"{pod.node}: {views}", cluster, pod)
    finally:
        delete_pods(cluster, pods)


def test_an_installer_restart_changes_nothing(cluster: ClusterBackend, installed: str) -> None:
    node = cluster.nodes[0]
    state = snapshot(cluster, node)
    old = installer_pods(cluster)[node]
    cluster.core.delete_namespaced_pod(old, daemonset.NAMESPACE)

    def replaced() -> bool:
        now = installer_pods(cluster).get(node)
        if now in (None, old):
            raise NotYet("the old installer pod is still there")
        return True

    wait_until(f"a new installer pod on {node}", replaced, 120, interval=1)
    cluster.wait_daemonset()
    # The old pod's preStop removed the install, the new pod made it again: the same files, once.
    assert snapshot(cluster, node) == state


def a_new_pod_reports_the_fake(cluster: ClusterBackend, name: str, node: str, when: str) -> None:
    pod = cluster.run_pod(name, node=node)
    try:
        views = cluster.reported_views(pod)
        expect(all(v == [FAKE] for v in views.values()), f"{node} {when}: {views}", cluster, pod)
    finally:
        delete_pods(cluster, [pod])


def conflist_stamp(cluster: ClusterBackend, node: str, name: str) -> str:
    """inode and nanosecond mtime of a file in the node's conf dir: changes on every rewrite."""
    path = f"{cluster.shell.cni.conf_dir}/{name}"
    return check(cluster.run, cluster.shell.access.exec_argv(node, ["stat", "-c", "%i %.9Y", path]), f"stat {path}")


@pytest.mark.kind_only
def test_kindnet_rewriting_its_conflist_changes_nothing(cluster: ClusterBackend, installed: str) -> None:
    """kind's kindnet pod writes 10-kindnet.conflist at every start; restarting it must neither undo nor
    double the install, and new pods still report the fake."""
    node = cluster.nodes[-1]
    state = snapshot(cluster, node)
    stamp = conflist_stamp(cluster, node, "10-kindnet.conflist")
    kindnet = cluster.core.list_namespaced_pod("kube-system", label_selector="app=kindnet").items
    old = [p.metadata.name for p in kindnet if p.spec.node_name == node]
    assert len(old) == 1, f"kindnet pods on {node}: {old}"
    # A restart, not a wait: kindnet's pod keeps the default 30 s grace, which kindnetd spent in full before
    # the new pod started (33 s of this test). One second is time for SIGTERM, then the kubelet kills it.
    cluster.core.delete_namespaced_pod(old[0], "kube-system", grace_period_seconds=1)

    def rewritten() -> str:
        now = conflist_stamp(cluster, node, "10-kindnet.conflist")
        if now == stamp:
            raise NotYet("10-kindnet.conflist not rewritten yet")
        return now

    wait_until(f"a new kindnet pod on {node} to rewrite its conflist", rewritten, 120, interval=1)
    cluster.wait_daemonset()
    assert snapshot(cluster, node) == state, "kindnet's rewrite changed the install"
    a_new_pod_reports_the_fake(cluster, "ds-kindnet", node, "after kindnet's rewrite")


@pytest.mark.kube_only
def test_a_node_that_joins_later_gets_it(cluster: ClusterBackend, installed: str) -> None:
    from cniqs.providers.kube.provider import KubeBackend

    assert isinstance(cluster, KubeBackend)
    joined = cluster.add_node()
    try:
        cluster.wait_daemonset()  # now one more node: its installer pod must be ready too
        assert joined in installer_pods(cluster)
        a_new_pod_reports_the_fake(cluster, "ds-joined", joined, "(joined after the install)")
    finally:
        assert cluster.remove_node(joined) == []


def test_the_installer_needs_no_api_access(cluster: ClusterBackend, installed: str) -> None:
    spec = cluster.apps.read_namespaced_daemon_set(daemonset.NAME, daemonset.NAMESPACE).spec.template.spec
    assert spec.automount_service_account_token is False
    assert [t.operator for t in spec.tolerations] == ["Exists"], "every taint is tolerated"


def test_uninstall_leaves_every_node_as_it_was(cluster: ClusterBackend, installed: str, before: dict[str, str]) -> None:
    cluster.uninstall_daemonset()
    for node in cluster.nodes:
        assert snapshot(cluster, node) == before[node], f"{node}'s CNI dirs differ from before the install"
    pod = cluster.run_pod("ds-after", node=cluster.nodes[-1])
    try:
        views = cluster.reported_views(pod)
        expect(all(v and FAKE not in v for v in views.values()), f"after uninstall: {views}", cluster, pod)
    finally:
        delete_pods(cluster, [pod])


# A node the installer must refuse: (file written into its conf dir, its config, what the pod log says)
REFUSALS: dict[str, tuple[str, dict[str, Any], str]] = {
    "a foreign file that would still win": (
        "00-aaa-foreign.conflist",
        {"cniVersion": "0.3.1", "name": "foreign", "plugins": [{"type": "loopback"}]},
        "00-aaa-foreign.conflist sorts before",
    ),
    "an active config that is no chain": (
        "05-single.conf",
        {"cniVersion": "0.3.1", "name": "single", "type": "loopback"},
        "05-single.conf is not a conflist with a 'plugins' list",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_node_it_cannot_install_on_is_left_alone_and_says_why(
    cluster: ClusterBackend, before: dict[str, str], case: str
) -> None:
    name, config, reason = REFUSALS[case]
    node = cluster.nodes[-1]
    foreign = f"{cluster.shell.cni.conf_dir}/{name}"
    text = render(config)
    files_argv = cluster.shell.access.exec_argv(node, ["cp", "/dev/stdin", foreign], stdin=True)
    check(cluster.run, files_argv, f"write {name}", input=text)
    try:
        state = snapshot(cluster, node)
        image = cluster.install_daemonset_nowait(ENTRY)
        assert image

        def refused() -> str:
            pod = installer_pods(cluster).get(node)
            if pod is None:
                raise NotYet("no installer pod yet")
            try:
                log = cluster.core.read_namespaced_pod_log(pod, daemonset.NAMESPACE)
            except ApiException as exc:  # 400 while its container is still being created
                raise NotYet(f"no log yet: {exc.reason}") from None
            if "not installing on this node" not in log:
                raise NotYet(f"log so far: {log[-300:]!r}")
            return str(log)

        log = wait_until(f"the installer on {node} to refuse", refused, 120, interval=1)
        assert reason in log, log
        pod = cluster.core.read_namespaced_pod(installer_pods(cluster)[node], daemonset.NAMESPACE)
        assert not any(c.ready for c in pod.status.container_statuses or []), "a refusing node is not ready"
        assert snapshot(cluster, node) == state, "the refusing node's CNI config was touched"
        assert INSTALLED_NAME not in json.dumps(state)
    finally:
        cluster.uninstall_daemonset()
        cluster.run(cluster.shell.access.exec_argv(node, ["rm", "-f", foreign]), timeout=30)
    assert snapshot(cluster, node) == before[node]
