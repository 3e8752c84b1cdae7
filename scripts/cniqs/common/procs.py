"""Finding and ending the processes a run started, identified only by what is unique to the run."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def mount_ns(pid: int | str) -> str | None:
    try:
        return os.readlink(PROC / str(pid) / "ns" / "mnt")
    except OSError:
        return None


def all_pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def in_mount_ns(ns: str) -> list[int]:
    """Processes in mount namespace ns (containerd's private one: containerd, its shims, runc)."""
    if ns == mount_ns("self"):
        return []  # never our own: that would be every process on the machine
    return [pid for pid in all_pids() if mount_ns(pid) == ns]


def mentioning(text: str) -> list[int]:
    """Processes whose command line mentions text (a run's root path: shims carry its socket)."""
    me = os.getpid()
    return [pid for pid in all_pids() if pid != me and text in cmdline(pid)]


def cgroup_dirs(parent: str) -> list[Path]:
    """The run's cgroup parent in every mounted v1 hierarchy (and the unified one, if runc made it there)."""
    rel = parent.strip("/")
    if not rel:
        raise ValueError("refusing to treat the root cgroup as a run's cgroup parent")
    found = []
    if CGROUP_ROOT.is_dir():
        for hierarchy in sorted(CGROUP_ROOT.iterdir()):
            path = hierarchy / rel
            if path.is_dir():
                found.append(path)
    return found


def in_cgroups(parent: str) -> list[int]:
    pids: set[int] = set()
    for top in cgroup_dirs(parent):
        for procs in top.rglob("cgroup.procs"):
            try:
                pids.update(int(line) for line in procs.read_text().split())
            except OSError:
                continue
    return sorted(pids)


def alive(pid: int) -> bool:
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    for pid in set(pids):
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def wait_gone(pids: Iterable[int], seconds: float) -> list[int]:
    """Wait until none of pids is alive; return those still alive at the deadline."""
    left = list(pids)
    deadline = time.monotonic() + seconds
    while left:
        left = [p for p in left if alive(p)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return left


def remove_cgroups(parent: str) -> list[str]:
    """rmdir the run's cgroup subtrees, deepest first; return what could not be removed."""
    problems = []
    for top in cgroup_dirs(parent):
        dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for path in [*dirs, top]:
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)  # the last task is still leaving
            else:
                problems.append(f"cgroup {path} could not be removed")
    return problems
