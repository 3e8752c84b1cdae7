"""Small node helpers: one command each on a node, through the provider's NodeAccess and a Runner.

The runner is the only thing that touches processes, so every helper is testable with a fake.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cniqs.common.run import CommandError, Runner, check
from cniqs.install.executable import NAME
from cniqs.providers.cluster import commands as cmd
from cniqs.providers.cluster import parse
from cniqs.providers.cluster.commands import NodeAccess

T = TypeVar("T")


@dataclass(frozen=True)
class CniDirs:
    """Where a node's runtime finds CNI plugins and configs (default: kubelet's and containerd's)."""

    bin_dir: str = "/opt/cni/bin"
    conf_dir: str = "/etc/cni/net.d"

    @property
    def folder(self) -> str:
        """The installed one-folder build."""
        return f"{self.bin_dir}/{NAME}.d"

    @property
    def link(self) -> str:
        """What libcni runs: the symlink named after the CNI type."""
        return f"{self.bin_dir}/{NAME}"


KUBELET_CNI = CniDirs()


@dataclass(frozen=True)
class Nodes:
    """How the Kubernetes layer reaches a cluster's nodes: a runner, the provider's NodeAccess, the CNI dirs."""

    run: Runner
    access: NodeAccess
    cni: CniDirs = KUBELET_CNI
    runtime_socket: str = "/run/containerd/containerd.sock"  # containerd's CRI socket, on every node


def on_each(names: Sequence[str], fn: Callable[[str], T]) -> dict[str, T]:
    """fn(node) on every node at once (a node's commands are its own, and each is mostly waiting on its
    runtime); the results by node, in names' order. Every call runs to its end; then the first failure in
    names' order is raised."""
    if len(names) < 2:
        return {name: fn(name) for name in names}
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="node") as pool:
        futures = {name: pool.submit(fn, name) for name in names}
    return {name: future.result() for name, future in futures.items()}


def machine(nodes: Nodes, node: str) -> str:
    return check(nodes.run, cmd.node_uname_machine(nodes.access, node), f"architecture of {node}").strip()


def platform(nodes: Nodes, node: str) -> str:
    return parse.machine_to_platform(machine(nodes, node))


def sha256sums(nodes: Nodes, node: str, paths: Sequence[str]) -> dict[str, str]:
    result = nodes.run(cmd.node_sha256sum(nodes.access, node, paths), timeout=60)
    # sha256sum exits 1 when a file is missing but still prints the others: compare what it printed.
    return parse.sha256sum(result.stdout)


def read_optional(nodes: Nodes, node: str, path: str) -> str | None:
    """A node file's text, or None when it cannot be read (missing)."""
    result = nodes.run(cmd.node_cat(nodes.access, node, path), timeout=30)
    return result.stdout if result.rc == 0 else None


def crictl_info(nodes: Nodes, node: str) -> str:
    return check(nodes.run, cmd.crictl_info(nodes.access, node), f"crictl info on {node}", timeout=30)


class NodeShellFiles:
    """cniqs.install.nodefs.NodeFiles on a node, through its NodeAccess (kind: `docker exec`, `docker cp`)."""

    def __init__(self, nodes: Nodes, node: str) -> None:
        self.nodes = nodes
        self.node = node

    def _check(self, argv: list[str], what: str, *, input: str | None = None, timeout: float = 120) -> str:
        return check(self.nodes.run, argv, f"{what} on {self.node}", input=input, timeout=timeout)

    def list_dir(self, path: str) -> list[str]:
        return sorted(parse.lines(self._check(cmd.node_ls(self.nodes.access, self.node, path), f"list {path}")))

    def read_text(self, path: str) -> str:
        result = self.nodes.run(cmd.node_cat(self.nodes.access, self.node, path), input=None, timeout=120)
        if result.rc != 0 and "No such file" in result.stderr:
            raise FileNotFoundError(f"{path} on {self.node}")  # what the installer's race handling expects
        if result.rc != 0:
            raise CommandError(result, f"read {path} on {self.node}")
        return result.stdout

    def write_atomic(self, path: str, text: str) -> None:
        # A temp file in the same directory, renamed over path: containerd's watcher reloads on
        # Rename and ignores Create. The temp name ends in .tmp, which libcni never loads.
        directory, _, name = path.rpartition("/")
        tmp = f"{directory}/.{name}.cniqs.tmp"
        self._check(cmd.node_write_atomic(self.nodes.access, self.node, tmp, path), f"write {path}", input=text)

    def remove(self, path: str) -> None:
        self._check(cmd.node_rm(self.nodes.access, self.node, path), f"remove {path}")

    def remove_tree(self, path: str) -> None:
        self._check(cmd.node_rm(self.nodes.access, self.node, path, recursive=True), f"remove {path}")

    def copy_tree(self, src: Path, dest: str) -> None:
        self._check(cmd.node_copy(self.nodes.access, str(src), self.node, dest), f"copy {src} to {dest}", timeout=300)

    def symlink(self, target: str, link: str) -> None:
        self._check(cmd.node_symlink(self.nodes.access, self.node, target, link), f"link {link}")

    def rename(self, src: str, dest: str) -> None:
        self._check(cmd.node_rename(self.nodes.access, self.node, src, dest), f"rename {shlex.quote(src)}")

    def readlink(self, path: str) -> str | None:
        result = self.nodes.run(cmd.node_readlink(self.nodes.access, self.node, path), timeout=30)
        return result.stdout.strip() if result.rc == 0 else None

    def exists(self, path: str) -> bool:
        return self.nodes.run(cmd.node_exists(self.nodes.access, self.node, path), timeout=30).rc == 0
