"""The end of every `... cleanup|down ROOT... [--stale]` command: find the roots a killed run left, tear each
root down, say how it went."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from cniqs.common import procs


class Owned(Protocol):
    """What a state file says about who owns its root."""

    owner_pid: int | None
    kept: bool


def stale_roots(state_files: Iterable[Path], load: Callable[[Path], Owned], include_kept: bool = False) -> list[Path]:
    """The roots (each state file's folder) whose owning process is gone: killed before it could tear down.
    Unreadable state files are passed over; kept roots count only with include_kept."""
    found = []
    for state_file in sorted(state_files):
        try:
            state = load(state_file)
        except (OSError, ValueError, TypeError):
            continue
        if state.owner_pid and procs.alive(state.owner_pid):
            continue
        if state.kept and not include_kept:
            continue
        found.append(state_file.parent)
    return found


def add_arguments(parser: argparse.ArgumentParser, *, roots: str, stale: str, kept: str) -> None:
    """ROOT... [--stale [--include-kept] [--parent DIR]], with the help of each in the command's own words."""
    parser.add_argument("roots", type=Path, nargs="*", help=roots)
    parser.add_argument("--stale", action="store_true", help=stale)
    parser.add_argument("--include-kept", action="store_true", help=kept)
    parser.add_argument("--parent", type=Path, default=Path(tempfile.gettempdir()), help="where --stale looks")


def chosen_roots(args: argparse.Namespace, stale: Callable[[Path, bool], list[Path]]) -> list[Path]:
    """The roots add_arguments' arguments name: those given, then with --stale those stale() finds."""
    return list(args.roots) + (stale(args.parent, args.include_kept) if args.stale else [])


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
