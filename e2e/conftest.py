"""The e2e suite: `pytest e2e --provider local|kube|kind` (see e2e/plugins for the options and the fixture)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

pytest_plugins = [
    "e2e.plugins.providers",  # --provider, the providers' options, the `backend` fixture
    "e2e.plugins.parallel",  # with -n: each cluster's tests on one worker, the workers' reports at the end
    "e2e.support_local",  # the local-only `node` fixture
]
# marker -> the providers its tests run on; elsewhere they are deselected
ONLY = {"kind_only": {"kind"}, "local_only": {"local"}, "kube_only": {"kube"}, "cluster_only": {"kind", "kube"}}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Provider-only checks are deselected on other providers: a skip would read as a missing prerequisite."""
    provider = config.getoption("--provider")

    def runs_here(item: pytest.Item) -> bool:
        return all(item.get_closest_marker(marker) is None for marker, names in ONLY.items() if provider not in names)

    kept = [item for item in items if runs_here(item)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """A failing test's report ends with the backend's diagnostics (runtime and plugin log tails)."""
    report = yield
    backend = getattr(item, "funcargs", {}).get("backend")
    if report.failed and backend is not None:
        try:
            text = backend.diagnostics()
        except Exception as exc:  # noqa: BLE001 - the original failure matters more
            text = f"diagnostics unavailable: {exc}"
        report.sections.append(("backend diagnostics", text))
    return report
