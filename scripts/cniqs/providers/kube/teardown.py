"""Tearing a cluster down from its saved state: after a run, after a kept one, or what a killed run left."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

from cniqs.common import procs, teardowns
from cniqs.common.mountinfo import mounts_under
from cniqs.providers.kube.state import CLUSTER_STATE, ClusterState
from cniqs.providers.local import cleanup, netns
from cniqs.providers.local.cri import CRI
from cniqs.providers.local.layout import Layout, RunState


def teardown(root: Path) -> list[str]:
    """Everything the cluster in root made: pods (CNI DEL), kubelets and the control plane, every node
    (local provider teardown: containerd, mounts, namespace, cgroups), the external namespace, the files."""
    problems: list[str] = []
    try:
        state = ClusterState.load(root)
    except (OSError, ValueError, TypeError) as exc:
        return [f"{root}: no readable {CLUSTER_STATE} ({exc})"]
    # kubelets and the control plane first, so nothing recreates the pods the runtime removes next. Most
    # exit on SIGTERM at once; kube-apiserver drains its watches for a minute, so it gets SIGKILL soon.
    live = [p for p in state.pids if procs.alive(p)]
    procs.kill(live, signal.SIGTERM)
    left = procs.wait_gone(live, 2)
    procs.kill(left, signal.SIGKILL)
    left = procs.wait_gone(left, 5)
    problems += [f"process {pid} did not exit" for pid in left]
    for node_root in state.nodes:
        problems += _node_teardown(Path(node_root))
    ext = Layout(state.run_id, root / "ext")
    pids = netns.pids_in(ext.ext_netns)
    procs.kill(pids)
    procs.wait_gone(pids, 5)
    try:
        netns.delete(ext.ext_netns)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"netns {ext.ext_netns}: {exc}")
    if mounts_under(root):
        problems.append(f"{root} still has mounts; not removing it")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return problems


def _node_teardown(node_root: Path) -> list[str]:
    """One node: its pods through the runtime while it still runs (so CNI DEL runs), then local provider teardown."""
    problems: list[str] = []
    layout_state = RunState.load(node_root / "run.json")
    layout = Layout(layout_state.run_id, node_root)
    if layout_state.containerd_pid and procs.alive(layout_state.containerd_pid):
        cri = CRI(layout.socket)
        try:
            for sandbox_id, _, _ in cri.sandboxes():
                cri.remove_pod_sandbox(sandbox_id, timeout=20)
        except Exception as exc:  # noqa: BLE001 - teardown goes on without the runtime
            problems.append(f"{layout.node_netns}: removing pods: {exc}")
        finally:
            cri.close()
    return problems + cleanup.teardown(layout, layout_state, remove_root=False)


def stale_roots(parent: Path, include_kept: bool = False) -> list[Path]:
    """Cluster roots under parent whose owning process is gone (killed before it could tear down)."""
    return teardowns.stale_roots(
        parent.glob(f"cniqs-kube-*/{CLUSTER_STATE}"), lambda state_file: ClusterState.load(state_file.parent),
        include_kept,
    )  # fmt: skip
