"""The cost of the lie, measured on a real node: at cniVersion 0.4.0+, libcni hands the cached final
result (the fake) to every plugin of the chain at DEL, so a plugin that cleans up by address cleans up
the wrong one. The firewall plugin is the example: with cni-quickstart after it, the iptables rules it
made for the pod's real address outlive the pod; without cni-quickstart, the same chain leaves none.

Local node only: it writes its own base chain (kindnet's at 0.4.0 with firewall) into the node's conf dir.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from cniqs.common.beliefs import cache_file_for
from cniqs.common.run import in_netns, run
from cniqs.install import conflist
from cniqs.install.conflist import chain_entry, render
from cniqs.install.kindnet import kindnet_chain
from cniqs.provider import ChainVariant
from e2e.support import real_ips
from e2e.support_local import node  # noqa: F401 - the fixture

if TYPE_CHECKING:
    from cniqs.providers.local.node import LocalBackend

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]

FORWARD = "CNI-FORWARD"  # the firewall plugin's iptables chain (its iptables backend)


def firewall_chain(n: LocalBackend) -> dict[str, object]:
    chain = kindnet_chain(ChainVariant(cni_version="0.4.0"), ["10.244.0.0/24"], str(n.layout.ipam_data))
    plugins = chain["plugins"]
    assert isinstance(plugins, list)
    plugins.append({"type": "firewall", "backend": "iptables"})
    return chain


def rules_for(n: LocalBackend, address: str) -> list[str]:
    """The firewall plugin's rules in the node's namespace that name address."""
    out = run(in_netns(n.layout.node_netns, ["iptables", "-w", "5", "-S", FORWARD]), timeout=30)
    return [line for line in out.splitlines() if f"{address}/32" in line]


@pytest.fixture
def firewalled(node: LocalBackend) -> Iterator[LocalBackend]:  # noqa: F811 - pytest's fixture injection
    chain = firewall_chain(node)
    node.files.write_atomic(str(node.layout.cni_conf / "10-kindnet.conflist"), render(chain))
    try:
        node.wait_loaded(json.loads(render(chain)))
        yield node
    finally:
        conflist.uninstall(node.files, str(node.layout.cni_conf))  # the plugin's file, derived from ours
        node.use_base_chain(None)  # kindnetd's chain again, loaded
        run(in_netns(node.layout.node_netns, ["iptables", "-w", "5", "-F", FORWARD]), timeout=30)  # the leak


def pod_rules_after_delete(n: LocalBackend, name: str) -> tuple[str, list[str], list[str]]:
    pod = n.run_pod(name)
    real = real_ips(n, pod)[0]
    during = rules_for(n, real)
    n.delete_pod(pod)
    return real, during, rules_for(n, real)


def test_firewall_rules_of_the_real_address_outlive_the_pod_only_with_the_rewrite(firewalled: LocalBackend) -> None:
    real, during, after = pod_rules_after_delete(firewalled, "fw-plain")
    assert during, f"the firewall plugin made no rule for {real}: is it in the chain?"
    assert after == [], f"without cni-quickstart the chain cleans up after itself; left: {after}"

    firewalled.install(chain_entry())
    real, during, after = pod_rules_after_delete(firewalled, "fw-rewritten")
    assert during, f"the firewall plugin made no rule for {real}"
    # The documented cost (README, "What the lie costs"): DEL got the fake, removed nothing, and the real
    # address's rules stay until the node's namespace goes.
    assert after == during, f"expected the real address's rules {during} to stay behind; left: {after}"


def check_ptp(n: LocalBackend, pod_sandbox: str, prev_result: dict[str, object]) -> subprocess.CompletedProcess[str]:
    """CNI CHECK of kindnet's first plugin (ptp) for a pod, as a runtime that calls CHECK would: with the
    chain's cached result as prevResult. containerd itself never calls CHECK."""
    config = {**n.base_chain()["plugins"][0], "cniVersion": "0.4.0", "name": "kindnet", "prevResult": prev_result}
    env = {
        "CNI_COMMAND": "CHECK",
        "CNI_CONTAINERID": pod_sandbox,
        "CNI_NETNS": n.cri.sandbox_netns(pod_sandbox),
        "CNI_IFNAME": "eth0",
        "CNI_PATH": str(n.layout.cni_bin),
    }
    assert n.run_state is not None and n.run_state.containerd_pid
    argv = ["nsenter", f"--mount=/proc/{n.run_state.containerd_pid}/ns/mnt", f"--net=/run/netns/{n.layout.node_netns}",
            "env", *(f"{k}={v}" for k, v in env.items()), str(n.layout.cni_bin / "ptp")]  # fmt: skip
    return subprocess.run(argv, input=json.dumps(config), capture_output=True, text=True, timeout=30)


def cached_result(n: LocalBackend, sandbox: str) -> dict[str, object]:
    results = n.layout.cni_cache / "results"
    name = cache_file_for(sorted(p.name for p in results.iterdir()), sandbox)
    assert name is not None, f"no cached result for {sandbox} in {results}"
    result = json.loads((results / name).read_text())["result"]
    assert isinstance(result, dict)
    return result


def test_check_of_the_chain_fails_on_the_rewritten_result(node: LocalBackend) -> None:  # noqa: F811
    node.use_base_chain(ChainVariant(cni_version="0.4.0"))
    pods = []
    try:
        plain = node.run_pod("check-plain")
        pods.append(plain)
        ok = check_ptp(node, plain.handle.sandbox_id, cached_result(node, plain.handle.sandbox_id))
        assert ok.returncode == 0, f"CHECK of an untouched result must pass: {ok.stdout}{ok.stderr}"
        node.install(chain_entry())
        rewritten = node.run_pod("check-rewritten")
        pods.append(rewritten)
        prev = cached_result(node, rewritten.handle.sandbox_id)
        failed = check_ptp(node, rewritten.handle.sandbox_id, prev)
        assert failed.returncode != 0, f"CHECK passed on the fake result {prev}: {failed.stdout}"
        assert "1.2.3.0" in failed.stdout, f"the CNI error names the fake address: {failed.stdout}{failed.stderr}"
    finally:
        for pod in pods:
            node.delete_pod(pod)
        node.uninstall()
        node.use_base_chain(None)
