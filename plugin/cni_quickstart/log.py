"""Optional JSON-lines log: one record per invocation, appended safely by concurrent calls."""

from __future__ import annotations

import fcntl
import os
import stat
import sys

from cni_quickstart import fastjson

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~5 ms per CNI call
if TYPE_CHECKING:
    from typing import Any

MODE = 0o640


def append(path: str, record: dict[str, Any]) -> None:
    """Append one record; any failure goes to stderr and never changes the CNI answer."""
    line = (fastjson.dumps(record, sort_keys=True) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, MODE)
    except OSError as exc:
        print(f"cni-quickstart: cannot open log {path}: {exc.strerror or exc}", file=sys.stderr)
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            print(f"cni-quickstart: log {path} is not a regular file; not written", file=sys.stderr)
            return
        if st.st_mode & 0o022:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~0o022)
        # One write under an exclusive lock: concurrent records never interleave.
        fcntl.flock(fd, fcntl.LOCK_EX)
        _write_whole_or_nothing(fd, line, path)
    except OSError as exc:
        print(f"cni-quickstart: cannot write log {path}: {exc.strerror or exc}", file=sys.stderr)
    finally:
        os.close(fd)


def _write_whole_or_nothing(fd: int, line: bytes, path: str) -> None:
    """Append line; if the disk fills part-way, cut the file back so no torn record is left behind."""
    size = os.fstat(fd).st_size
    try:
        written = os.write(fd, line)
    except OSError:
        os.ftruncate(fd, size)
        raise
    if written != len(line):
        os.ftruncate(fd, size)
        print(f"cni-quickstart: log {path} is full; record not written", file=sys.stderr)
