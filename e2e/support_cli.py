"""Running the `cniqs` console script as a user would, for the CLI tests of every backend."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cniqs.provider import Provider, RunOptions

TIMEOUT = 600  # the first `up` may build the plugin executable (kube: also Kubernetes, when not cached)


def cniqs_script() -> str | None:
    """The console script of this Python (a tox env's bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "cniqs"
    return str(beside) if beside.is_file() else shutil.which("cniqs")


@dataclass(frozen=True)
class Ran:
    argv: list[str]
    rc: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"$ {shlex.join(self.argv)}  (exit {self.rc})\n--- stdout\n{self.out}--- stderr\n{self.err}"


def run_cniqs(argv: list[str], state_dir: Path, backend: str = "local") -> Ran:
    """Run a cniqs command line as a user would (argv[0] is `cniqs`), with a private state dir; backend is
    what $CNIQS_BACKEND chooses when the command line does not."""
    assert argv[0] == "cniqs", argv
    env = {**os.environ, "CNIQS_STATE_DIR": str(state_dir), "CNIQS_BACKEND": backend, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [cniqs_script() or "cniqs", *argv[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except BaseException:
        # Timeout or Ctrl-C: SIGTERM first, which cniqs turns into its own teardown; SIGKILL only after.
        proc.terminate()
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        raise
    return Ran(argv, proc.returncode, out, err)


def require_cli(provider: Provider) -> None:
    """Skip with the reason when the provider cannot run here or the console script is missing; fail
    instead where CI=true (a skipped e2e test is never silent in CI)."""
    problems = provider.prerequisites(RunOptions())
    if cniqs_script() is None:
        problems.append("the `cniqs` console script is not installed (pip install -e .)")
    if problems:
        reason = f"{provider.name} backend cannot run here: " + "; ".join(problems)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
