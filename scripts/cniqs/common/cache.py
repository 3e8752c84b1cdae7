"""The user's cache folder for cni-quickstart: $CNIQS_CACHE, else $XDG_CACHE_HOME/cniqs, else ~/.cache/cniqs."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cache_root() -> Path:
    if os.environ.get("CNIQS_CACHE"):
        return Path(os.environ["CNIQS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cniqs"


@contextmanager
def entry_lock(entry: Path) -> Iterator[None]:
    """One process at a time builds a cache entry (a folder): an exclusive lock on `<entry>.lock` beside it,
    waited for. Whoever waited finds the entry built when it gets the lock."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    with open(entry.with_name(entry.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # the lock goes with the file's close
