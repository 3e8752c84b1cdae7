"""cniqs.providers.cluster.nodes.on_each: every node's step at once, results and failures in the nodes' order."""

from __future__ import annotations

import threading

import pytest

from cniqs.providers.cluster.nodes import on_each


def test_every_node_runs_at_once_and_results_keep_the_nodes_order() -> None:
    names = ["b-worker", "a-control-plane", "c-worker2"]
    barrier = threading.Barrier(len(names), timeout=5)  # breaks (and fails the test) unless all run at once

    def step(node: str) -> str:
        barrier.wait()
        return node.upper()

    assert list(on_each(names, step).items()) == [(n, n.upper()) for n in names]


def test_every_step_runs_to_its_end_and_the_first_failure_in_order_is_raised() -> None:
    done: list[str] = []

    def step(node: str) -> None:
        done.append(node)
        if node != "ok":
            raise RuntimeError(f"{node} failed")

    with pytest.raises(RuntimeError, match="^first failed$"):
        on_each(["ok", "first", "second"], step)
    assert sorted(done) == ["first", "ok", "second"]


def test_one_node_runs_in_the_callers_thread() -> None:
    assert on_each(["only"], lambda node: threading.current_thread() is threading.main_thread()) == {"only": True}
