"""Small node helpers: one `docker exec` (or `docker cp`) each, over an injectable runner.

The runner is the only thing that touches processes, so every helper is testable with a fake.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from e2e.backends.kind import commands as c
from e2e.backends.kind import parse


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    rc: int
    stdout: str
    stderr: str


class CommandError(Exception):
    """A command failed; the message names the command, its exit code and the end of its stderr."""

    def __init__(self, result: Completed, what: str = "") -> None:
        self.result = result
        tail = " | ".join(result.stderr.strip().splitlines()[-5:]) or "(no stderr)"
        cmd = " ".join(result.argv)
        prefix = f"{what}: " if what else ""
        super().__init__(f"{prefix}`{cmd}` exited {result.rc}: {tail}")


class Runner(Protocol):
    def __call__(self, argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed: ...


def run_process(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
    """The real runner: never raises on a non-zero exit (callers decide); a timeout is rc 124."""
    try:
        proc = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return Completed(list(argv), 124, out, f"timed out after {timeout} s")
    except FileNotFoundError as exc:
        return Completed(list(argv), 127, "", f"{argv[0]}: {exc.strerror}")
    return Completed(list(argv), proc.returncode, proc.stdout, proc.stderr)


def check(run: Runner, argv: Sequence[str], what: str = "", *, input: str | None = None, timeout: float = 120) -> str:
    """Run, raise CommandError on a non-zero exit, return stdout."""
    result = run(argv, input=input, timeout=timeout)
    if result.rc != 0:
        raise CommandError(result, what)
    return result.stdout


def machine(run: Runner, node: str) -> str:
    return check(run, c.node_uname_machine(node), f"architecture of {node}").strip()


def platform(run: Runner, node: str) -> str:
    return parse.machine_to_platform(machine(run, node))


def sha256sums(run: Runner, node: str, paths: Sequence[str]) -> dict[str, str]:
    result = run(c.node_sha256sum(node, paths), timeout=60)
    # sha256sum exits 1 when a file is missing but still prints the others: compare what it printed.
    return parse.sha256sum(result.stdout)


def readlink(run: Runner, node: str, path: str) -> str | None:
    result = run(c.node_readlink(node, path), timeout=30)
    return result.stdout.strip() if result.rc == 0 else None


def exists(run: Runner, node: str, path: str) -> bool:
    return run(c.node_exists(node, path), timeout=30).rc == 0


def read_optional(run: Runner, node: str, path: str) -> str | None:
    """A node file's text, or None when it cannot be read (missing)."""
    result = run(c.node_cat(node, path), timeout=30)
    return result.stdout if result.rc == 0 else None


def crictl_info(run: Runner, node: str) -> str:
    return check(run, c.crictl_info(node), f"crictl info on {node}", timeout=30)


class DockerExecFiles:
    """cniqs.conflist.NodeFiles on a kind node, through `docker exec`."""

    def __init__(self, run: Runner, node: str) -> None:
        self.run = run
        self.node = node

    def list_dir(self, path: str) -> list[str]:
        return sorted(parse.lines(check(self.run, c.node_ls(self.node, path), f"list {path} on {self.node}")))

    def read_text(self, path: str) -> str:
        result = self.run(c.node_cat(self.node, path), input=None, timeout=120)
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
        what = f"write {path} on {self.node}"
        check(self.run, c.node_write_stdin(self.node, tmp), what, input=text)
        check(self.run, c.node_chmod(self.node, "0644", tmp), what)
        check(self.run, c.node_rename(self.node, tmp, path), what)

    def remove(self, path: str) -> None:
        check(self.run, c.node_rm(self.node, path), f"remove {path} on {self.node}")
