"""Commands into kind nodes through a shell kept open on each node, not a `docker exec` per command.

Every `docker exec` (or `podman exec`) costs 0.1-0.3 s of CPU and as much wall time, far more than the node
commands it runs, and a kind session runs hundreds of them. ShellRunner is a Runner: a command for a node (an
argv that ContainerAccess.exec_argv built) goes to a shell the runner keeps open on that node
(`docker exec -i NODE sh`); every other command goes to the runner it wraps. The answer is the Completed a
separate exec gives: the command's exit code, its stdout and its stderr, apart.

Per command the shell is sent one line (two with input: the input, base64, follows as a here-document):

    (K=V CMD ARGS...) >OUT 2>ERR </dev/null; r=$?; printf ...   (a header: mark, exit code, sizes of OUT, ERR)

and answers with the header and the two files, which Python reads by their sizes. OUT and ERR are files of
this shell's own under the node's /tmp, removed when it closes. A shell that does not answer in time is killed
(the command's rc is 124, as run_process gives); one that is gone is replaced by a new one for the next command.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import selectors
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence

from cniqs.common.run import Completed, Runner
from cniqs.providers.cluster.commands import boundary
from cniqs.providers.kind.commands import ContainerAccess

_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ShellLost(RuntimeError):
    """The shell ended, or did not answer in time (timed_out)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def command_line(argv: Sequence[str], env: Mapping[str, str], out: str, err: str, mark: str, here: str) -> str:
    """What the shell is sent for one command (here: the here-document's end word; empty: no input)."""
    for key in env:
        if not _ENV_KEY.fullmatch(key):
            raise ValueError(f"not an environment variable name: {key!r}")
    assigned = "".join(f"{key}={shlex.quote(value)} " for key, value in env.items())
    # In a subshell: a command that is a shell builtin (cd, exit, exec ...) cannot change the kept shell.
    command = f"({assigned}{shlex.join(argv)}) >{out} 2>{err}"
    run = f"base64 -d <<'{here}' | {command}" if here else f"{command} </dev/null"
    header = f'printf "{mark} %d %d %d\\n" "$r" "$(wc -c <{out})" "$(wc -c <{err})"'
    return f"{run}; r=$?; {header}; cat {out} {err}\n"


def parse_header(line: bytes, mark: str) -> tuple[int, int, int]:
    """(exit code, stdout size, stderr size) from the header line a command's answer starts with."""
    words = line.decode("ascii", "replace").split()
    if len(words) != 4 or words[0] != mark or not all(w.isdigit() for w in words[1:]):
        raise ShellLost(f"the node shell answered {line[:200]!r}, not a header")
    return int(words[1]), int(words[2]), int(words[3])


