"""/proc/PID/mountinfo: which mounts are where (teardown unmounts a run's, tests count a runtime's)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse(text: str) -> list[Mount]:
    """Every mount of a mountinfo text: its mount point and its filesystem type (after the ` - `)."""
    found = []
    for line in text.splitlines():
        pre, _, post = line.partition(" - ")
        fields = pre.split()
        if len(fields) < 5:
            continue
        found.append(Mount(_unescape(fields[4]), post.split(" ", 1)[0]))
    return found


def read(pid: int | str = "self") -> list[Mount]:
    """The mounts process pid sees (empty when it cannot be read)."""
    try:
        return parse(Path(f"/proc/{pid}/mountinfo").read_text())
    except OSError:
        return []


def mounts_under(root: Path, mountinfo: str | None = None) -> list[str]:
    """Mount points at or below root in this process's mount namespace (or in mountinfo), deepest first."""
    prefix = str(root).rstrip("/")
    mounts = read() if mountinfo is None else parse(mountinfo)
    found = {m.point for m in mounts if m.point == prefix or m.point.startswith(prefix + "/")}
    return sorted(found, key=len, reverse=True)
