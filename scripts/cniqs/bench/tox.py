"""What `tox` costs on a fresh clone: creating its environments, and the unit run.

    python -m cniqs.bench.tox [--ref REV] [--full] [--keep]

Clones this checkout (its committed HEAD, or --ref REV: an earlier commit, to compare) into a temp dir and
runs there, as a newcomer would (this venv and the running tox's variables left out of the environment):
`tox --notest` (the default envlist's environments created, tox-uv installed first if this tox lacks it) and
`tox -e unit`, each timed, with the load average before each. --full then runs the whole `tox` in a second
fresh clone (every tier; the local ones need root). Target (issue 21): the whole `tox` on a fresh clone in at
most 5 minutes. The tox on PATH outside this venv runs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cniqs.resources import checkout

FULL_TARGET_S = 300.0
# tox's closing lines: "  unit: OK (131.68=setup[3.16]+cmd[128.52] seconds)"
# or "  local: FAIL code 1 (94.79=setup[39.80]+cmd[55.00] seconds)"
ENV_LINE = re.compile(
    r"^\s+(?P<env>[\w.-]+): (?P<result>OK|FAIL|SKIP)(?: code -?\d+)? "
    r"\((?P<total>[\d.]+)(?:=setup\[(?P<setup>[\d.]+)\])?"
)
PYTEST_LINE = re.compile(r"=+ (?P<summary>.*\b(passed|failed|skipped|error)\b.*) in [\d.]+s")


@dataclass
class Step:
    label: str
    argv: list[str]
    wall: float
    code: int
    load: str
    envs: dict[str, tuple[str, float, float | None]]  # env -> (result, total seconds, setup seconds)
    summaries: list[str]  # pytest's closing line per pytest session, in order


def newcomer_env() -> dict[str, str]:
    """This environment without the running venv or tox: PATH without its bin, no TOX_*/VIRTUAL_ENV/PYTHON*."""
    venv = os.environ.get("VIRTUAL_ENV") or str(Path(sys.executable).parents[1])
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not p.startswith(venv)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOX_", "VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = os.pathsep.join(path)
    return env


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def parse_tox_output(text: str) -> tuple[dict[str, tuple[str, float, float | None]], list[str]]:
    """(each env's result, total and setup seconds from tox's closing lines; pytest's closing lines)."""
    envs: dict[str, tuple[str, float, float | None]] = {}
    summaries = []
    for line in text.splitlines():
        found = ENV_LINE.match(line)
        if found:
            setup = found["setup"]
            envs[found["env"]] = (found["result"], float(found["total"]), float(setup) if setup else None)
        summary = PYTEST_LINE.search(line)
        if summary:
            summaries.append(summary["summary"])
    return envs, summaries


def run_step(label: str, argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> Step:
    load = load_average()
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - started
    envs, summaries = parse_tox_output(log.read_text(errors="replace"))
    return Step(label, argv, wall, proc.returncode, load, envs, summaries)


def report(step: Step) -> list[str]:
    command = " ".join(step.argv)
    lines = [f"{step.label}: {step.wall:.1f} s wall, exit {step.code} (load before: {step.load}; {command})"]
    for name, (result, total, setup) in step.envs.items():
        setup_text = f", of which setup {setup:.1f} s" if setup is not None else ""
        lines.append(f"  {name:<12} {result:<4} {total:7.1f} s{setup_text}")
    lines += [f"  pytest: {summary}" for summary in step.summaries]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", default="HEAD", help="the commit to clone and time (default HEAD)")
    parser.add_argument("--full", action="store_true", help="also time the whole `tox` (every default tier)")
    parser.add_argument("--keep", action="store_true", help="keep the clone and its logs (printed)")
    args = parser.parse_args(argv)

    repo = checkout()
    env = newcomer_env()
    tox, git = shutil.which("tox", path=env["PATH"]), shutil.which("git", path=env["PATH"])
    if repo is None or tox is None or git is None:
        print("the tox benchmark needs a source checkout, and tox and git on PATH", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="cniqs-bench-tox-"))
    steps = [("environments", [tox, "--notest"], "clone"), ("unit", [tox, "-e", "unit"], "clone")]
    if args.full:
        steps.append(("full", [tox], "clone-full"))
    code = 0
    try:
        for label, command, folder in steps:
            clone = work / folder
            if not clone.exists():
                subprocess.run([git, "clone", "-q", str(repo), str(clone)], check=True)
                subprocess.run([git, "-C", str(clone), "checkout", "-q", "--detach", args.ref], check=True)
                ref = subprocess.run([git, "-C", str(clone), "log", "-1", "--format=%h %s"],
                                     capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
                print(f"fresh clone {clone} at {ref}", flush=True)
            step = run_step(label, command, clone, env, work / f"{label}.log")
            for line in report(step):
                print(line, flush=True)
            if label == "full":
                verdict = "ok" if step.wall <= FULL_TARGET_S and step.code == 0 else "NOT OK"
                print(f"  target at most {FULL_TARGET_S:.0f} s and passing: {verdict}")
            code |= step.code
    finally:
        if args.keep:
            print(f"clone and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
