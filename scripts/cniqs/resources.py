"""Where the library finds its data, installed or in a checkout.

The data files (conflist/*.json, plugin/Dockerfile, .ci/apt-packages.txt) ship as package data in
cniqs/data (in a checkout, symlinks to the top-level files); the plugin's sources are the installed
`cni_quickstart` package. Builds are cached in the checkout's build/ when there is a checkout,
else in the user's cache directory ($CNIQS_BUILD_DIR overrides both).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# Frozen into the node installer (cniqs.ship.embed) a module has no __file__; nothing there reads these paths.
PACKAGE = Path(globals().get("__file__", "/frozen/cniqs/resources.py")).resolve().parent
DATA = PACKAGE / "data"
CONFLIST_DIR = DATA / "conflist"
DOCKERFILE = DATA / "Dockerfile"
APT_PACKAGES = DATA / "apt-packages.txt"
PLUGIN_PACKAGE = "cni_quickstart"


def checkout() -> Path | None:
    """The source checkout this library runs from (scripts/cniqs inside it), or None when installed."""
    root = PACKAGE.parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "plugin" / PLUGIN_PACKAGE).is_dir() else None


def plugin_sources() -> Path:
    """The plugin package's directory (holding __main__.py): importable, else beside this checkout's scripts/."""
    spec = importlib.util.find_spec(PLUGIN_PACKAGE)
    if spec is not None and spec.origin is not None:
        return Path(spec.origin).resolve().parent
    return PACKAGE.parents[1] / "plugin" / PLUGIN_PACKAGE


def build_root() -> Path:
    """Where plugin builds are cached."""
    if os.environ.get("CNIQS_BUILD_DIR"):
        return Path(os.environ["CNIQS_BUILD_DIR"])
    root = checkout()
    if root is not None:
        return root / "build" / "plugin"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "cniqs" / "plugin"
