"""NodeFiles: the file operations installers need on a node, and LocalFiles, this machine's filesystem.

Every provider hands the installers (cniqs.install.conflist, cniqs.install.executable) a NodeFiles: a
local node's directories directly, a kind node through `docker exec`, so each install is written once.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol

from cniqs.common.procs import alive


class NodeFiles(Protocol):
    """The file operations the installers need on a node (local path, `docker exec`, ...)."""

    def list_dir(self, path: str) -> list[str]: ...

    def read_dir(self, path: str, suffixes: tuple[str, ...]) -> dict[str, str | None]:
        """Every name in the directory path, with the text of each regular file (a symlink to one included) whose
        name ends with one of suffixes; None for every other name. FileNotFoundError when path is missing."""
        ...

    def read_text(self, path: str) -> str:
        """The file's text; FileNotFoundError when there is none."""
        ...

    def write_atomic(self, path: str, text: str) -> None:
        """Write a temp file in the same directory and rename it over path (containerd reloads on Rename)."""
        ...

    def remove(self, path: str) -> None: ...

    def remove_tree(self, path: str) -> None:
        """Remove path and everything below it; nothing when it is not there."""
        ...

    def copy_tree(self, src: Path, dest: str) -> None:
        """Copy a local directory to dest on the node (dest must not exist yet)."""
        ...

    def symlink(self, target: str, link: str) -> None:
        """Make link a symlink to target, replacing a symlink already there."""
        ...

    def rename(self, src: str, dest: str) -> None:
        """rename(2): dest is replaced, never entered when it is a directory."""
        ...

    def readlink(self, path: str) -> str | None:
        """A symlink's target; None when path is not a symlink."""
        ...

    def exists(self, path: str) -> bool:
        """path exists as anything, a dangling symlink included."""
        ...

    def batch(self) -> AbstractContextManager[None]:
        """A block whose changes (remove, remove_tree, copy_tree, symlink, rename) may wait and reach the node
        together: in order, each before any later read, all by the block's end. The first that fails raises, and
        the ones after it are not made; a block left by an exception drops what it still holds. Where a change
        costs no more than a call (LocalFiles), none waits."""
        ...


class LocalFiles:
    """NodeFiles on this machine's filesystem."""

    def list_dir(self, path: str) -> list[str]:
        return sorted(p.name for p in Path(path).iterdir())

    def read_dir(self, path: str, suffixes: tuple[str, ...]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for entry in sorted(Path(path).iterdir()):
            try:
                found[entry.name] = _regular_text(entry) if entry.name.endswith(suffixes) else None
            except FileNotFoundError:
                if os.path.lexists(entry):
                    found[entry.name] = None  # a dangling symlink
                # else removed since it was listed (a concurrent uninstall): as if it had not been there
        return found

    def read_text(self, path: str) -> str:
        return Path(path).read_text()

    def write_atomic(self, path: str, text: str) -> None:
        """Write a hidden temp file beside path, then rename it over path.

        Readers (and containerd) see the old file or the new one, never a partial one. A temp file
        left by a writer that died (its pid in the name no longer runs) is removed first.
        """
        target = Path(path)
        remove_stale_temps(target)
        tmp = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
                fh.flush()
                os.fchmod(fh.fileno(), 0o644)
                os.fsync(fh.fileno())
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def remove(self, path: str) -> None:
        remove_stale_temps(Path(path))
        Path(path).unlink(missing_ok=True)

    def remove_tree(self, path: str) -> None:
        target = Path(path)
        if target.is_symlink() or target.is_file():
            target.unlink()
        else:
            shutil.rmtree(target, ignore_errors=True)

    def copy_tree(self, src: Path, dest: str) -> None:
        shutil.copytree(src, dest, symlinks=True)

    def symlink(self, target: str, link: str) -> None:
        Path(link).unlink(missing_ok=True)
        Path(link).symlink_to(target)

    def rename(self, src: str, dest: str) -> None:
        Path(src).replace(dest)

    def readlink(self, path: str) -> str | None:
        return os.readlink(path) if Path(path).is_symlink() else None

    def exists(self, path: str) -> bool:
        return Path(path).exists() or Path(path).is_symlink()

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()


def _regular_text(entry: Path) -> str | None:
    """A regular file's text (through a symlink too), read from one open; None for anything else (a directory,
    a FIFO: never blocked on). FileNotFoundError when there is nothing to open."""
    fd = os.open(entry, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read().decode()


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove `.<name>.<pid>[-<thread>].tmp` files beside target whose writer process is gone."""
    removed = []
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        pid = tmp.name[len(target.name) + 2 : -len(".tmp")].split("-")[0]
        if not pid.isdigit() or alive(int(pid)):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed
