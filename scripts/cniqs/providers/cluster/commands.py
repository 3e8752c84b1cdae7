"""Command lines of the Kubernetes layer: kubectl (always with an explicit kubeconfig), crictl and the
plain tools (coreutils) on a node, reached through the provider's NodeAccess. Small pure functions,
one per action; nothing here runs anything.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Mapping, Sequence
from typing import Protocol


class NodeAccess(Protocol):
    """How a command or a copy reaches a node: kind wraps them in `docker exec` and `docker cp`."""

    def exec_argv(
        self, node: str, argv: Sequence[str], *, stdin: bool = False, env: Mapping[str, str] | None = None
    ) -> list[str]: ...

    def copy_argv(self, src: str, node: str, dest: str) -> list[str]:
        """Copy a local path to dest on the node; a directory lands as dest when dest does not exist yet."""
        ...


def kubectl(kubeconfig: str, *args: str) -> list[str]:
    """Always with an explicit --kubeconfig: the user's ~/.kube/config is never read or written."""
    return ["kubectl", "--kubeconfig", kubeconfig, *args]


def kubectl_describe_pod(kubeconfig: str, namespace: str, name: str) -> list[str]:
    return kubectl(kubeconfig, "describe", "pod", "--namespace", namespace, name)


def kubectl_describe_pods(kubeconfig: str, namespace: str) -> list[str]:
    return kubectl(kubeconfig, "describe", "pods", "--namespace", namespace)


def kubectl_events(kubeconfig: str, namespace: str) -> list[str]:
    return kubectl(kubeconfig, "get", "events", "--namespace", namespace, "--sort-by=.metadata.creationTimestamp")


def kubectl_get_nodes_wide(kubeconfig: str) -> list[str]:
    return kubectl(kubeconfig, "get", "nodes", "-o", "wide")


def crictl(access: NodeAccess, node: str, *args: str) -> list[str]:
    return access.exec_argv(node, ["crictl", *args])


def crictl_info(access: NodeAccess, node: str) -> list[str]:
    """The runtime's status; its `cniconfig` is the CNI config containerd has loaded."""
    return crictl(access, node, "info")


def crictl_pods_of(access: NodeAccess, node: str, pod_uid: str) -> list[str]:
    """Ready sandbox ids of one Kubernetes pod: kubelet labels every sandbox with the pod's uid."""
    return crictl(access, node, "pods", "--label", f"io.kubernetes.pod.uid={pod_uid}", "--state", "ready", "--quiet")


def crictl_inspectp(access: NodeAccess, node: str, sandbox_id: str) -> list[str]:
    return crictl(access, node, "inspectp", "--output", "json", sandbox_id)


def node_uname_machine(access: NodeAccess, node: str) -> list[str]:
    return access.exec_argv(node, ["uname", "-m"])


# What path is, in one line: `link TARGET`, `other` (exists, not a symlink) or `none`.
LINK_STATE = (
    'if [ -L "$1" ]; then printf "link %s\\n" "$(readlink -- "$1")"; elif [ -e "$1" ]; then echo other; '
    "else echo none; fi"
)


def node_link_state(access: NodeAccess, node: str, path: str) -> list[str]:
    """A symlink's target, or whether path exists as something else (parse.link_state reads the answer)."""
    return access.exec_argv(node, ["sh", "-c", LINK_STATE, "sh", path])


def node_exists(access: NodeAccess, node: str, path: str) -> list[str]:
    """rc 0 when path exists as anything, a dangling symlink included."""
    return access.exec_argv(node, ["sh", "-c", 'test -e "$1" || test -L "$1"', "sh", path])


def node_cat(access: NodeAccess, node: str, path: str) -> list[str]:
    return access.exec_argv(node, ["cat", "--", path])


def node_ls(access: NodeAccess, node: str, path: str) -> list[str]:
    return access.exec_argv(node, ["ls", "-1A", "--", path])


def boundary() -> str:
    """A fresh marker for one command's output (READ_DIR, CHECK_PLUGIN, the kind node shells): random, so no
    file's text or program's output holds it by chance."""
    return f"cniqs-{secrets.token_hex(8)}"


# A directory's names, one header line each (`BOUNDARY KIND NAME`: KIND `f` when the text follows, `-` when it
# does not), each regular file whose name ends with one of the suffixes followed by its text and a newline.
# BOUNDARY is a random word the caller picks, so no file's text can pass for a header (parse.dir_texts).
# Exit 3 (READ_DIR_MISSING): there is no such directory.
READ_DIR = (
    'cd -- "$1" 2>/dev/null || exit 3; b=$2; shift 2; for f in * .*; do case $f in .|..) continue ;; esac; '
    'k=-; for s in "$@"; do case $f in *"$s") k=f ;; esac; done; '
    # One open for the text: a file removed since the glob is left out, as if it had not been there.
    'if [ $k = f ] && [ -f "$f" ] && { printf "%s f %s\\n" "$b" "$f"; cat <&3; echo; } 3<"$f" 2>/dev/null; '
    'then continue; fi; [ -e "$f" ] || [ -L "$f" ] || continue; printf "%s - %s\\n" "$b" "$f"; done'
)

READ_DIR_MISSING = 3


def node_read_dir(access: NodeAccess, node: str, path: str, boundary: str, suffixes: Sequence[str]) -> list[str]:
    """path's names and the text of its files named *SUFFIX, in one exec (parse.dir_texts reads the answer)."""
    return access.exec_argv(node, ["sh", "-c", READ_DIR, "sh", path, boundary, *suffixes])


# stdin into tmp, made readable, renamed over path: one exec for NodeShellFiles.write_atomic's three steps.
WRITE_ATOMIC = 'cat > "$1" && chmod 0644 "$1" && mv -f -T "$1" "$2"'


def node_write_atomic(access: NodeAccess, node: str, tmp: str, path: str) -> list[str]:
    """stdin to tmp (0644), then renamed over path (rename(2): a watcher sees one Rename, never a partial file)."""
    return access.exec_argv(node, ["sh", "-c", WRITE_ATOMIC, "sh", tmp, path], stdin=True)


def rename(src: str, dest: str) -> list[str]:
    """rename(2) within one directory: -T so dest is replaced, never entered when it is a directory."""
    return ["mv", "-f", "-T", "--", src, dest]


def rm(path: str, *, recursive: bool = False) -> list[str]:
    return ["rm", "-rf" if recursive else "-f", "--", path]


def symlink(target: str, link: str) -> list[str]:
    return ["ln", "-s", "-f", "-n", "--", target, link]


def node_rm(access: NodeAccess, node: str, path: str, *, recursive: bool = False) -> list[str]:
    return access.exec_argv(node, rm(path, recursive=recursive))


def node_in_turn(access: NodeAccess, node: str, commands: Sequence[Sequence[str]], *, stdin: bool = False) -> list[str]:
    """Commands one after another in one exec, each only after the one before it succeeded; the exit code and
    the message are the first failing command's. stdin: one of them reads the exec's input."""
    return access.exec_argv(node, ["sh", "-c", " && ".join(shlex.join(c) for c in commands)], stdin=stdin)


# A new directory $1, filled from a base64-encoded tar archive on stdin (base64 and tar are part of every
# node's Debian userland; base64, because the exec's input is text).
UNPACK = 'mkdir -- "$1" && base64 -d | tar -xf - -C "$1"'


def unpack(dest: str) -> list[str]:
    """The command that makes dest (it must not exist yet) from an archive on stdin (nodes.tree_archive)."""
    return ["sh", "-c", UNPACK, "sh", dest]


# The installed files hashed (sha256sum's lines), a line `BOUNDARY`, then the plugin run once (CNI VERSION, no
# stdin), its output and errors, and a last line `BOUNDARY EXIT-CODE`: install's checks after a copy in one exec
# (parse.plugin_check reads the answer). BOUNDARY is a random word the caller picks.
CHECK_PLUGIN = (
    'exe=$1 b=$2; shift 2; sha256sum -- "$@"; echo "$b"; CNI_COMMAND=VERSION "$exe" </dev/null 2>&1; echo "$b $?"'
)


def node_check_plugin(access: NodeAccess, node: str, executable: str, boundary: str, paths: Sequence[str]) -> list[str]:
    """Hash paths and run executable once (CNI VERSION): the copy arrived intact, and it starts on this node's
    userland."""
    return access.exec_argv(node, ["sh", "-c", CHECK_PLUGIN, "sh", executable, boundary, *paths])


def node_glibc_version(access: NodeAccess, node: str) -> list[str]:
    """`glibc 2.36`: the node's C library (getconf is part of glibc's own tools)."""
    return access.exec_argv(node, ["getconf", "GNU_LIBC_VERSION"])


def node_image_import(access: NodeAccess, node: str, archive: str) -> list[str]:
    """Import an image archive (OCI or docker save) into the runtime's Kubernetes namespace on the node."""
    return access.exec_argv(node, ["ctr", "--namespace", "k8s.io", "images", "import", archive])


def node_copy(access: NodeAccess, src: str, node: str, dest: str) -> list[str]:
    return access.copy_argv(src, node, dest)
