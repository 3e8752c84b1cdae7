"""Run an e2e tier N times in a row and print which tests failed in which runs.

    python -m e2e.repeat --times 20 -- --provider local -m "not load"
    tox -e repeat -- --times 20 -- --provider local -m "not load"

Every run is a whole `pytest e2e ...` session of its own (its own node or cluster, its own teardown),
so a flake that depends on the order or on what an earlier session left behind shows up too. Nothing
is retried: a run's result is what pytest said. Each run's JUnit XML and output stay in --out.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunResult:
    number: int
    rc: int
    seconds: float
    passed: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)  # test ids that failed or errored

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.failed


def read_junit(path: Path) -> tuple[int, int, list[str]]:
    """(passed, skipped, failed or errored test ids) of one pytest JUnit XML file."""
    root = ET.parse(path).getroot()  # noqa: S314 - pytest's own output, written by this run
    passed = skipped = 0
    failed: list[str] = []
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome = {child.tag for child in case}
        if outcome & {"failure", "error"}:
            failed.append(name)
        elif "skipped" in outcome:
            skipped += 1
        else:
            passed += 1
    return passed, skipped, failed


def summary(results: list[RunResult]) -> list[str]:
    """The lines printed at the end: one per run, then each failing test with the runs it failed in."""
    lines = [f"{'run':>4} {'rc':>3} {'seconds':>8} {'passed':>7} {'skipped':>8} {'failed':>7}"]
    for r in results:
        lines.append(f"{r.number:>4} {r.rc:>3} {r.seconds:>8.1f} {r.passed:>7} {r.skipped:>8} {len(r.failed):>7}")
    bad = [r for r in results if not r.ok]
    times = sorted(r.seconds for r in results)
    if times:
        lines.append(f"runs: {len(results)}, failed: {len(bad)}, seconds min/median/max: "
                     f"{times[0]:.1f}/{times[len(times) // 2]:.1f}/{times[-1]:.1f}")  # fmt: skip
    counts = Counter(test for r in results for test in r.failed)
    for test, n in counts.most_common():
        runs = ", ".join(str(r.number) for r in results if test in r.failed)
        lines.append(f"FAILED {n}/{len(results)}: {test} (runs {runs})")
    for r in bad:
        if not r.failed:
            lines.append(f"run {r.number} exited {r.rc} without a failing test in its JUnit XML (see its log)")
    return lines


def run_once(number: int, pytest_args: list[str], out: Path) -> RunResult:
    junit = out / f"run-{number:02d}.xml"
    log = out / f"run-{number:02d}.log"
    argv = [sys.executable, "-m", "pytest", "e2e", "-p", "no:cacheprovider", f"--junitxml={junit}", *pytest_args]
    start = time.monotonic()
    with log.open("w") as sink:
        rc = subprocess.run(argv, stdout=sink, stderr=subprocess.STDOUT, check=False).returncode
    result = RunResult(number, rc, time.monotonic() - start)
    if junit.exists():
        result.passed, result.skipped, result.failed = read_junit(junit)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.repeat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, default=20, help="how many sessions to run (default 20)")
    parser.add_argument("--out", default="artifacts/repeat", help="where each run's log and JUnit XML go")
    parser.add_argument("--stop-on-failure", action="store_true", help="stop after the first failing run")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: arguments for pytest e2e")
    args = parser.parse_args(argv)
    if args.times < 1:
        parser.error("--times must be at least 1")
    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    for number in range(1, args.times + 1):
        result = run_once(number, pytest_args, out)
        results.append(result)
        verdict = "ok" if result.ok else f"FAILED ({', '.join(result.failed) or f'rc {result.rc}'})"
        print(f"run {number}/{args.times}: {result.seconds:.1f} s, {result.passed} passed: {verdict}", flush=True)
        if args.stop_on_failure and not result.ok:
            break
    print("\n".join(summary(results)))
    print(f"logs and JUnit XML of every run: {out}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
