"""Running the node's tools: one place that turns a failed command into a readable error."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence


class CommandError(RuntimeError):
    pass


def run(argv: Sequence[str], *, timeout: float = 30, check: bool = True, input: str | None = None) -> str:
    """Run argv, return stdout; on failure raise CommandError naming the command and its stderr."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        raise CommandError(f"{' '.join(argv)}: no answer within {timeout:g} s") from None
    except FileNotFoundError:
        raise CommandError(f"{argv[0]}: not found") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise CommandError(f"{' '.join(argv)}: exit {proc.returncode}: {detail}")
    return proc.stdout


def in_netns(netns: str, argv: Sequence[str]) -> list[str]:
    """argv run inside a named network namespace with nsenter (not `ip netns exec`, which remounts /sys)."""
    return ["nsenter", f"--net=/run/netns/{netns}", *argv]
