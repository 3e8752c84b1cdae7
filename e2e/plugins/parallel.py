"""Pytest plugin: the e2e suite on pytest-xdist workers (`pytest -n 2`), each cluster's tests on one worker.

The tests of one provider variant (a Kubernetes version: the session `backend` fixture's cluster) are one
group, so each variant's cluster comes up once, as in a run without xdist. A module that brings clusters of
its own (OWN_CLUSTERS: `cniqs up` through the console script, the workshop's own `kind create`) is a group of
its own. Each group goes to one worker whole, in collection order (xdist's loadscope, grouped here: its
loadgroup no longer groups under pytest 9), the biggest first; so the modules with their own clusters run
beside the variant's tests instead of after them. Those modules start in the order OWN_CLUSTERS lists them,
the one with the fewest clusters first: on two cores, a worker that brings up two clusters at once while the
variant's cluster is being created slows that create (the session's critical path) more than it slows the
variant's tests later on. Within a group the load tests run last: they keep both cores busy on their own, so
they go where the other worker's clusters have most likely come and gone.

What a worker's plugins would print at the end (the per-version report, the provider notices) reaches the
controller in xdist's workeroutput, and the controller prints it (cniqs reports, e2e.plugins.versions_report).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from e2e.plugins.versions_report import Report, merged, received, show

# Modules whose tests make their clusters themselves (tests/kind/test_parallel.py checks that none of their
# tests asks for `backend`), in the order they start: the workshop's one cluster before test_cli_kind's pair.
OWN_CLUSTERS = ("e2e/test_workshop.py", "e2e/test_cli_kube.py", "e2e/test_cli_kind.py")
SESSION = "the session's cluster"  # the group of tests on a provider without variants (local)
_MINOR = re.compile(r"\d+\.\d+")


def group_of(nodeid: str) -> str:
    """The group a test runs in: its module for a module with its own clusters, else the variant (the
    Kubernetes minor that leads its parameter id, as the `backend` fixture's parametrization puts it)."""
    path, _, rest = nodeid.partition("::")
    if path in OWN_CLUSTERS:
        return path
    params = rest[rest.index("[") + 1 : -1] if rest.endswith("]") and "[" in rest else ""
    lead = params.split("-", 1)[0]
    return f"Kubernetes {lead}" if _MINOR.fullmatch(lead) else SESSION


def start_order(groups: list[str]) -> list[str]:
    """The groups in the order workers take them: the variants as given (biggest first), then the modules
    with clusters of their own in OWN_CLUSTERS's order."""
    return sorted(groups, key=lambda group: OWN_CLUSTERS.index(group) + 1 if group in OWN_CLUSTERS else 0)


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pragma: no cover - pytest-xdist is in the test extra; without it, no -n
    LoadScopeScheduling = None


if LoadScopeScheduling is not None:

    class ClusterScheduling(LoadScopeScheduling):  # type: ignore[misc, valid-type]
        """xdist's loadscope with group_of as the scope."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            # The next unit out is the first in start_order (the queue's order, once it is in that order).
            for group in start_order(list(self.workqueue)):
                self.workqueue.move_to_end(group)
            super()._assign_work_unit(node)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In each group, the load tests after the others; the groups keep their order, as every other test does
    (pytest orders a variant's tests together, so that each variant's cluster comes up once)."""
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(group_of(item.nodeid), index)
    items.sort(key=lambda item: (first[group_of(item.nodeid)], item.get_closest_marker("load") is not None))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Group by cluster, for xdist's default distribution (`-n N`) and the grouping ones; others as asked."""
    if LoadScopeScheduling is None or config.getvalue("dist") not in ("load", "loadscope", "loadgroup"):
        return None
    return ClusterScheduling(config, log)


class WorkerReports:
    """On the controller: the reports the workers sent, merged per section and shown at the end."""

    def __init__(self) -> None:
        self.reports: list[Report] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        self.reports += received(getattr(node, "workeroutput", None) or {})

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for report in merged(self.reports):
            show(terminalreporter, report)


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(WorkerReports(), "cniqs-worker-reports")
