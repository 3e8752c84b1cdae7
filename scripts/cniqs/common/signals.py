"""Signal handling in one place: the handlers every long-running step installs, and their restoring.

with interrupt_on_termination():   # SIGTERM, SIGHUP unwind like Ctrl-C: whatever was started is torn down
with deferred(note):               # teardown: a second Ctrl-C or a SIGTERM is noted and ignored
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import FrameType

TERMINATION = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def signals_handled(signums: Sequence[int], handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Handle signums with handler inside the block, then restore the handlers there were (main thread only:
    Python delivers signals there, and only there can handlers be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, handler) for sig in signums}
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def interrupt_on_termination() -> AbstractContextManager[None]:
    """A SIGTERM or SIGHUP (a closed terminal) unwinds like Ctrl-C, so what was started is torn down."""
    return signals_handled(TERMINATION, _interrupt)


def deferred(note: str) -> AbstractContextManager[None]:
    """Ctrl-C and SIGTERM are noted on stderr and ignored inside the block (a teardown that must finish)."""

    def noted(_signum: int, _frame: FrameType | None) -> None:
        os.write(2, f"\n{note}\n".encode())

    return signals_handled((signal.SIGINT, signal.SIGTERM), noted)
