"""cniqs.common.phases: a session's wall time by phase, and the line the summary prints read back."""

from __future__ import annotations

import itertools

import pytest

from cniqs.common import phases


def test_each_phase_is_the_time_since_the_previous_mark_and_a_repeated_name_adds_up() -> None:
    ticks = itertools.chain([100.0, 112.0, 152.5, 160.0, 161.0])
    clock = phases.Phases(lambda: next(ticks))
    for name in ("pull", "kind create", "tests", "pull"):
        clock.mark(name)
    assert clock.seconds == {"pull": 13.0, "kind create": 40.5, "tests": 7.5}
    line = clock.line()
    assert line == "session phases (s): pull 13, kind create 40, tests 8; total 61"
    assert phases.parse(line) == {"pull": 13.0, "kind create": 40.0, "tests": 8.0, "total": 61.0}


def test_parse_reads_names_of_several_words_and_rejects_other_lines() -> None:
    assert phases.parse("session phases (s): mirror 3, nodes ready 20; total 23") == {
        "mirror": 3.0, "nodes ready": 20.0, "total": 23.0,
    }  # fmt: skip
    with pytest.raises(ValueError):
        phases.parse("Kubernetes 1.37: ok")


def test_the_kind_bench_reads_each_sessions_phases_off_the_suites_summary() -> None:
    from cniqs.bench import kind

    output = (
        "....s....\nKubernetes 1.37: ok: 37 passed, 1 skipped [198.18.77.2:5000/kindest/node:v1.37.0]\n"
        "    cluster: cniqs-1-37-abc123\n"
        "    session phases (s): pull 2, kind create 61, configure 4, nodes ready 9, tests 140, teardown 12; "
        "total 228\n"
    )
    runs = kind.phase_lines(output)
    assert runs == [{"pull": 2, "kind create": 61, "configure": 4, "nodes ready": 9, "tests": 140, "teardown": 12,
                     "total": 228}]  # fmt: skip
    assert kind.table(runs)[2] == "  kind create            61s"
