"""Debian root filesystems made with debootstrap, cached by what goes in (release, packages).

The kind node image (cniqs.site.nodeimage) starts from one, of this host's architecture.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

DEFAULT_RELEASE = "bookworm"
MIRROR = os.environ.get("CNIQS_DEBIAN_MIRROR", "http://deb.debian.org/debian")


class RootfsError(RuntimeError):
    pass


def rootfs_key(release: str, packages: Sequence[str]) -> str:
    """The cache key of a root filesystem."""
    return hashlib.sha256(" ".join([release, *packages]).encode()).hexdigest()[:12]


def rootfs(parent: Path, release: str, packages: Sequence[str], *, timeout: float = 3600) -> Path:
    """A `debootstrap --variant=minbase` root filesystem under parent (cached: a stamp marks a finished one)."""
    root = parent / f"{release}-{rootfs_key(release, packages)}"
    stamp = root.with_name(root.name + ".complete")
    if stamp.is_file():
        return root
    if shutil.which("debootstrap") is None:
        raise RootfsError("debootstrap is not installed (apt-get install debootstrap)")
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    argv = ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", release, str(root), MIRROR]
    print(f"debian: debootstrap {release} into {root} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        log = root / "debootstrap/debootstrap.log"
        raise RootfsError(f"debootstrap {release} failed (exit {proc.returncode}; log {log}):\n{tail}")
    stamp.write_text(f"{time.monotonic() - t0:.0f}\n")
    print(f"debian: debootstrap done in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return root
