"""Build the plugin into a self-contained node executable (one folder: embedded CPython, the plugin frozen in).

The node build is cniqs.ship.embed: a small C launcher linked with libpython, the plugin's and the stdlib's
pure-Python modules frozen into it as bytecode, the few extension modules it needs in lib/. A CNI ADD
through it costs about 1.1x a bare `python3 -I -S -c pass` (`python -m cniqs.bench plugin`: about half
of what the PyInstaller one-folder build it replaced cost over python3, and a third of Nuitka's). It
needs a C compiler and the Python headers (apt: gcc, libc6-dev; python3-dev for Debian's python3).

Beside the plugin the same build makes the DaemonSet's node installer (cniqs.install.nodeinstall, embedded the
same way: cniqs-installer/) and copies the C library both run on (libc/, at its paths on this machine):
everything the installer image holds, so the image is put together from this build's folder on any host.
PyInstaller (freeze()) builds only the benchmark's candidates now.

The folder installs as `<bin dir>/cni-quickstart.d/` with `<bin dir>/cni-quickstart` a symlink to the
executable in it.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from cniqs.install.executable import NAME, install_into
from cniqs.resources import build_root, plugin_sources

INSTALLER_NAME = "cniqs-installer"  # the DaemonSet's node installer, built beside the plugin
LIBC = "libc"  # beside both: the C library they run on, each file at its path (the installer image's root)

# PyInstaller options of the node build: strip the binaries, bytecode at -OO, modules as loose .pyc files
# beside the executable (noarchive: no PYZ archive to open and search on every call).
FREEZE_OPTIONS = ("--strip", "--optimize", "2", "--debug", "noarchive")

MACHINE_TO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_arch() -> str:
    machine = platform.machine().lower()
    try:
        return MACHINE_TO_ARCH[machine]
    except KeyError:
        raise SystemExit(f"unsupported machine {machine!r}: cni-quickstart builds for amd64 and arm64") from None


def build_arch() -> str:
    """The architecture this build makes executables for: this host's, or a cross build's target."""
    from cniqs.ship import embed

    return MACHINE_TO_ARCH[embed.target_multiarch().split("-")[0]] if embed.cross() else host_arch()


# e_machine of an ELF file -> the architecture it runs on
ELF_MACHINES = {62: "amd64", 183: "arm64"}


def elf_arch(path: Path) -> str:
    """The architecture an ELF executable was built for (from its header: the build's, not this host's)."""
    with path.open("rb") as fh:
        head = fh.read(20)
    if head[:4] != b"\x7fELF" or len(head) < 20 or head[5] != 1:
        raise ValueError(f"{path} is not a little-endian ELF file")
    machine = int.from_bytes(head[18:20], "little")
    try:
        return ELF_MACHINES[machine]
    except KeyError:
        raise ValueError(f"{path} is built for ELF machine {machine}, neither amd64 nor arm64") from None


def source_digest() -> str:
    """A digest of our sources the build freezes, the plugin's and the installer's: a build is reused while
    it matches."""
    from cniqs.ship import embed  # the builder, imported only where a build needs it

    h = hashlib.sha256()
    sources = plugin_sources()
    for path in sorted(sources.rglob("*.py")):
        h.update(path.relative_to(sources.parent).as_posix().encode())
        h.update(path.read_bytes())
    for path in embed.own_sources(embed.INSTALLER):
        h.update(path.relative_to(embed.INSTALLER.search).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def build_digest() -> str:
    """source_digest() plus what else decides a build: the embedded build's launcher and its builder."""
    from cniqs.ship import embed

    h = hashlib.sha256(f"{source_digest()}\0{sys.version}".encode())
    for path in (embed.LAUNCHER_C, Path(embed.__file__)):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def build_local(out: Path | None = None, force: bool = False) -> Path:
    """Build for this host's architecture; return the plugin's one-folder directory (holding the executable),
    beside which are the installer's (installer_of) and the C library (libc_of)."""
    if sys.platform != "linux":
        raise SystemExit(
            "the local build needs Linux; on other hosts use the container build (README step 2: docker buildx "
            "build --platform linux/ARCH -f plugin/Dockerfile --output type=local,dest=build/container/linux-ARCH .),"
            " whose folder the DaemonSet's image build takes too (python -m cniqs.providers.cluster.daemonset build "
            "--from build/container/linux-ARCH)"
        )
    digest = build_digest()
    root = out or build_root() / f"linux-{build_arch()}"
    # One build at a time per folder: parallel test workers (pytest -n) and tox envs share this checkout's.
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.with_name(f".{root.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(root, digest, force)


def _build_locked(root: Path, digest: str, force: bool) -> Path:
    from cniqs.ship import embed

    folder = root / NAME
    stamp = root / "source.sha256"
    done = (folder / NAME).is_file() and (root / INSTALLER_NAME / INSTALLER_NAME).is_file()
    if not force and done and stamp.is_file() and stamp.read_text() == digest:
        return folder
    if root.exists() and any(root.iterdir()) and not stamp.is_file():
        raise SystemExit(f"{root} is not empty and holds no earlier build of ours ({stamp.name}); not replacing it")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    log = root / "build.log"
    print(f"cniqs: building {NAME} and {INSTALLER_NAME} (embedded CPython, a few seconds; log {log})",
          file=sys.stderr, flush=True)  # fmt: skip
    embed.build(plugin_sources(), root, NAME)
    self_check(folder / NAME)
    installer = embed.build(embed.INSTALLER, root, INSTALLER_NAME)
    installer_check(installer / INSTALLER_NAME)
    embed.copy_c_library([folder, installer], root / LIBC)
    stamp.write_text(digest)
    return folder


def installer_of(plugin: Path) -> Path:
    """The installer's one-folder build beside a plugin build folder (this build's or the container build's)."""
    return plugin.parent / INSTALLER_NAME


def libc_of(plugin: Path) -> Path:
    """The C library folder beside a plugin build folder: its files at their paths (lib/..., lib64/...)."""
    return plugin.parent / LIBC


def installer_check(executable: Path) -> None:
    """The installer build starts and knows its commands; SystemExit if not."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    proc = subprocess.run([str(executable), "--help"], capture_output=True, text=True, env=env, timeout=30)
    if proc.returncode != 0 or "uninstall" not in proc.stdout:
        raise SystemExit(
            f"the build {executable} does not answer --help (exit {proc.returncode}):\n"
            f"{proc.stdout[-1500:]}{proc.stderr[-1500:]}"
        )


def self_check(executable: Path) -> None:
    """The build answers VERSION, as CNI calls it (no arguments, no PYTHON* settings); SystemExit if not."""
    env = {"CNI_COMMAND": "VERSION", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    proc = subprocess.run([str(executable)], input="{}", capture_output=True, text=True, env=env, timeout=30)
    if proc.returncode != 0 or "supportedVersions" not in proc.stdout:
        raise SystemExit(
            f"the build {executable} does not answer CNI VERSION (exit {proc.returncode}):\n"
            f"{proc.stdout[-1500:]}{proc.stderr[-1500:]}"
        )


def freeze(
    entry: Path,
    name: str,
    search: Path,
    root: Path,
    excludes: Sequence[str] = (),
    options: Sequence[str] = FREEZE_OPTIONS,
) -> Path:
    """PyInstaller one-folder build of entry as root/name/name; its output goes to root/build.log, which the
    progress line names (with -v, CNIQS_VERBOSE=1, it is shown as well)."""
    cmd = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--onedir",
        "--name", name, "--paths", str(search),
        "--distpath", str(root), "--workpath", str(root / "work"), "--specpath", str(root),
        "--log-level", "WARN", *options,
        *(arg for mod in excludes for arg in ("--exclude-module", mod)),
        str(entry),
    ]  # fmt: skip
    log = root / "build.log"
    verbose = os.environ.get("CNIQS_VERBOSE") == "1"
    print(f"cniqs: building {name} (PyInstaller, about 20 s; log {log})", file=sys.stderr, flush=True)
    with log.open("wb") as log_out:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        for line in proc.stdout:  # to the log, and with -v (CNIQS_VERBOSE=1) to the terminal too
            log_out.write(line)
            if verbose:
                sys.stderr.write(line.decode(errors="replace"))
        rc = proc.wait()
    if rc != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise SystemExit(f"the {name} build failed (exit {rc}); log {log}:\n" + "\n".join(tail))
    shutil.rmtree(root / "work", ignore_errors=True)
    return root / name


_GLIBC_VERSION = re.compile(rb"GLIBC_(\d+)\.(\d+)")


def required_glibc(folder: Path) -> str | None:
    """The newest GLIBC_x.y symbol version any file of a build asks for (its glibc floor), or None."""
    newest: tuple[int, int] | None = None
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        for match in _GLIBC_VERSION.finditer(path.read_bytes()):
            found = (int(match[1]), int(match[2]))
            newest = found if newest is None or found > newest else newest
    return None if newest is None else f"{newest[0]}.{newest[1]}"


def glibc_version(text: str) -> tuple[int, ...] | None:
    """The first x.y version in text (`glibc 2.36`, getconf GNU_LIBC_VERSION's answer), as numbers; None if none."""
    found = re.search(r"(\d+)\.(\d+)", text)
    return None if found is None else (int(found[1]), int(found[2]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the cni-quickstart node executable for this host")
    parser.add_argument("--force", action="store_true", help="rebuild even if the sources did not change")
    parser.add_argument("--install", metavar="BIN_DIR", help="also install into this CNI bin dir")
    parser.add_argument("--out", type=Path, help="build into this directory instead of build/plugin/linux-ARCH")
    args = parser.parse_args(argv)
    folder = build_local(out=args.out, force=args.force)
    print(folder / NAME)
    if args.install:
        print(install_into(folder, Path(args.install)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
