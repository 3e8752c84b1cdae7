"""A kind session split by phase: `python -m cniqs.bench kind [-- PYTEST ARGS]`.

Runs the kind suite as `tox -e e2e` does (`pytest e2e --provider kind -n 2`, on the engine and image source the
environment names:
KIND_EXPERIMENTAL_PROVIDER, CNIQS_REGISTRY_MIRROR) and prints, per Kubernetes version, where the session's
wall time went: pull, kind create, configure, nodes ready, tests, teardown (the provider's own marks, which
every kind run prints in its summary), and the suite's wall time.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from cniqs.common import phases

ROOT = Path(__file__).resolve().parents[3]


def phase_lines(output: str) -> list[dict[str, float]]:
    """Every phases line a run's summary printed, in order."""
    found = []
    for line in output.splitlines():
        text = line.strip()
        if text.startswith(phases.PREFIX):
            found.append(phases.parse(text))
    return found


def table(runs: list[dict[str, float]]) -> list[str]:
    names = list(dict.fromkeys(name for run in runs for name in run))
    out = [f"  {'phase':<14}" + "".join(f"{f'session {i + 1}':>12}" for i in range(len(runs)))]
    for name in names:
        out.append(f"  {name:<14}" + "".join(f"{run.get(name, float('nan')):>11.0f}s" for run in runs))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    command = [sys.executable, "-m", "pytest", "e2e", "--provider", "kind", "-n", "2", "-q", "-p", "no:cacheprovider"]
    command += argv
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    runs = phase_lines(proc.stdout)
    print(f"kind suite: `{' '.join(command[2:])}` exited {proc.returncode} after {wall:.0f} s")
    if not runs:
        print("  no session phases printed (the suite did not open a cluster); its output ends:")
        print("\n".join(f"  {line}" for line in (proc.stdout + proc.stderr).splitlines()[-15:]))
        return 1
    print("\n".join(table(runs)))
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
