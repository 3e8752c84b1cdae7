"""Start and stop the run's containerd: inside the node netns and a private mount namespace.

`unshare --mount --propagation private` gives containerd its own mount namespace: the overlay
rootfs mounts, the pods' shm and netns bind mounts and the CNI cache bind mount all live (and die)
there, never in the machine's. `nsenter --net` (not `ip netns exec`, which remounts /sys and breaks
runc's cgroup lookup) puts it in the node's network namespace.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from cniqs.common import procs
from cniqs.common.run import run
from cniqs.providers.local.layout import Layout

CNI_CACHE = "/var/lib/cni"  # libcni's fixed cache dir: bind-mounted per run inside the private namespace

# In the private mount namespace: give libcni a per-run cache, then become containerd.
_SCRIPT = 'mkdir -p "$1" && mount --bind "$2" "$1" && shift 2 && exec "$@"'


def argv(layout: Layout) -> list[str]:
    return [
        "unshare", "--mount", "--propagation", "private",
        "nsenter", f"--net=/run/netns/{layout.node_netns}",
        "sh", "-c", _SCRIPT, "containerd-launch", CNI_CACHE, str(layout.cni_cache),
        "containerd", "--config", str(layout.containerd_config),
    ]  # fmt: skip


def start(layout: Layout) -> subprocess.Popen[bytes]:
    """Launch containerd in a new private mount namespace."""
    return launch(layout, argv(layout))


def launch(layout: Layout, command: list[str]) -> subprocess.Popen[bytes]:
    """Run command (one that becomes containerd); its output goes to the run's containerd.log. It gets
    its own session, so a Ctrl-C in the terminal reaches only the test process, which then tears it
    down in order."""
    log = open(layout.containerd_log, "ab")  # the child keeps its own copy
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
        )
    finally:
        log.close()


def is_ours(pid: int, layout: Layout) -> bool:
    return str(layout.containerd_config) in procs.cmdline(pid)


def stop(pid: int, layout: Layout, grace: float = 5) -> list[str]:
    """SIGTERM, then SIGKILL after grace seconds; only if pid still is this run's containerd."""
    if not procs.alive(pid) or not is_ours(pid, layout):
        return []
    procs.kill([pid], signal.SIGTERM)
    if procs.wait_gone([pid], grace):
        procs.kill([pid], signal.SIGKILL)
        if procs.wait_gone([pid], 5):
            return [f"containerd (pid {pid}) did not exit"]
    return []


def import_image(layout: Layout, archive: Path) -> None:
    """An image archive into the node's Kubernetes namespace, as kubelet's images are."""
    run(["ctr", "-a", str(layout.socket), "-n", "k8s.io", "images", "import", str(archive)], timeout=120)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode(errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc.strerror})"
    return "\n".join(text.splitlines()[-lines:])
