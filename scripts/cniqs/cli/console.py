"""What `cniqs` prints while it works: steps with elapsed time, and (verbose) every command it runs.

Progress goes to stderr, results to stdout. On a terminal a running step ticks its elapsed time;
elsewhere (CI, pipes) each step prints one line when it starts and one when it ends.
Verbose mode prints every process any part of cniqs starts (kind, docker, kubectl, ctr, ip, ...),
found through Python's audit hook for subprocess.Popen, so nothing is missed.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_echo_to: list[Console] = []
_hook_installed = False


def command_line(args: Any) -> str:
    """An argv (str, bytes or path-like items, or a shell string) as a copy-pasteable line."""
    if isinstance(args, (str, bytes, os.PathLike)):
        return os.fsdecode(args)
    return shlex.join(os.fsdecode(a) if isinstance(a, (bytes, os.PathLike)) else str(a) for a in args)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "subprocess.Popen" and _echo_to:
        _echo_to[-1].command(command_line(args[1]))
    elif event == "cniqs.node_shell" and _echo_to:  # a node command through a kept shell, named as its exec
        _echo_to[-1].command(command_line(args[0]))


def elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


class Console:
    def __init__(self, verbose: bool = False, err: TextIO | None = None, out: TextIO | None = None) -> None:
        self.verbose = verbose
        self.err = err or sys.stderr
        self.out = out or sys.stdout
        self.tty = bool(getattr(self.err, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"
        self._lock = threading.Lock()
        self._live = False  # a ticking step line is on screen
        if verbose:
            global _hook_installed
            if not _hook_installed:
                sys.addaudithook(_audit)
                _hook_installed = True
            _echo_to.append(self)

    def close(self) -> None:
        if self in _echo_to:
            _echo_to.remove(self)

    def _write_err(self, text: str) -> None:
        with self._lock:
            if self._live:
                self.err.write("\n")
                self._live = False
            self.err.write(text + "\n")
            self.err.flush()

    def command(self, line: str) -> None:
        self._write_err(f"    $ {line}")

    def note(self, text: str) -> None:
        self._write_err(text)

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def error(self, text: str) -> None:
        self._write_err(f"cniqs: error: {text}")

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        """`==> what` ... `done (1.2 s)`; on failure `failed after 1.2 s`."""
        start = time.monotonic()
        ticking = self.tty and not self.verbose
        stop = threading.Event()
        ticker: threading.Thread | None = None
        if ticking:
            with self._lock:
                self.err.write(f"==> {what} ...")
                self.err.flush()
                self._live = True

            def tick() -> None:
                while not stop.wait(0.5):
                    with self._lock:
                        if self._live:
                            self.err.write(f"\r==> {what} ... {elapsed(time.monotonic() - start)}\x1b[K")
                            self.err.flush()

            ticker = threading.Thread(target=tick, daemon=True)
            ticker.start()
        else:
            self._write_err(f"==> {what} ...")
        ok = False
        try:
            yield
            ok = True
        finally:
            stop.set()
            if ticker is not None:
                ticker.join()
            took = elapsed(time.monotonic() - start)
            end = f"done ({took})" if ok else f"failed after {took}"
            with self._lock:
                if self._live:
                    self.err.write(f"\r==> {what} ... {end}\x1b[K\n")
                    self._live = False
                else:
                    self.err.write(f"    {end}\n")
                self.err.flush()
