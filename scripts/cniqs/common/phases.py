"""Where a session's wall time goes: named phases, each the time since the previous mark.

A provider marks the end of each phase of a session (create, configure, wait, tests, teardown) and reports
one line at its end; the suite's summary prints it, so every run profiles itself and `python -m cniqs.bench`
can read the figures off a run.
"""

from __future__ import annotations

import time
from collections.abc import Callable

PREFIX = "session phases (s):"


class Phases:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._start = self._last = clock()
        self.seconds: dict[str, float] = {}

    def mark(self, name: str) -> None:
        """The phase `name` ended now (a name marked again adds to its time)."""
        now = self._clock()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now

    def line(self) -> str:
        parts = [f"{name} {seconds:.0f}" for name, seconds in self.seconds.items()]
        return f"{PREFIX} {', '.join(parts)}; total {self._last - self._start:.0f}"


def parse(line: str) -> dict[str, float]:
    """The phases of a line() (as a run's summary prints it), total included."""
    text = line.strip()
    if not text.startswith(PREFIX):
        raise ValueError(f"not a phases line: {line!r}")
    body, _, total = text.removeprefix(PREFIX).rpartition("; total ")
    found: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        name, _, seconds = part.rpartition(" ")
        found[name] = float(seconds)
    found["total"] = float(total)
    return found
