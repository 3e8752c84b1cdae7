"""The scale benchmark's pure parts: argument parsing, percentiles, the table."""

from __future__ import annotations

import argparse

import pytest

from cniqs.bench.scale import CHAINS, Run, sizes_arg, table


def test_sizes_are_a_comma_separated_list_of_positive_counts() -> None:
    assert sizes_arg("10,50,100") == (10, 50, 100)
    assert sizes_arg("7") == (7,)
    for bad in ("", "a,b", "0", "10,-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            sizes_arg(bad)


def test_median_and_p90() -> None:
    run = Run(10, "sequential", CHAINS[0], [n / 100 for n in range(1, 11)], 1.0)
    assert run.median == pytest.approx(0.055)
    assert run.p90 == pytest.approx(0.091)
    assert Run(1, "parallel", CHAINS[0], [0.2], 0.2).p90 == 0.2


def test_table_gives_the_plugin_share_against_the_same_size_and_mode() -> None:
    runs = [
        Run(10, "sequential", CHAINS[0], [0.100] * 10, 1.0),
        Run(10, "sequential", CHAINS[1], [0.125] * 10, 1.3),
        Run(10, "parallel", CHAINS[0], [0.200] * 10, 0.5),
        Run(10, "parallel", CHAINS[1], [0.250] * 10, 0.6),
    ]
    lines = table(runs, 0)
    rows = [line for line in lines if line.lstrip().startswith("10 ")]
    assert len(rows) == 4
    assert rows[0].rstrip().endswith("1.00 s") and "%" not in rows[0]
    assert "+20% (+25.0 ms)" in rows[1] and "+20% (+50.0 ms)" in rows[3]
    assert "all N at once" in lines[0]
