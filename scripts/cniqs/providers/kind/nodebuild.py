"""The node executable for a kind node's platform: built on this host when it can serve the nodes, else with
plugin/Dockerfile in docker buildx, cached.

Which build runs depends on the host, never on the engine that runs the nodes: a Linux host of the nodes'
architecture whose glibc is no newer than the nodes' floor (versions.NODE_GLIBC) builds natively
(cniqs.ship.build); any other host (macOS, a newer Linux such as GitHub's runners, another architecture) uses the
container build. A newer Linux without buildx still builds natively: the install then checks the
executable's glibc against each node's before anything is configured.

A build is reused while its key matches: the plugin's source digest (cniqs.ship.build.source_digest)
plus the Dockerfile and the build scripts it runs (build.py, embed.py, launcher.c), and the target
architecture. The build context is staged from the installed packages, so a checkout is not needed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from cniqs.common.run import Runner, check
from cniqs.install.executable import NAME
from cniqs.providers.kind import commands, versions
from cniqs.resources import DOCKERFILE, PACKAGE, build_root, plugin_sources
from cniqs.ship import build as executable_build
from cniqs.ship import embed
from cniqs.ship.build import build_local, glibc_version, host_arch, source_digest

BUILD_FILES = (
    DOCKERFILE,
    Path(executable_build.__file__),
    Path(embed.__file__),
    embed.LAUNCHER_C,
)  # what the build runs
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


def host_glibc() -> str | None:
    """This host's glibc version ("2.36"), None where there is none (macOS, musl)."""
    try:
        found = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):
        return None
    version = glibc_version(found) if found.startswith("glibc ") else None
    return None if version is None else ".".join(map(str, version))


def _platform_problem(arch: str, platform: str, machine: str | None) -> str | None:
    if platform != "linux":
        return f"this host is {platform}, the nodes are Linux"
    machine = machine or host_arch()
    if machine != arch:
        return f"this host is {machine}, the nodes are {arch}"
    return None


def _glibc_problem(glibc: str | None) -> str | None:
    if glibc is None:
        return "this host has no glibc"
    if versions.glibc_key(glibc) > versions.glibc_key(versions.NODE_GLIBC):
        return f"this host's glibc {glibc} is newer than the nodes' floor {versions.NODE_GLIBC}"
    return None


def native_problem(
    arch: str, platform: str = sys.platform, glibc: str | None = None, machine: str | None = None
) -> str | None:
    """Why this host's own build would not serve linux/arch nodes; None when it does."""
    return _platform_problem(arch, platform, machine) or _glibc_problem(glibc or host_glibc())


def build_for_nodes(run: Runner, arch: str, force: bool = False) -> Path:
    """The node executable for linux/arch nodes: the host's own build when it serves them, else docker buildx."""
    problem = native_problem(arch)
    if problem is None:
        return build_local(force=force)
    if run(commands.docker_buildx_version(), timeout=30).rc == 0:
        return build(run, arch, force=force)
    if _platform_problem(arch, sys.platform, None) is None and host_glibc() is not None:
        return build_local(force=force)  # only newer than the floor: the install checks each node's glibc
    raise RuntimeError(
        f"the plugin for linux/{arch} nodes cannot be built here: {problem}, and docker buildx (the container "
        "build, plugin/Dockerfile) is missing: install the buildx plugin (https://docs.docker.com/build/install-buildx/)"
    )
