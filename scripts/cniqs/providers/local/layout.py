"""Where one run keeps everything: a unique id, a temp root, and names derived from both.

Nothing a run creates lives outside its root except its two network namespaces (named with the run id)
and its cgroup parent (named with the run id), so two runs at once never collide.
"""

from __future__ import annotations

import itertools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cniqs.common import statefile
from cniqs.install.conflist import CNI_TYPE

PREFIX = "cniqs"
STATE_FILE = "run.json"


def new_run_id() -> str:
    """Short (names must fit in 15-byte interface names elsewhere), unique per process and call."""
    # The pid tells concurrent runs apart; a counter from a random start tells this process's calls apart
    # (two random bytes alone collide within 50 calls about 2% of the time).
    return f"{os.getpid() % 0xFFFF:04x}{next(_CALLS) % 0x10000:04x}"


_CALLS = itertools.count(secrets.randbelow(0x10000))


class Below:
    """A path below the run root (a read-only attribute of Layout)."""

    def __init__(self, relative: str) -> None:
        self.relative = relative

    def __get__(self, layout: Layout, owner: type | None = None) -> Path:
        return layout.root / self.relative


@dataclass(frozen=True)
class Layout:
    run_id: str
    root: Path

    @property
    def node_netns(self) -> str:
        return f"{PREFIX}-{self.run_id}-node"

    @property
    def ext_netns(self) -> str:
        return f"{PREFIX}-{self.run_id}-ext"

    @property
    def cgroup_parent(self) -> str:
        return f"/{PREFIX}-{self.run_id}"

    # Everything below the run root, by what it is.
    containerd_root = Below("containerd/root")
    containerd_state = Below("containerd/state")
    containerd_config = Below("containerd/config.toml")
    socket = Below("containerd/containerd.sock")
    nri_socket = Below("containerd/nri.sock")
    runc_root = Below("containerd/runc")
    cni_bin = Below("cni/bin")
    cni_conf = Below("cni/net.d")
    cni_cache = Below("cni/cache")
    ipam_data = Below("cni/ipam")
    logs = Below("logs")
    containerd_log = Below("logs/containerd.log")
    plugin_log = Below(f"logs/{CNI_TYPE}.log")
    pod_logs = Below("logs/pods")
    images = Below("images")
    www = Below("ext/www")
    state_file = Below(STATE_FILE)

    def dirs(self) -> list[Path]:
        return [
            self.containerd_root, self.containerd_state, self.runc_root, self.cni_bin, self.cni_conf,
            self.cni_cache, self.ipam_data, self.pod_logs, self.images, self.www,
        ]  # fmt: skip


@dataclass
class RunState:
    """What teardown needs to find everything a run started, saved so a kept node can be torn down later."""

    run_id: str
    root: str
    containerd_pid: int | None = None
    containerd_mntns: str | None = None
    service_pids: list[int] | None = None
    owner_pid: int | None = None
    kept: bool = False

    def save(self, path: Path) -> None:
        statefile.save(self, path)

    @classmethod
    def load(cls, path: Path) -> RunState:
        return statefile.load(cls, path)
