"""Starting the cluster's long-running processes (each in its own session, logging to a file), and telling a
wait that one of them has died."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from cniqs.common.waits import Fatal
from cniqs.providers.local import containerd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )


def alive_or_fatal(proc: subprocess.Popen[bytes], what: str, log: Path) -> bool:
    if proc.poll() is not None:
        raise Fatal(f"{what} exited with {proc.returncode}:\n{containerd.log_tail(log, 25)}")
    return True
