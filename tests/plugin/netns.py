"""Network namespaces made by a test and always removed, for running real CNI plugins."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

REFERENCE_BIN = "/usr/lib/cni"


def can_make_netns() -> str | None:
    """None when this process can make network namespaces; else the reason it cannot."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if subprocess.run(["ip", "-V"], capture_output=True).returncode != 0:
        return "needs iproute2 ('ip')"
    if shutil.which("busybox") is None:
        return "needs busybox (Debian busybox-static) for ping"
    if not os.access(f"{REFERENCE_BIN}/ptp", os.X_OK):
        return f"needs the reference CNI plugins in {REFERENCE_BIN} (Debian containernetworking-plugins)"
    return None


@contextmanager
def netns_pair(tag: str) -> Iterator[tuple[str, str]]:
    """A 'node' and a 'pod' namespace with unique names; both deleted on exit, even on failure."""
    run = uuid.uuid4().hex[:8]
    node, pod = f"cniqs-{tag}-{run}-node", f"cniqs-{tag}-{run}-pod"
    made = []
    try:
        for name in (node, pod):
            subprocess.run(["ip", "netns", "add", name], check=True)
            made.append(name)
        subprocess.run(["ip", "-n", node, "link", "set", "lo", "up"], check=True)
        yield node, pod
    finally:
        for name in reversed(made):
            subprocess.run(["ip", "netns", "delete", name], check=False)