class NodeShell:
    """One `docker exec -i NODE sh` and its two files; one command at a time."""

    def __init__(self, open_argv: Sequence[str]) -> None:
        self.tag = secrets.token_hex(8)
        self.out, self.err = f"/tmp/.cniqs-shell-{self.tag}.out", f"/tmp/.cniqs-shell-{self.tag}.err"
        # A session of its own, so kill() ends what it started on this machine; it ends with this process too,
        # at the end of its stdin.
        self.errors = tempfile.TemporaryFile()  # what docker exec itself says (a node that is gone ...)
        self.proc = subprocess.Popen(
            list(open_argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            start_new_session=True,
        )
        self.buffer = b""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def said(self) -> str:
        """The last lines docker exec (or the shell itself) wrote to its own stderr."""
        self.errors.seek(0)
        return " | ".join(self.errors.read().decode(errors="replace").strip().splitlines()[-3:])

    def run(
        self, argv: Sequence[str], env: Mapping[str, str], data: str | None, timeout: float | None
    ) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of argv run in this shell, with data on its stdin (None: no stdin);
        timeout None waits as long as the command runs, as run_process does."""
        mark = boundary()
        here = f"CNIQS_INPUT_{secrets.token_hex(8)}" if data is not None else ""
        script = command_line(argv, env, self.out, self.err, mark, here)
        if data is not None:
            script += base64.encodebytes(data.encode()).decode("ascii") + f"{here}\n"
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(script.encode())
            self.proc.stdin.flush()
        except OSError as exc:
            self.proc.wait()
            raise ShellLost(f"the node shell is gone ({exc}): {self.said()}") from None
        rc, out_size, err_size = parse_header(self._read_line(deadline), mark)
        body = self._read_exact(out_size + err_size, deadline)
        return rc, body[:out_size].decode(errors="replace"), body[out_size:].decode(errors="replace")

    def _fill(self, deadline: float | None) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        if deadline is not None:
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ShellLost("the node shell did not answer in time", timed_out=True)
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            said = self.said()
            raise ShellLost(f"the node shell ended (exit {self.proc.wait()})" + (f": {said}" if said else ""))
        self.buffer += chunk

    def _read_line(self, deadline: float | None) -> bytes:
        while b"\n" not in self.buffer:
            self._fill(deadline)
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def _read_exact(self, size: int, deadline: float | None) -> bytes:
        while len(self.buffer) < size:
            self._fill(deadline)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def kill(self) -> None:
        """End it now, in the middle of a command too (its files stay: ShellRunner.close removes them)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.close()

    def close(self) -> None:
        """Remove its files and end it (killed when it does not end at once)."""
        if self.alive():
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(f"rm -f {self.out} {self.err}; exit 0\n".encode())
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.errors):
            if stream is not None and not stream.closed:
                with contextlib.suppress(OSError):  # stdin's unsent bytes, to a shell that is gone
                    stream.close()


class ShellRunner:
    """A Runner whose commands for a node go to a shell kept open there (see the module's doc); close() ends
    every shell. A command that finds its node's shells busy gets a shell of its own, kept for later ones."""

    def __init__(self, run: Runner, access: ContainerAccess) -> None:
        self.run = run
        self.access = access
        self._idle: dict[str, list[NodeShell]] = {}
        self._all: list[NodeShell] = []
        self._left: dict[str, list[str]] = {}  # node -> files of its dropped shells
        self._lock = threading.Lock()
        self._closed = False

    def __call__(self, argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        parsed = self.access.parse_exec(argv)
        if parsed is None or self._closed:
            return self.run(argv, input=input, timeout=timeout)
        node, command, env, stdin = parsed
        sys.audit("cniqs.node_shell", list(argv))  # what `cniqs -v` echoes, as for a process of its own
        shell = self._take(node)
        try:
            rc, out, err = shell.run(command, env, input if stdin else None, timeout)
        except ShellLost as exc:
            self._drop(node, shell)
            if exc.timed_out:
                return Completed(list(argv), 124, "", f"timed out after {timeout:g} s")
            return Completed(list(argv), 125, "", f"{exc} (node {node})")
        with self._lock:
            self._idle.setdefault(node, []).append(shell)
        return Completed(list(argv), rc, out, err)

    def _take(self, node: str) -> NodeShell:
        with self._lock:
            idle = self._idle.setdefault(node, [])
            while idle:
                shell = idle.pop()
                if shell.alive():
                    return shell
                self._all.remove(shell)
                shell.close()
            shell = NodeShell(self.access.exec_argv(node, ["sh"], stdin=True))
            self._all.append(shell)
            return shell

    def _drop(self, node: str, shell: NodeShell) -> None:
        """A shell that ended or ran out of time: killed, its files left for close() to remove."""
        with self._lock:
            if shell in self._all:
                self._all.remove(shell)
            self._left.setdefault(node, []).extend((shell.out, shell.err))
        shell.kill()

    def close(self) -> None:
        """Remove the files of shells that were dropped, then end every shell; commands after this go to the
        wrapped runner, one exec each."""
        with self._lock:
            left, self._left = self._left, {}
        for node, files in left.items():  # a node that is gone answers with an error: nothing is left there
            self(self.access.exec_argv(node, ["rm", "-f", "--", *files]), timeout=30)
        with self._lock:
            self._closed = True
            shells, self._all, self._idle = self._all, [], {}
        for shell in shells:
            shell.close()
