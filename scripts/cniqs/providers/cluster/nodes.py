"""Small node helpers: one command each on a node, through the provider's NodeAccess and a Runner.

The runner is the only thing that touches processes, so every helper is testable with a fake.
"""

from __future__ import annotations

import base64
import io
import shlex
import tarfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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


def read_optional(nodes: Nodes, node: str, path: str) -> str | None:
    """A node file's text, or None when it cannot be read (missing)."""
    result = nodes.run(cmd.node_cat(nodes.access, node, path), timeout=30)
    return result.stdout if result.rc == 0 else None


def crictl_info(nodes: Nodes, node: str) -> str:
    return check(nodes.run, cmd.crictl_info(nodes.access, node), f"crictl info on {node}", timeout=30)


def tree_archive(src: Path) -> str:
    """A local directory as a base64-encoded tar archive (commands.UNPACK): its files, folders and symlinks as
    they are, with their modes, owned by root."""

    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(src, arcname=".", filter=as_root)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class NodeShellFiles:
    """cniqs.install.nodefs.NodeFiles on a node, through its NodeAccess (kind: `docker exec`).

    Each operation is an exec into the node, which costs far more than what it runs; inside batch() the
    changes (remove, rename, symlink, and one copy, whose archive goes on the exec's stdin) wait and go to the
    node together, in one exec, before anything that reads the node and when the batch ends.
    """

    def __init__(self, nodes: Nodes, node: str) -> None:
        self.nodes = nodes
        self.node = node
        self._held: list[tuple[list[str], str]] | None = None  # inside batch(): (command, what) not yet sent
        self._input: str | None = None  # the held copy's archive: the exec's stdin
        self._seen: dict[str, bool] = {}  # path -> exists, as readlink last saw it; forgotten at any change

    def _check(self, argv: list[str], what: str, *, input: str | None = None, timeout: float = 120) -> str:
        return check(self.nodes.run, argv, f"{what} on {self.node}", input=input, timeout=timeout)

    @contextmanager
    def batch(self) -> Iterator[None]:
        if self._held is not None:
            yield  # inside a batch already: its end sends
            return
        self._held = []
        try:
            yield
            self._send()
        finally:
            self._held = self._input = None

    def _change(self, argv: list[str], what: str, data: str | None = None) -> None:
        """A change, sent now or held in a batch; data: what it reads on stdin (at most one held change has)."""
        self._seen.clear()
        if self._held is None:
            self._run_changes([(argv, what)], data)
        else:
            self._held.append((argv, what))
            self._input = data if data is not None else self._input

    def _send(self) -> None:
        """What the batch holds, in one exec; nothing when it holds nothing."""
        if not self._held:
            return
        held, data = self._held, self._input
        self._held, self._input = [], None
        self._run_changes(held, data)

    def _run_changes(self, changes: list[tuple[list[str], str]], data: str | None) -> None:
        stdin, timeout = data is not None, 120 if data is None else 300
        if len(changes) == 1:
            argv = self.nodes.access.exec_argv(self.node, changes[0][0], stdin=stdin)
        else:
            argv = cmd.node_in_turn(self.nodes.access, self.node, [argv for argv, _ in changes], stdin=stdin)
        self._check(argv, ", ".join(what for _, what in changes), input=data, timeout=timeout)

    def list_dir(self, path: str) -> list[str]:
        self._send()
        return sorted(parse.lines(self._check(cmd.node_ls(self.nodes.access, self.node, path), f"list {path}")))

    def read_dir(self, path: str, suffixes: tuple[str, ...]) -> dict[str, str | None]:
        self._send()
        boundary = cmd.boundary()
        argv = cmd.node_read_dir(self.nodes.access, self.node, path, boundary, suffixes)
        result = self.nodes.run(argv, timeout=120)
        if result.rc == cmd.READ_DIR_MISSING:
            raise FileNotFoundError(f"{path} on {self.node}")
        if result.rc != 0:
            raise CommandError(result, f"read {path} on {self.node}")
        return parse.dir_texts(result.stdout, boundary)

    def read_text(self, path: str) -> str:
        self._send()
        result = self.nodes.run(cmd.node_cat(self.nodes.access, self.node, path), input=None, timeout=120)
        if result.rc != 0 and "No such file" in result.stderr:
            raise FileNotFoundError(f"{path} on {self.node}")  # what the installer's race handling expects
        if result.rc != 0:
            raise CommandError(result, f"read {path} on {self.node}")
        return result.stdout

    def write_atomic(self, path: str, text: str) -> None:
        # A temp file in the same directory, renamed over path: containerd's watcher reloads on
        # Rename and ignores Create. The temp name ends in .tmp, which libcni never loads.
        self._send()
        self._seen.clear()
        directory, _, name = path.rpartition("/")
        tmp = f"{directory}/.{name}.cniqs.tmp"
        self._check(cmd.node_write_atomic(self.nodes.access, self.node, tmp, path), f"write {path}", input=text)

    def make_dirs(self, paths: Sequence[str]) -> None:
        """The folders and their parents (mkdir -p); a change, so in a batch it waits with the others."""
        self._change(["mkdir", "-p", "--", *paths], "make " + ", ".join(paths))

    def remove(self, path: str) -> None:
        self._change(cmd.rm(path), f"remove {path}")

    def remove_tree(self, path: str) -> None:
        self._change(cmd.rm(path, recursive=True), f"remove {path}")

    def copy_tree(self, src: Path, dest: str) -> None:
        """In a batch, the copy waits with the changes (in one exec) unless one is waiting already."""
        if self._input is not None:
            self._send()
        self._change(cmd.unpack(dest), f"copy {src} to {dest}", tree_archive(src))

    def symlink(self, target: str, link: str) -> None:
        self._change(cmd.symlink(target, link), f"link {link}")

    def rename(self, src: str, dest: str) -> None:
        self._change(cmd.rename(src, dest), f"rename {shlex.quote(src)}")

    def readlink(self, path: str) -> str | None:
        """Also learns whether path exists, which exists(path) then answers without an exec until the next
        change made through this object."""
        self._send()
        found, target = parse.link_state(self._check(cmd.node_link_state(self.nodes.access, self.node, path),
                                                     f"look at {path}", timeout=30))  # fmt: skip
        self._seen[path] = found
        return target

    def exists(self, path: str) -> bool:
        self._send()
        if path in self._seen:
            return self._seen[path]
        return self.nodes.run(cmd.node_exists(self.nodes.access, self.node, path), timeout=30).rc == 0
