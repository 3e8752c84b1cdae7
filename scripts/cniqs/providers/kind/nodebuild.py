"""The node executable for a kind node's platform, built with plugin/Dockerfile and cached.

A build is reused while its key matches: the plugin's source digest (cniqs.build.source_digest)
plus the Dockerfile and the build scripts it runs (build.py, embed.py, launcher.c), and the target
architecture. The build context is staged from the installed packages, so a checkout is not needed.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from cniqs.build import NAME, source_digest
from cniqs.common.run import Runner, check
from cniqs.providers.kind import commands
from cniqs.resources import DOCKERFILE, PACKAGE, build_root, plugin_sources

BUILD_SCRIPT = PACKAGE / "build.py"
BUILD_FILES = (DOCKERFILE, BUILD_SCRIPT, PACKAGE / "embed.py", PACKAGE / "launcher.c")  # what the build runs
STAMP = "build.key"


def cache_key(arch: str, digest: str | None = None, extra: tuple[Path, ...] = BUILD_FILES) -> str:
    h = hashlib.sha256()
    h.update((digest or source_digest()).encode())
    for path in extra:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return f"{h.hexdigest()[:16]}-linux-{arch}"


def cache_dir(arch: str, root: Path | None = None) -> Path:
    return (root or build_root()) / f"container-linux-{arch}"


def cached(out: Path, key: str) -> Path | None:
    """The built folder when out holds a complete build for key."""
    folder = out / NAME
    stamp = out / STAMP
    if (folder / NAME).is_file() and stamp.is_file() and stamp.read_text().strip() == key:
        return folder
    return None


def build(run: Runner, arch: str, *, root: Path | None = None, force: bool = False) -> Path:
    """The one-folder build for linux/arch (folder holding the executable `cni-quickstart`)."""
    key = cache_key(arch)
    out = cache_dir(arch, root)
    if not force and (folder := cached(out, key)) is not None:
        return folder
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="cniqs-build-context-") as context:
        stage_context(Path(context))
        argv = commands.buildx_build(f"linux/{arch}", str(out), str(DOCKERFILE), context)
        check(run, argv, f"container build of the plugin for linux/{arch}", timeout=1800)
    folder = out / NAME
    if not (folder / NAME).is_file():
        raise FileNotFoundError(f"the container build for linux/{arch} left no {folder / NAME}")
    (out / STAMP).write_text(key + "\n")
    return folder


def stage_context(dest: Path) -> None:
    """The build context plugin/Dockerfile expects (plugin/cni_quickstart, scripts/cniqs), from the packages."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "data")
    shutil.copytree(plugin_sources(), dest / "plugin" / "cni_quickstart", ignore=skip)
    shutil.copytree(PACKAGE, dest / "scripts" / "cniqs", ignore=skip)
