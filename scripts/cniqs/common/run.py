"""Running commands: one runner, one CommandError, for every provider.

`run_process` is the runner: it never raises on a non-zero exit (callers decide), a timeout is rc 124
and a missing program rc 127. `check` runs through any Runner (a fake in tests) and raises
CommandError on failure; `run` is `check` on the real runner, for code that only wants stdout.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    rc: int
    stdout: str
    stderr: str


class CommandError(RuntimeError):
    """A command failed; the message names the command, its exit code and the end of its stderr."""

    def __init__(self, result: Completed, what: str = "") -> None:
        self.result = result
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-5:]) or "(no stderr)"
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
        return Completed(list(argv), 124, out, f"timed out after {timeout:g} s")
    except FileNotFoundError as exc:
        return Completed(list(argv), 127, "", f"{argv[0]}: {exc.strerror}")
    return Completed(list(argv), proc.returncode, proc.stdout, proc.stderr)


def check(run: Runner, argv: Sequence[str], what: str = "", *, input: str | None = None, timeout: float = 120) -> str:
    """Run, raise CommandError on a non-zero exit, return stdout."""
    result = run(argv, input=input, timeout=timeout)
    if result.rc != 0:
        raise CommandError(result, what)
    return result.stdout


def run(argv: Sequence[str], *, timeout: float = 30, input: str | None = None) -> str:
    """Run argv on this machine, return stdout; CommandError naming the command and its stderr on failure."""
    return check(run_process, argv, input=input, timeout=timeout)


def in_netns(netns: str, argv: Sequence[str]) -> list[str]:
    """argv run inside a named network namespace with nsenter (not `ip netns exec`, which remounts /sys)."""
    return ["nsenter", f"--net=/run/netns/{netns}", *argv]
