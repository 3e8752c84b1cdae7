"""The node executable for a kind node's platform, built with plugin/Dockerfile and cached.

A build is reused while its key matches: the plugin's source digest (cniqs.build.source_digest)
plus the Dockerfile and the build script it runs, and the target architecture.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from cniqs import REPO
from cniqs.build import BUILD_ROOT, NAME, source_digest
from e2e.backends.kind import commands as c
from e2e.backends.kind.nodeutils import Runner, check

DOCKERFILE = REPO / "plugin" / "Dockerfile"
BUILD_SCRIPT = REPO / "scripts" / "cniqs" / "build.py"
STAMP = "build.key"


def cache_key(arch: str, digest: str | None = None, extra: tuple[Path, ...] = (DOCKERFILE, BUILD_SCRIPT)) -> str:
    h = hashlib.sha256()
    h.update((digest or source_digest()).encode())
    for path in extra:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return f"{h.hexdigest()[:16]}-linux-{arch}"


def cache_dir(arch: str, root: Path = BUILD_ROOT) -> Path:
    return root / f"container-linux-{arch}"


def cached(out: Path, key: str) -> Path | None:
    """The built folder when out holds a complete build for key."""
    folder = out / NAME
    stamp = out / STAMP
    if (folder / NAME).is_file() and stamp.is_file() and stamp.read_text().strip() == key:
        return folder
    return None


def build(run: Runner, arch: str, *, root: Path = BUILD_ROOT, force: bool = False) -> Path:
    """The one-folder build for linux/arch (folder holding the executable `cni-quickstart`)."""
    key = cache_key(arch)
    out = cache_dir(arch, root)
    if not force and (folder := cached(out, key)) is not None:
        return folder
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    argv = c.buildx_build(f"linux/{arch}", str(out), str(DOCKERFILE), str(REPO))
    check(run, argv, f"container build of the plugin for linux/{arch}", timeout=1800)
    folder = out / NAME
    if not (folder / NAME).is_file():
        raise FileNotFoundError(f"the container build for linux/{arch} left no {folder / NAME}")
    (out / STAMP).write_text(key + "\n")
    return folder


def manifest(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every regular file of a build folder (what the node must hold)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
