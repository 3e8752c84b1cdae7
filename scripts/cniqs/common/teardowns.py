"""The end of every `... cleanup|down ROOT... [--stale]` command: tear each root down, say how it went."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def report(roots: Sequence[Path], teardown: Callable[[Path], list[str]], label: str) -> int:
    """Tear down every root, printing each problem and a verdict per root; exit code 1 if any had problems."""
    failed = False
    for root in roots:
        problems = teardown(root)
        for problem in problems:
            print(f"{label} {root}: {problem}", file=sys.stderr)
        print(f"{label} {root}: {'done' if not problems else 'finished with problems'}", file=sys.stderr)
        failed = failed or bool(problems)
    if not roots:
        print(f"{label}: nothing to tear down", file=sys.stderr)
    return 1 if failed else 0
