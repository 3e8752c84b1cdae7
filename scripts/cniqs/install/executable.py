"""The plugin's folder on a node: <bin dir>/cni-quickstart.d with the cni-quickstart symlink into it, installed and
removed the same way by every provider and by the DaemonSet's node installer (cniqs.install.nodeinstall).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cniqs.common.errors import InstallError
from cniqs.install.conflist import CNI_TYPE
from cniqs.install.nodefs import LocalFiles, NodeFiles

NAME = CNI_TYPE  # the executable is named after the CNI type: libcni runs <bin dir>/<type>
LINK_TARGET = f"{NAME}.d/{NAME}"


def temp_names(bin_dir: str) -> tuple[str, str]:
    """The hidden temp folder and link an install makes in bin_dir (same filesystem: the renames are atomic)."""
    return f"{bin_dir}/.{NAME}.d.cniqs.tmp", f"{bin_dir}/.{NAME}.cniqs.tmp"


def install_executable(files: NodeFiles, folder: Path, bin_dir: str) -> str:
    """Install a built folder as <bin_dir>/cni-quickstart.d plus the cni-quickstart symlink; return the link.

    Copy to a temp folder, swap it in, then replace the symlink by renaming a fresh one over it, so the
    runtime never finds a half-copied executable behind <bin_dir>/cni-quickstart. Something else
    named cni-quickstart is never replaced (InstallError).
    """
    target, link = f"{bin_dir}/{NAME}.d", f"{bin_dir}/{NAME}"
    if files.exists(link) and files.readlink(link) != LINK_TARGET:
        raise InstallError(f"{link} exists and is not an install of ours (not cni-quickstart's symlink to "
                           f"{LINK_TARGET}); not touching it")  # fmt: skip
    tmp, tmp_link = temp_names(bin_dir)
    with files.batch():  # on a remote node: the removal, the copy and the swap in one exec
        files.remove_tree(tmp)
        files.copy_tree(folder, tmp)
        files.remove_tree(target)
        files.rename(tmp, target)
        files.remove_tree(tmp_link)
        files.symlink(LINK_TARGET, tmp_link)
        files.rename(tmp_link, link)
    return link


def uninstall_executable(files: NodeFiles, bin_dir: str) -> bool:
    """Remove the symlink and folder when they are ours; leave anything else alone."""
    link = f"{bin_dir}/{NAME}"
    if files.readlink(link) != LINK_TARGET:
        return False
    with files.batch():
        files.remove(link)
        files.remove_tree(f"{bin_dir}/{NAME}.d")
    return True


def install_into(folder: Path, bin_dir: Path) -> Path:
    """install_executable into a directory of this machine; SystemExit (a message) when it may not."""
    try:
        return Path(install_executable(LocalFiles(), folder, str(bin_dir)))
    except InstallError as exc:
        raise SystemExit(str(exc)) from None


def manifest(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every regular file of a build folder (what the node must hold)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
