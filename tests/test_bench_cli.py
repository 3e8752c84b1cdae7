"""`python -m cniqs.bench --help` prints the list of benchmarks and runs none of them."""

from __future__ import annotations

import subprocess
import sys


def test_help_prints_the_benchmarks_and_runs_nothing() -> None:
    proc = subprocess.run([sys.executable, "-m", "cniqs.bench", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "pod-start" in proc.stdout and "kube" in proc.stdout
    assert "==" not in proc.stdout, "a benchmark ran"
