"""The user's cache folder for cni-quickstart: $CNIQS_CACHE, else $XDG_CACHE_HOME/cniqs, else ~/.cache/cniqs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    if os.environ.get("CNIQS_CACHE"):
        return Path(os.environ["CNIQS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cniqs"
