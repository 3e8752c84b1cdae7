"""e2e.repeat: reading a run's JUnit XML and the summary of many runs (pure logic)."""

from __future__ import annotations

from pathlib import Path

from e2e.repeat import RunResult, read_junit, summary

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
<testcase classname="e2e.test_a" name="test_ok" time="1.0"/>
<testcase classname="e2e.test_a" name="test_skip" time="0"><skipped message="dual-stack"/></testcase>
<testcase classname="e2e.test_b" name="test_bad" time="2.0"><failure message="boom">trace</failure></testcase>
<testcase classname="e2e.test_b" name="test_err" time="0"><error message="fixture">trace</error></testcase>
</testsuite></testsuites>
"""


def test_read_junit_counts_each_outcome(tmp_path: Path) -> None:
    path = tmp_path / "run.xml"
    path.write_text(JUNIT)
    assert read_junit(path) == (1, 1, ["e2e.test_b::test_bad", "e2e.test_b::test_err"])


def test_summary_names_each_failing_test_with_its_runs() -> None:
    results = [
        RunResult(1, 0, 30.0, passed=3),
        RunResult(2, 1, 31.0, passed=2, failed=["e2e.t::test_x"]),
        RunResult(3, 1, 29.0, passed=2, failed=["e2e.t::test_x"]),
        RunResult(4, 2, 5.0),
    ]
    lines = summary(results)
    assert "runs: 4, failed: 3, seconds min/median/max: 5.0/30.0/31.0" in lines
    assert "FAILED 2/4: e2e.t::test_x (runs 2, 3)" in lines
    assert any(line.startswith("run 4 exited 2 without a failing test") for line in lines)


def test_a_clean_series_has_no_failed_line() -> None:
    lines = summary([RunResult(1, 0, 1.0, passed=5), RunResult(2, 0, 2.0, passed=5)])
    assert not [line for line in lines if line.startswith(("FAILED", "run "))]
