"""The tox benchmark reads tox's and pytest's closing lines, and runs the newcomer's tox, not its own venv's."""

from __future__ import annotations

import sys
from pathlib import Path

from cniqs.bench import tox as bench_tox

OUTPUT = """\
unit: commands[0]> pytest tests -n auto --dist worksteal
======================= 509 passed in 126.50s (0:02:06) ========================
kube: commands[0]> pytest e2e --provider kube -m 'not load'
====================== 37 skipped, 19 deselected in 2.69s ======================
  lint: OK (110.92=setup[76.03]+cmd[0.33,0.23,34.33] seconds)
  unit: OK (131.68=setup[3.16]+cmd[128.52] seconds)
  local: FAIL code 1 (94.79=setup[39.80]+cmd[55.00] seconds)
  arm64: SKIP (0.01 seconds)
  congratulations :) (775.35 seconds)
"""


def test_each_env_and_each_pytest_summary_is_read() -> None:
    envs, summaries = bench_tox.parse_tox_output(OUTPUT)
    assert envs == {
        "lint": ("OK", 110.92, 76.03),
        "unit": ("OK", 131.68, 3.16),
        "local": ("FAIL", 94.79, 39.80),
        "arm64": ("SKIP", 0.01, None),
    }
    assert summaries == ["509 passed", "37 skipped, 19 deselected"]


def test_the_report_names_the_command_and_the_load() -> None:
    envs, summaries = bench_tox.parse_tox_output(OUTPUT)
    step = bench_tox.Step("unit", ["tox", "-e", "unit"], 131.9, 0, "1.00 2.00 3.00", envs, summaries)
    lines = bench_tox.report(step)
    assert lines[0] == "unit: 131.9 s wall, exit 0 (load before: 1.00 2.00 3.00; tox -e unit)"
    assert "  unit         OK     131.7 s, of which setup 3.2 s" in lines
    assert lines[-1] == "  pytest: 37 skipped, 19 deselected"


def test_the_newcomer_env_leaves_out_this_venv_and_tox(monkeypatch) -> None:
    venv = str(Path(sys.executable).parents[1])
    monkeypatch.setenv("PATH", f"{venv}/bin:/usr/bin")
    monkeypatch.setenv("TOX_ENV_NAME", "unit")
    monkeypatch.setenv("VIRTUAL_ENV", venv)
    env = bench_tox.newcomer_env()
    assert env["PATH"] == "/usr/bin"
    assert "TOX_ENV_NAME" not in env and "VIRTUAL_ENV" not in env
