"""Kill the run's containerd and start it again, the way a node's containerd crashes and comes back.

A real node's containerd restarts in the same mount namespace it ran in, where the pods' network
namespace bind mounts and rootfs mounts still are; that is what lets it recover its pods (and later
run CNI DEL for them). Here containerd runs in a private mount namespace of its own, which outlives
it only while a shim is in it. So before the kill, the namespace is pinned: its nsfs file is bind-
mounted onto <run root>/containerd/mntns (teardown unmounts everything under the run root), and the
new containerd is started inside it with nsenter. The CNI cache bind mount is still there; the run's
containerd pid in the state file is updated, the namespace (what teardown sweeps by) stays the same.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from cniqs.common import procs
from cniqs.common.mountinfo import mounts_under
from cniqs.common.run import run
from cniqs.providers.local import containerd
from cniqs.providers.local.layout import Layout, RunState


def pin_path(layout: Layout) -> Path:
    return layout.root / "containerd" / "mntns"


def pin_mount_ns(layout: Layout, pid: int) -> Path:
    """Bind-mount pid's mount namespace onto the run's pin file (once); return the pin file."""
    pin = pin_path(layout)
    if str(pin) in mounts_under(pin):
        return pin
    pin.touch(exist_ok=True)
    run(["mount", "--bind", f"/proc/{pid}/ns/mnt", str(pin)])
    return pin


def argv(layout: Layout, pin: Path) -> list[str]:
    return [
        "nsenter", f"--mount={pin}", f"--net=/run/netns/{layout.node_netns}",
        "containerd", "--config", str(layout.containerd_config),
    ]  # fmt: skip


def kill_and_start(layout: Layout, state: RunState) -> subprocess.Popen[bytes]:
    """SIGKILL the run's containerd (only if it still is this run's), start a new one in the same mount
    namespace, record its pid. The caller waits until the new one answers."""
    pid = state.containerd_pid
    if not pid or not procs.alive(pid) or not containerd.is_ours(pid, layout):
        raise RuntimeError(f"the run's containerd (pid {pid}) is not running; nothing to restart")
    if state.containerd_mntns is None or procs.mount_ns(pid) != state.containerd_mntns:
        raise RuntimeError(f"containerd (pid {pid}) is not in the run's recorded mount namespace")
    pin = pin_mount_ns(layout, pid)
    procs.kill([pid], signal.SIGKILL)
    if procs.wait_gone([pid], 10):
        raise RuntimeError(f"containerd (pid {pid}) did not die from SIGKILL")
    proc = containerd.launch(layout, argv(layout, pin))
    state.containerd_pid = proc.pid
    state.save(layout.state_file)
    return proc
